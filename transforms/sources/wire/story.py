"""Wire items -> ``Story``, ``Rejected`` or ``DeadLetter``: the mapping and the version choice.

Plain functions (no Beam): the batch and the streaming stage wrap the same ones.

Identity: a story's ``story_id`` is the hash of its guid, so every version of an item is the same
story (a later run writes a newer version under the same id, with a higher ``wire_version``);
``url`` and ``canonical_url`` are the guid itself (agency guids are URIs: ``urn:newsml:…``,
``tag:…``, ``http…``). An item's ``entry_id`` (its accounting identity) hashes the file it came
in (path, size, modification time) and its position there, so one item read twice in one run
(the same guid delivered in two files) is counted twice and decided once.

Dates: ``published_at`` is when the item was first created (``firstCreated``, else
``contentCreated``, else ``versionCreated``); ``fetched_at`` (our "received", which dates
rejections and dead letters too) is when this version was created, else the file's
modification time. Neither comes from the wall clock, so a re-run gives identical records.

The body goes through the same cleaning rules and dateline parser as an extracted page (an
agency body carries a ``MINSK, November 7. /TASS/.`` dateline like its web copies do, and the
copies must compare equal after cleaning); the item's own metadata wins over what the parser
finds: ``located`` over the parsed place, the provider over a parsed agency credit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from transforms.core.records import (
    DeadLetter,
    Rejected,
    Story,
    content_hash_for,
    stable_hash,
    story_id_for,
)
from transforms.sources.wire.items import (
    CANCELED,
    HELD,
    NO_TEXT,
    NOT_TEXT,
    SUPERSEDED,
    WITHDRAWN,
    WITHHELD,
    WireItem,
    WireProblem,
)

STAGE = "wire"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"


@dataclass(frozen=True)
class WireFile:
    """A file as listed: its key changes when the file is replaced, so a new upload is new.

    ``name`` is its path under ``--wire_input`` and ``digest`` a hash of its bytes (once read):
    what reaches the output, so the same files give the same records wherever the folder is.
    """

    path: str
    size: int = 0
    mtime: float = 0.0
    name: str = ""
    digest: str = ""

    @property
    def key(self) -> str:
        return f"{self.path}\x1f{self.size}\x1f{int(self.mtime)}"

    @property
    def label(self) -> str:
        return self.name or self.path

    @property
    def modified_at(self) -> str:
        moment = datetime.fromtimestamp(max(0.0, self.mtime), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TextConfig:
    """The extract stage's cleaning knobs, as plain values (``ExtractConfig`` supplies them)."""

    clean: bool = True
    parse_datelines: bool = True
    rules_path: str | None = None
    min_chars: int = 200
    max_chars: int = 200_000


@dataclass(frozen=True)
class Envelope:
    """One item with where it came from; what the version choice groups by guid."""

    item: WireItem
    file: WireFile
    entry_id: str = field(default="")

    @property
    def received_at(self) -> str:
        item = self.item
        return (
            item.version_created
            or item.first_created
            or item.content_created
            or (self.file.modified_at)
        )

    def order(self) -> tuple[int, str, str, str, int]:
        """Highest version wins; then the newest versionCreated, then file and position."""
        item, file = self.item, self.file
        return (item.version, item.version_created or "", file.label, file.digest, item.index)


def entry_id_for(file: WireFile, index: int) -> str:
    """An item's accounting id: its file (name and content, else size) and its place there."""
    return stable_hash("wire", file.label, file.digest or f"size={file.size}", str(index))


def site_of(guid: str, provider: str | None) -> str:
    """The provider's domain from its guid (``urn:newsml:dpa.com:…``, ``tag:ap.org,2024:…``)."""
    lowered = guid.strip().lower()
    host = ""
    if lowered.startswith("urn:newsml:"):
        host = lowered.split(":")[2] if lowered.count(":") >= 2 else ""
    elif lowered.startswith("tag:"):
        host = lowered[4:].split(",", 1)[0].split(":", 1)[0]
    elif "://" in lowered:
        host = urlsplit(lowered).hostname or ""
    host = host.removeprefix("www.")
    if host and "." in host:
        return host
    return (provider or "wire").strip().lower().replace(" ", "-") or "wire"


def dead_letter(problem: WireProblem, file: WireFile) -> DeadLetter:
    return DeadLetter(
        stage=STAGE,
        reason=problem.reason,
        url=problem.guid or file.label,
        error=problem.error,
        payload=problem.excerpt,
        at=file.modified_at,
        entry_id=entry_id_for(file, problem.index),
        feed_url=file.label,
    )


def rejection(envelope: Envelope, reason: str, detail: str, **extra: str | None) -> Rejected:
    item = envelope.item
    return Rejected(
        stage=STAGE,
        reason=reason,
        url=item.guid,
        story_id=story_id_for(item.guid),
        entry_id=envelope.entry_id,
        at=envelope.received_at,
        detail=detail,
        wire_guid=item.guid,
        duplicate_of=extra.get("duplicate_of"),
    )


