"""From raw feed items to entries: reasons, caps, ids, and the checks every format shares.

Shared by the feedparser path (``feed_parse.py``) and the formats feedparser does not read
(``feed_formats.py``: JSON Feed, sitemaps), so every format ends in the same records, with the
same reasons, field caps and id rules (items sharing a guid told apart by their link).
"""

from __future__ import annotations

import calendar
import logging
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from transforms.core.html_text import html_to_text, safe_text
from transforms.core.records import DeadLetter, FeedEntry, FeedSource, excerpt, stable_hash
from transforms.core.timefmt import parse_iso, utc_iso
from transforms.core.urls import canonicalize_url

logger = logging.getLogger(__name__)

STAGE = "feeds"

REASON_BAD_FEED = "bad_feed"
REASON_TRUNCATED_FEED = "truncated_feed"
REASON_EMPTY_FEED = "empty_feed"
REASON_TOO_LARGE = "too_large"
REASON_NO_LINK = "no_link"

TITLE_MAX_CHARS = 1000
SUMMARY_MAX_CHARS = 10_000
LABEL_MAX_CHARS = 200
MAX_LABELS = 50
MAX_ENTRIES = 10_000
MAX_CHILD_SITEMAPS = 50
MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024  # the sitemaps protocol's own limit

_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_JSON_FEED_PREFIX = "https://jsonfeed.org/version/"


@dataclass(frozen=True)
class ParsedFeed:
    """What one feed document yielded."""

    entries: tuple[FeedEntry, ...] = ()
    dead: tuple[DeadLetter, ...] = ()
    # Child sitemaps announced by a sitemap index: (canonical url, lastmod or None), newest first.
    sitemaps: tuple[tuple[str, str | None], ...] = ()
    format: str = ""  # feedparser version (rss20, atom10, …), "json1", "sitemap", "sitemapindex"
    title: str = ""
    truncated: int = 0  # entries beyond max_entries, not read (counted, never silent)
    # Exact repeats of an entry of this document (same guid and link): ids of their own, so
    # they end as same_url duplicates of the first.
    repeats: tuple[FeedEntry, ...] = ()
    # Ids of the entries, repeats and entry-level dead letters in document order: a cap over
    # the entries an earlier run did not see keeps the first ones as the publisher listed them.
    order: tuple[str, ...] = ()

    @property
    def duplicates(self) -> int:
        return len(self.repeats)

    @property
    def listed(self) -> int:
        """Items the document lists: entries, repeats, entry-level dead letters, cut items."""
        entry_dead = sum(1 for d in self.dead if d.entry_id is not None)
        return len(self.entries) + len(self.repeats) + entry_dead + self.truncated


@dataclass
class RawEntry:
    """One entry as any format announces it, before normalisation (plain data, no markup)."""

    link: str = ""
    guid: str = ""
    title: str = ""
    title_is_html: bool = False
    summary: str = ""
    summary_is_html: bool = False
    published: str | None = None
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    language: str | None = None


def field_text(value: str | None, is_html: bool, limit: int) -> str:
    if not value:
        return ""
    return safe_text(html_to_text(value) if is_html else value, limit)


# --------------------------------------------------------------------------- dates


def _struct_to_iso(parsed: Any) -> str | None:
    try:
        moment = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return utc_iso(moment) if 1900 <= moment.year <= 2200 else None


_W3C_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def parse_iso_datetime(value: str | None) -> str | None:
    """RFC 3339 / W3C datetime (JSON Feed, sitemaps) to UTC ISO; date-only values at 00:00Z."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().upper()
    if _W3C_DATE.match(text):
        text = (text + "-01-01")[:10]
    moment = parse_iso(text)
    if moment is None:
        return None
    return utc_iso(moment) if 1900 <= moment.year <= 2200 else None


# --------------------------------------------------------------------------- helpers


def _lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def _labels(values: Iterable[Any]) -> list[str]:
    """Clean, case-insensitively unique labels in first-seen order, bounded in number and size."""
    labels: list[str] = []
    folded: set[str] = set()
    for value in values:
        label = safe_text(str(value), LABEL_MAX_CHARS) if value is not None else ""
        if label and label.casefold() not in folded:
            folded.add(label.casefold())
            labels.append(label)
            if len(labels) >= MAX_LABELS:
                break
    return labels


def _language(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-").lower()
    return tag if re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{1,8})*", tag) else None


def _dead(reason: str, source: FeedSource, error: str, payload: Any = "", **kw: Any) -> DeadLetter:
    at = kw.pop("at", None)
    extra = {"at": at} if at else {}
    return DeadLetter(
        stage=STAGE,
        reason=reason,
        url=kw.pop("url", source.url),
        error=error,
        payload=excerpt(payload, 500),
        feed_url=source.url,
        **kw,
        **extra,
    )


def _maybe_gunzip(body: bytes) -> bytes:
    """Sitemaps and some feeds are served as ``.gz`` files without Content-Encoding."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = inflater.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
    if len(data) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
        raise OverflowError(f"decompresses beyond {MAX_DECOMPRESSED_BYTES} bytes")
    return data


