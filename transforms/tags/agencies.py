"""The wire service behind a story, normalised to one code (TASS, Reuters, AP, AFP, ...).

A story names many agencies in passing ("BelTA news agency quoted Lukashenko"); only a *credit*
says who wrote it. So an agency is taken, in order of trust, from: the raw agency the extraction
stage read (``Story.agency``: "TASS", "REUTERS", "Associated Press"), a credit in the head of the
text ("WASHINGTON (Reuters) -", "MINSK, November 7. /TASS/.", "BEIJING -- (Xinhua)"), the
byline ("Associated Press", "Reuters Staff", "Jane Doe, AFP"), the agency's own site (a story on
tass.com is TASS copy), and a credit at the tail ("... he said. REUTERS", "© Reuters",
"(Reporting by ...; Editing by ...)"). Credit forms are
punctuation-bound (parentheses, slashes, dashes, copyright sign, line or sentence edges), which
is what separates a credit from a mention.

The list lives in ``data/agencies.yaml`` (format documented there); ``--agencies FILE`` (local
or ``gs://``) adds or replaces entries.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

HEAD_CHARS = 300
TAIL_CHARS = 400
SHORT_ALIAS = 3  # aliases this short ("AP", "AFP") only count inside credit punctuation
TINY_ALIAS = 2  # two-letter aliases ("AP", "PA") need the dateline form "(AP) -" in the head


@dataclass(frozen=True)
class Agency:
    code: str
    aliases: tuple[str, ...]
    signatures: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


def _read_text(path: str) -> str:
    """Read a local or remote (gs://) file through Beam's filesystems."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as handle:
        return handle.read().decode("utf-8")


def parse_agencies(document: dict[str, Any]) -> list[Agency]:
    agencies = []
    for item in document.get("agencies") or []:
        code = str(item["code"]).strip()
        aliases = tuple(str(a).strip() for a in item.get("aliases") or [] if str(a).strip())
        if not code:
            raise ValueError("agency entry without a code")
        signatures = tuple(str(s) for s in item.get("signatures") or [])
        domains = tuple(
            str(d).strip().lower().removeprefix("www.") for d in item.get("domains") or []
        )
        agencies.append(Agency(code, aliases or (code,), signatures, domains))
    return agencies


def load_agencies(user_path: str | None = None) -> list[Agency]:
    """Bundled agencies, extended (or replaced, with ``replace: true``) by a user file."""
    from transforms.core.rulefiles import AGENCIES_SCHEMA, load_yaml, validate

    bundled = resources.files("transforms").joinpath("data/agencies.yaml").read_text("utf-8")
    agencies = parse_agencies(load_yaml(bundled, "agencies (bundled)"))
    if user_path:
        location = f"agencies {user_path}"
        document = load_yaml(_read_text(user_path), location) or {}
        validate(document, AGENCIES_SCHEMA, location)  # every problem at once
        extra = parse_agencies(document)
        if document.get("replace"):
            agencies = []
        codes = {agency.code for agency in extra}
        agencies = [a for a in agencies if a.code not in codes] + extra
    return agencies


def _fold(text: str) -> str:
    """Key for alias lookups: case-, accent- and punctuation-insensitive."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


class AgencyMatcher:
    """Compiled credit patterns for a list of agencies; build once per worker."""

    def __init__(self, agencies: list[Agency]) -> None:
        self.agencies = agencies
        self._by_alias: dict[str, str] = {}
        variants: dict[str, str] = {}
        long_variants: dict[str, str] = {}
        for agency in agencies:
            for alias in (agency.code, *agency.aliases):
                self._by_alias.setdefault(_fold(alias), agency.code)
                forms = {alias, alias.upper()}
                for form in forms:
                    variants.setdefault(form, agency.code)
                    if len(alias) > SHORT_ALIAS:
                        long_variants.setdefault(form, agency.code)
        self._variants = variants

        def alternation_of(forms: Iterable[str]) -> str:
            return "|".join(re.escape(v) for v in sorted(forms, key=lambda v: (-len(v), v)))

        alternation = alternation_of(variants)
        long_alt = alternation_of(long_variants)
        tiny_alt = alternation_of(v for v in variants if len(v) <= TINY_ALIAS)
        other_alt = alternation_of(v for v in variants if len(v) > TINY_ALIAS)
        flags = 0
        # Bracketed credits in the head: "(Reuters)", "/TASS/", "[AFP]"; two-letter ones ("(AP)",
        # "(PA)") only in the dateline form with a dash after, since "(PA)" is also a US state.
        self._bracketed = re.compile(
            rf"(?:\(|\[|/)\s*(?:(?P<a>{other_alt})\s*(?:\)|\]|/)(?!\w)"
            rf"|(?P<t>{tiny_alt})\s*(?:\)|\]|/)\s*[-–—:])",
            flags,
        )
        # Dash credits at the very start or after a dateline: "AFP -", "— dpa".
        self._head_dash = re.compile(
            rf"(?:^|[\n.,]\s*|\s[-–—]{{1,2}}\s*)(?P<a>{alternation})\s*[-–—:]{{1,2}}\s", flags
        )
        # Tail credits: "... said. REUTERS", "© Reuters", "— AFP", "(AP)" at the very end.
        self._tail = re.compile(
            rf"(?:(?:^|[.!?\"”’)\]]\s+|\n\s*)(?P<a>{long_alt})|©\s*(?:\d{{4}}\s+)?(?P<b>{alternation})"
            rf"|[-–—]{{1,2}}\s*(?P<c>{alternation})|\((?P<d>{alternation})\))\s*[.]?\s*$",
            flags,
        )
        self._signatures = [(s, a.code) for a in agencies for s in a.signatures]
        self._domains = {domain: a.code for a in agencies for domain in a.domains if domain}

    def normalise(self, raw: str | None) -> str | None:
        """Code for a raw agency string ("REUTERS", "/TASS/", "Associated Press"), else None."""
        if not raw:
            return None
        return self._by_alias.get(_fold(raw))

    def from_authors(self, authors: tuple[str, ...] | list[str]) -> str | None:
        for author in authors:
            folded = _fold(author)
            if not folded:
                continue
            code = self._by_alias.get(folded) or self._by_alias.get(
                folded.removeprefix("by ").strip()
            )
            if code:
                return code
            # "Jane Doe, AFP", "Jane Doe | Reuters", "Jane Doe (AP)"
            parts = re.split(r"\s*[,|/(]\s*|\s+[-–—]\s+", author.strip().rstrip(")"))
            if len(parts) > 1:
                code = self._by_alias.get(_fold(parts[-1]))
                if code:
                    return code
        return None

    def from_head(self, text: str) -> str | None:
        head = text[:HEAD_CHARS]
        found = self._bracketed.search(head)
        if found:
            return self._variants.get(found.group("a") or found.group("t"))
        found = self._head_dash.search(head)
        return self._variants.get(found.group("a")) if found else None

    def from_site(self, site: str) -> str | None:
        """The agency whose own site published the story (``tass.com``, ``en.yna.co.kr``)."""
        host = (site or "").strip().lower().removeprefix("www.")
        while host:
            code = self._domains.get(host)
            if code:
                return code
            host = host.partition(".")[2] if host.count(".") > 1 else ""
        return None

    def from_tail(self, text: str) -> str | None:
        tail = text[-TAIL_CHARS:].rstrip()
        found = self._tail.search(tail)
        if found:
            name = next(g for g in found.groups() if g)
            return self._variants.get(name)
        for signature, code in self._signatures:
            if signature in tail:
                return code
        return None

    def match(
        self,
        raw: str | None,
        text: str,
        authors: tuple[str, ...] | list[str] = (),
        site: str = "",
    ) -> tuple[str | None, str]:
        """(code, source) where source says which evidence decided; (None, "") if none."""
        code = self.normalise(raw)
        if code:
            return code, "raw"
        for source, finder in (
            ("head", lambda: self.from_head(text)),
            ("byline", lambda: self.from_authors(authors)),
            ("site", lambda: self.from_site(site)),
            ("tail", lambda: self.from_tail(text)),
        ):
            code = finder()
            if code:
                return code, source
        return None, ""
