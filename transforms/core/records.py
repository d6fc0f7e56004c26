"""Record types that flow between stages.

Every record is a frozen dataclass so it hashes, compares and pickles deterministically; the
fields that reach disk are listed once in ``to_json`` so the JSON and Parquet writers agree.
Timestamps are ISO 8601 strings in UTC (``2026-11-24T10:00:00Z``) rather than ``datetime``
objects: they sort lexically, survive every coder unchanged, and are what the sinks write.
Grouping keys derived from records are always ``str`` (ids, URLs), never the records themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from transforms.core.redact import redact_text, redact_url
from transforms.core.timefmt import now_iso as now_iso
from transforms.core.timefmt import utc_iso as utc_iso

PAYLOAD_EXCERPT_CHARS = 2000
ERROR_CHARS = 1000
# A run of characters for which ``str.isalnum()`` is true: re's \w is isalnum() or "_" (the
# same Unicode database), so removing "_" leaves exactly isalnum(); a test checks every code point.
ALNUM_RUN = re.compile(r"[^\W_]+")


def stable_hash(*parts: str, length: int = 20) -> str:
    """Hex digest that is identical on every worker and every run (unlike ``hash()``)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


def story_id_for(canonical_url: str) -> str:
    return stable_hash(canonical_url)


def normalise_for_hash(text: str) -> str:
    """Case-, whitespace- and punctuation-insensitive form used for exact-text dedup.

    The runs of alphanumerics after NFKC and case folding, joined by single spaces: every other
    character separates words. Found by one compiled regex rather than a Python test per
    character, because cleaning calls this on every line of every story (it was most of the
    cleaning's cost).
    """
    return " ".join(ALNUM_RUN.findall(unicodedata.normalize("NFKC", text).casefold()))


def content_hash_for(text: str) -> str:
    return stable_hash(normalise_for_hash(text), length=32)