_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_NEEDS_REPAIR = re.compile(r"[\x00-\x20\x7f-\x9f]")
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]", re.IGNORECASE)
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.IGNORECASE)
_SITEMAP_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(urlset|sitemapindex)[\s>/]")


_FEED_ROOT = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF))[\s>]")
_SKIPPED_MARKUP = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->", re.DOTALL)
_ROOT_END_WINDOW = 65536


def _missing_root_end(body: bytes) -> str | None:
    """The root element's name when an RSS/Atom/RDF document never closes it (cut short).

    A document cut in transit or on disk still parses leniently and yields the entries before
    the cut, which would pass as the whole feed. Only byte-oriented (ASCII-compatible)
    documents are checked; a self-closing root has nothing to lose.
    """
    head = body[:_ROOT_END_WINDOW]
    found = _FEED_ROOT.search(head)
    if found is None:
        return None
    name = found.group(1)
    tail = body[-_ROOT_END_WINDOW:]
    if re.search(rb"</" + re.escape(name) + rb"\s*>", tail):
        return None
    return name.decode("ascii", "replace")


def _count_entry_tags(body: bytes) -> int:
    """Entries the document lists, by their start tags outside CDATA sections and comments."""
    return sum(1 for _ in _ENTRY_START.finditer(_SKIPPED_MARKUP.sub(b"", body)))


# --------------------------------------------------------------------------- normalisation


def normalise_entry(
    raw: RawEntry, source: FeedSource, base_url: str, feed_language: str | None = None
) -> FeedEntry | None:
    """A ``FeedEntry`` from a format-neutral entry, or ``None`` when it has no usable link.

    The entry id is the feed URL plus the publisher's guid (its promise of identity across
    edits), or the canonical link when there is no guid, so it is stable across runs.
    """
    canonical = canonicalize_url(raw.link, base=base_url) if raw.link else None
    if canonical is None and raw.guid and raw.guid.strip().lower().startswith("http"):
        canonical = canonicalize_url(raw.guid)
        link = raw.guid.strip()
    else:
        link = raw.link.strip()
    if canonical is None:
        return None
    url = _absolute(link, base_url) or canonical
    guid = safe_text(raw.guid, LABEL_MAX_CHARS * 5)
    return FeedEntry(
        entry_id=stable_hash(source.url, guid or canonical),
        feed_url=source.url,
        feed_name=source.name,
        url=url,
        canonical_url=canonical,
        title=field_text(raw.title, raw.title_is_html, TITLE_MAX_CHARS),
        summary=field_text(raw.summary, raw.summary_is_html, SUMMARY_MAX_CHARS),
        published_at=raw.published,
        categories=tuple(_labels(raw.categories)),
        authors=tuple(_labels(raw.authors)),
        language_hint=source.language or _language(raw.language) or feed_language,
        feed_tags=tuple(source.tags),
        guid=guid,
    )


def _absolute(link: str, base: str) -> str | None:
    """The link as announced, made absolute, without fragment: what the fetcher requests.

    ``None`` when it would need repair (whitespace, control characters): the canonical form,
    which is always a clean URL, is requested instead.
    """
    from urllib.parse import urldefrag, urljoin, urlsplit

    try:
        absolute = urldefrag(urljoin(base, link.strip())).url
        if urlsplit(absolute).scheme.lower() not in ("http", "https"):
            return None
    except ValueError:
        return None
    return None if _NEEDS_REPAIR.search(absolute) else absolute