def problem_rejection(problem: WireProblem, file: WireFile) -> Rejected:
    """A decision made while parsing (an item kind that is not text, found without a guid)."""
    return Rejected(
        stage=STAGE,
        reason=problem.reason,
        url=problem.guid or file.label,
        story_id=story_id_for(problem.guid) if problem.guid else None,
        entry_id=entry_id_for(file, problem.index),
        at=file.modified_at,
        detail=problem.error,
        wire_guid=problem.guid,
    )


def needs_version_choice(item: WireItem) -> bool:
    """Text items and withdrawals are versioned stories; other kinds are rejected at once."""
    return item.is_text or item.pub_status in (CANCELED, HELD)


def not_text(envelope: Envelope) -> Rejected:
    item = envelope.item
    return rejection(envelope, NOT_TEXT, f"{item.source_format} {item.item_class} item")


def choose_version(envelopes: list[Envelope]) -> tuple[Envelope, list[Rejected]]:
    """The kept envelope of one guid and a ``superseded`` rejection for every other one."""
    ordered = sorted(envelopes, key=Envelope.order, reverse=True)
    kept, rest = ordered[0], ordered[1:]
    rejected = []
    for other in rest:
        same = other.item.version == kept.item.version
        what = "the same version delivered again" if same else f"version {kept.item.version}"
        detail = (
            f"version {other.item.version} superseded by {what} "
            f"(entry {kept.entry_id}, {kept.file.label})"
        )
        rejected.append(
            rejection(other, SUPERSEDED, detail, duplicate_of=story_id_for(kept.item.guid))
        )
    return kept, rejected


def decide(envelope: Envelope, config: TextConfig) -> Story | Rejected:
    """The kept version's outcome: withdrawn, withheld, not text, no text, or a story."""
    item = envelope.item
    if item.pub_status == CANCELED:
        return rejection(
            envelope,
            WITHDRAWN,
            f"version {item.version} withdraws {item.guid}: take the story down",
        )
    if item.pub_status == HELD:
        return rejection(envelope, WITHHELD, f"version {item.version} is withheld by its provider")
    if not item.is_text:
        return not_text(envelope)
    return to_story(envelope, config)


def to_story(envelope: Envelope, config: TextConfig) -> Story | Rejected:
    from transforms.extract.cleaning import Cleaned, clean_text, load_rules
    from transforms.extract.datelines import strip_dateline

    item = envelope.item
    if not item.body.strip():
        return rejection(envelope, NO_TEXT, item.no_text_detail or "no body")
    published = item.first_created or item.content_created or item.version_created
    if config.clean:
        cleaned = clean_text(item.body, title=item.headline, rules=load_rules(config.rules_path))
    else:
        cleaned = Cleaned(text=item.body.strip())
    text = cleaned.text
    hits = dict(cleaned.hits)
    parsed = None
    if config.parse_datelines:
        parsed, text = strip_dateline(text, published)
        if parsed is not None:
            hits["dateline"] = hits.get("dateline", 0) + 1
    if not text.strip():
        return rejection(envelope, NO_TEXT, "body empty after cleaning")
    if len(text) < config.min_chars:
        return rejection(envelope, TOO_SHORT, f"chars={len(text)} source=wire")
    if len(text) > config.max_chars:
        return rejection(envelope, TOO_LONG, f"chars={len(text)} source=wire")
    place = item.located or (parsed.place if parsed else None)
    date = item.dateline_date if item.located or item.dateline else None
    date = date or (parsed.date if parsed else None)
    agency = item.provider or (parsed.agency if parsed else None) or cleaned.agency
    return Story(
        story_id=story_id_for(item.guid),
        entry_id=envelope.entry_id,
        url=item.guid,
        canonical_url=item.guid,
        site=site_of(item.guid, item.provider),
        feed_url=envelope.file.label,
        title=item.headline,
        text=text,
        fetched_at=envelope.received_at,
        summary=item.description,
        description=item.description,
        sitename=item.provider or "",
        authors=item.byline,
        published_at=published,
        # The item's declared language is the document's own (a page's lang) and its provider's
        # (a feed's): evidence for DetectLanguage, which still decides.
        page_language=item.language,
        feed_language=item.language,
        content_hash=content_hash_for(text),
        text_source="wire",
        agency=agency,
        dateline_place=place,
        dateline_date=date,
        tags=(*item.keywords, *(t for t in cleaned.tags if t not in item.keywords)),
        cleaning_hits=tuple(sorted(hits.items())),
        subjects=item.subjects,
        wire_guid=item.guid,
        wire_version=item.version,
        source_format=item.source_format,
    )