def excerpt(value: Any, limit: int = PAYLOAD_EXCERPT_CHARS) -> str:
    """Bounded, printable excerpt for dead letters: never a whole response body."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value[: limit * 4].decode("utf-8", errors="replace")
    text = str(value)
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text[:limit])
    return text


@dataclass(frozen=True)
class FeedSource:
    """One feed (or news sitemap) from the feed list."""

    url: str
    name: str = ""
    kind: str = "feed"  # "feed" | "sitemap"
    language: str | None = None
    tags: tuple[str, ...] = ()
    poll_minutes: int = 60


@dataclass(frozen=True)
class FeedEntry:
    """A candidate story as announced by a feed, before its page is fetched."""

    entry_id: str  # stable: hash of feed url + entry guid/link
    feed_url: str
    feed_name: str
    url: str
    canonical_url: str
    title: str = ""
    summary: str = ""
    published_at: str | None = None
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    language_hint: str | None = None
    feed_tags: tuple[str, ...] = ()
    guid: str = ""


@dataclass(frozen=True)
class FetchedPage:
    """An article page as received: decoded HTML plus what the fetch learned."""

    entry: FeedEntry
    final_url: str
    status: int
    content_type: str
    html: str
    fetched_at: str
    encoding: str = "utf-8"
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Story:
    """A cleaned, tagged article. The same shape is written to ``stories/`` and ``duplicates/``."""

    story_id: str
    entry_id: str
    url: str
    canonical_url: str
    site: str
    feed_url: str
    title: str
    text: str
    fetched_at: str
    summary: str = ""
    description: str = ""
    sitename: str = ""
    authors: tuple[str, ...] = ()
    published_at: str | None = None
    language: str = "und"
    language_confidence: float = 0.0
    language_runner_up: str | None = None
    page_language: str | None = None  # the page's own lang attribute: evidence for DetectLanguage
    feed_language: str | None = None  # the feed's declared language: evidence, never the answer
    content_hash: str = ""
    text_source: str = "page"  # "page" | "feed_summary" | "wire" (an agency item's own body)
    agency: str | None = None
    dateline_place: str | None = None
    dateline_date: str | None = None
    dateline_country: str | None = None  # ISO 3166 alpha-2 of dateline_place (tagging)
    tags: tuple[str, ...] = ()  # publisher tags and categories, normalised
    places: tuple[str, ...] = ()  # ISO 3166 alpha-2, most mentioned first
    place_mentions: tuple[tuple[str, int], ...] = ()
    cities: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    cleaning_hits: tuple[tuple[str, int], ...] = ()  # rule name -> times it fired
    cluster_id: str | None = None
    cluster_size: int = 1
    duplicate_of: str | None = None
    duplicate_reason: str | None = None  # same_url | same_text | near_duplicate
    similarity: float | None = None
    # Agency items (transforms/sources/wire): the provider's subject codes, scheme-qualified
    # (``medtop:20000763``), the item's guid and version; ``source_format`` says what the text
    # was read from: ``html`` (a fetched page), ``newsml-g2``, ``ninjs-1``..``ninjs-3``, ``nitf``.
    subjects: tuple[str, ...] = ()
    wire_guid: str | None = None
    wire_version: int | None = None
    source_format: str = "html"

    def replace(self, **changes: Any) -> Story:
        return dataclasses.replace(self, **changes)

    @property
    def partition_date(self) -> str:
        return (self.published_at or self.fetched_at)[:10]

    @property
    def cleaning_hit_count(self) -> int:
        return sum(count for _, count in self.cleaning_hits)

    def to_json(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        for key in ("authors", "tags", "places", "cities", "topics", "subjects"):
            record[key] = list(record[key])
        record["place_mentions"] = [
            {"code": code, "count": count} for code, count in self.place_mentions
        ]
        record["cleaning_hits"] = [
            {"rule": rule, "count": count} for rule, count in self.cleaning_hits
        ]
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Story:
        """Inverse of ``to_json``: a story read back (from state, a message, a file) field for
        field; the one place that knows the wire form of the nested fields."""
        values = dict(record)
        for key in ("authors", "tags", "places", "cities", "topics", "subjects"):
            if key in values:
                values[key] = tuple(values[key])
        if "place_mentions" in values:
            values["place_mentions"] = tuple(
                (m["code"], m["count"]) for m in values["place_mentions"]
            )
        if "cleaning_hits" in values:
            values["cleaning_hits"] = tuple(
                (h["rule"], h["count"]) for h in values["cleaning_hits"]
            )
        return cls(**values)


@dataclass(frozen=True)
class DeadLetter:
    """A failure: something went wrong that a person may need to look at or retry."""

    stage: str
    reason: str
    url: str
    error: str
    payload: str = ""
    at: str = field(default_factory=now_iso)
    entry_id: str | None = None
    feed_url: str | None = None

    def __post_init__(self) -> None:
        # Dead letters are read by people and shipped to other systems: never a credential,
        # never a whole body. Enforced here so no stage can forget it.
        # (transforms/core/redact.py: the one redaction every output goes through.)
        object.__setattr__(self, "url", redact_url(self.url))
        object.__setattr__(self, "error", redact_text(excerpt(self.error, ERROR_CHARS)))
        object.__setattr__(self, "payload", redact_text(excerpt(self.payload)))
        if self.feed_url is not None:
            object.__setattr__(self, "feed_url", redact_url(self.feed_url))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def of_story(cls, story: Story, stage: str, reason: str, error: str) -> DeadLetter:
        """A story that a stage could not process: dated by its fetch, so it lands beside it."""
        return cls(
            stage=stage,
            reason=reason,
            url=story.url,
            error=error,
            payload=story.text,
            at=story.fetched_at,
            entry_id=story.entry_id,
            feed_url=story.feed_url,
        )

    @property
    def partition_date(self) -> str:
        return self.at[:10]


@dataclass(frozen=True)
class Rejected:
    """A decision, not a failure: the entry was handled correctly and deliberately not kept."""

    stage: str
    reason: str
    url: str
    story_id: str | None = None
    duplicate_of: str | None = None
    entry_id: str | None = None
    at: str = field(default_factory=now_iso)
    detail: str = ""
    feed_url: str | None = None  # the feed that listed the entry (per-feed health)
    wire_guid: str | None = None  # agency items: withdrawn/superseded say which guid

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def partition_date(self) -> str:
        return self.at[:10]