def raw_from_entry(entry: FeedEntry) -> RawEntry:
    """The inverse view of a normalised entry (used to check normalisation is idempotent)."""
    return RawEntry(
        link=entry.url,
        guid=entry.guid,
        title=entry.title,
        summary=entry.summary,
        published=entry.published_at,
        categories=list(entry.categories),
        authors=list(entry.authors),
        language=entry.language_hint,
    )


def assign_ids(
    entries: Iterable[FeedEntry], feed_url: str
) -> tuple[list[FeedEntry], list[FeedEntry]]:
    """(distinct entries, exact repeats), ids made unique without losing any entry.

    An entry's id is the feed URL plus its guid (or canonical link). When one guid is shared by
    items linking to different pages, each of them is a story of its own: their ids include the
    canonical link. Items identical in guid and link are repeats: the first keeps the id, the
    n-th repeat gets ``hash(id, "repeat", n)``, stable as long as the document is.
    """
    ordered = assign_ids_in_order(entries, feed_url)
    distinct = [entry for entry, repeat in ordered if not repeat]
    return distinct, [entry for entry, repeat in ordered if repeat]


def assign_ids_in_order(
    entries: Iterable[FeedEntry], feed_url: str
) -> list[tuple[FeedEntry, bool]]:
    """``assign_ids`` as (entry, is a repeat) in the order given, which a cap needs."""
    listed = list(entries)
    links: dict[str, set[str]] = {}
    for entry in listed:
        links.setdefault(entry.guid or entry.canonical_url, set()).add(entry.canonical_url)
    ordered: list[tuple[FeedEntry, bool]] = []
    seen: dict[str, int] = {}
    for entry in listed:
        key = entry.guid or entry.canonical_url
        if len(links[key]) > 1:
            entry = replace(entry, entry_id=stable_hash(feed_url, key, entry.canonical_url))
        count = seen.get(entry.entry_id, 0)
        seen[entry.entry_id] = count + 1
        if count == 0:
            ordered.append((entry, False))
        else:
            repeat_id = stable_hash(entry.entry_id, "repeat", str(count))
            ordered.append((replace(entry, entry_id=repeat_id), True))
    return ordered


def _collect(
    raws: Iterable[RawEntry],
    source: FeedSource,
    base_url: str,
    feed_language: str | None,
    max_entries: int,
    at: str | None,
) -> tuple[list[FeedEntry], list[DeadLetter], int, list[FeedEntry], list[str]]:
    """(entries, dead letters, items beyond ``max_entries``, repeats, ids in document order)."""
    entries: list[FeedEntry] = []
    dead: list[DeadLetter] = []
    is_entry: list[bool] = []  # document order of the kept items: entry or dead letter
    truncated = 0
    for raw in raws:
        if len(entries) + len(dead) >= max_entries:
            truncated += 1
            continue
        entry = normalise_entry(raw, source, base_url, feed_language)
        if entry is None:
            dead.append(
                _dead(
                    REASON_NO_LINK,
                    source,
                    "entry has no usable http(s) link",
                    payload=f"guid={raw.guid[:200]!r} link={raw.link[:500]!r} "
                    f"title={field_text(raw.title, raw.title_is_html, 200)!r}",
                    entry_id=stable_hash(source.url, raw.guid, raw.title, raw.link),
                    at=at,
                )
            )
            is_entry.append(False)
            continue
        entries.append(entry)
        is_entry.append(True)
    ordered = assign_ids_in_order(entries, source.url)
    letters = _distinct_dead(dead)
    entry_ids = iter([entry.entry_id for entry, _ in ordered])
    letter_ids = iter([letter.entry_id or "" for letter in letters])
    order = [next(entry_ids) if kind else next(letter_ids) for kind in is_entry]
    distinct = [entry for entry, repeat in ordered if not repeat]
    repeats = [entry for entry, repeat in ordered if repeat]
    return distinct, letters, truncated, repeats, order


def _distinct_dead(dead: list[DeadLetter]) -> list[DeadLetter]:
    """Identical link-less items share an id; each still ends as its own dead letter."""
    counts: dict[str | None, int] = {}
    out = []
    for letter in dead:
        count = counts.get(letter.entry_id, 0)
        counts[letter.entry_id] = count + 1
        if count and letter.entry_id is not None:
            letter = replace(letter, entry_id=stable_hash(letter.entry_id, "repeat", str(count)))
        out.append(letter)
    return out


# --------------------------------------------------------------------------- formats
