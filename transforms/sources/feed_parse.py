"""Feed documents to feed entries: every format a newsroom meets, and nothing hostile gets through.

``parse_feed(body, source, headers)`` turns one fetched document into ``FeedEntry`` records plus
dead letters; it is a pure function so the Beam stage, the replay path, the benchmark and the
fuzz tests all exercise the same code.

Formats:

* RSS 0.9x/1.0/2.0, Atom 0.3/1.0, RDF and CDF through feedparser, which already handles broken
  markup, odd encodings and date formats better than anything we would write.
* JSON Feed 1.0/1.1 from the spec (jsonfeed.org): feedparser 6.0 does not read it.
* Sitemaps (``urlset``, with Google News ``news:news`` extensions) and sitemap indexes, the second
  source kind. They are parsed with lxml configured not to resolve entities, load DTDs or touch
  the network, and any document declaring entities is refused outright (billion laughs, XXE).

Safety decisions:

* feedparser treats a ``bytes`` argument as a *file name* first (``open(data)``): a server that
  answers ``/proc/self/environ`` would make it read a local file. Bodies are therefore always
  handed over as a stream (``io.BytesIO``), which feedparser reads and never opens.
* feedparser raises (despite its promise) on character references to surrogates, NUL or
  beyond U+10FFFF; those are replaced by U+FFFD first, and anything it still raises makes the
  document a ``bad_feed`` instead of a crash.
* Titles, summaries, authors and categories leave here as plain text: HTML fields are reduced
  to their text with lxml (script/style and similar content dropped; linear time, unlike
  ``html.parser`` on ``<a <a <a …``), and in the text every ``<`` that could open a tag gets a
  space after it (``&lt;script&gt;`` decodes to ``< script>``), so no consumer that forgets to
  escape can be scripted through us. Control characters are removed.
* Feeds with far more entries than ``max_entries`` are cut before feedparser reads them.
* Every input ends as entries or dead letters. Reasons: ``bad_feed`` (not a feed, unparsable,
  refused, or feedparser read fewer entries than the document lists), ``truncated_feed`` (the
  document ends before its closing root tag: cut short in transit or on disk, so the entries
  before the cut are *not* passed on as if they were the whole feed), ``empty_feed`` (a feed
  with no entries), ``too_large`` (compressed body beyond the cap), ``no_link`` (an entry
  without a usable http(s) link).

Every listed item is accounted for (``ParsedFeed.listed``): an entry, a repeat, a ``no_link``
dead letter, or one of the ``truncated`` items beyond ``max_entries``. Entry ids are the feed
URL plus the guid; items that share a guid but link to different pages each get an id that
includes their link (publishers reuse one guid for a whole section), and exact repeats of an
item (same guid, same link) are kept in ``repeats`` with ids of their own, so the pipeline
records them as ``same_url`` duplicates instead of dropping them.
"""

from __future__ import annotations

import calendar
import io
import itertools
import json
import logging
import re
import zlib
from collections import deque
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
    listed = list(entries)
    links: dict[str, set[str]] = {}
    for entry in listed:
        links.setdefault(entry.guid or entry.canonical_url, set()).add(entry.canonical_url)
    distinct: list[FeedEntry] = []
    repeats: list[FeedEntry] = []
    seen: dict[str, int] = {}
    for entry in listed:
        key = entry.guid or entry.canonical_url
        if len(links[key]) > 1:
            entry = replace(entry, entry_id=stable_hash(feed_url, key, entry.canonical_url))
        count = seen.get(entry.entry_id, 0)
        seen[entry.entry_id] = count + 1
        if count == 0:
            distinct.append(entry)
        else:
            repeats.append(
                replace(entry, entry_id=stable_hash(entry.entry_id, "repeat", str(count)))
            )
    return distinct, repeats


def _collect(
    raws: Iterable[RawEntry],
    source: FeedSource,
    base_url: str,
    feed_language: str | None,
    max_entries: int,
    at: str | None,
) -> tuple[list[FeedEntry], list[DeadLetter], int, list[FeedEntry]]:
    entries: list[FeedEntry] = []
    dead: list[DeadLetter] = []
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
            continue
        entries.append(entry)
    distinct, repeats = assign_ids(entries, source.url)
    return distinct, _distinct_dead(dead), truncated, repeats


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


def _feedparser_raws(parsed: Any) -> Iterable[RawEntry]:
    for item in parsed.entries:
        link = item.get("feedburner_origlink") or item.get("link") or ""
        if not link:
            for candidate in item.get("links") or []:
                if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                    link = candidate["href"]
                    break
        published = None
        for key in ("published_parsed", "updated_parsed", "created_parsed"):
            if item.get(key):
                published = _struct_to_iso(item[key])
                if published:
                    break
        summary, summary_type = item.get("summary") or "", (item.get("summary_detail") or {})
        if not summary and item.get("content"):
            summary, summary_type = item["content"][0].get("value", ""), item["content"][0]
        title_detail = item.get("title_detail") or {}
        authors = [a.get("name") for a in item.get("authors") or [] if a.get("name")]
        if not authors and item.get("author"):
            authors = [item["author"]]
        yield RawEntry(
            link=str(link),
            guid=str(item.get("id") or ""),
            title=str(item.get("title") or ""),
            title_is_html="html" in str(title_detail.get("type", "")),
            summary=str(summary),
            summary_is_html="html" in str(summary_type.get("type", "text/html")),
            published=published,
            categories=[t.get("term") or t.get("label") for t in item.get("tags") or []],
            authors=authors,
            language=title_detail.get("language") or summary_type.get("language"),
        )


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,16}));")


def _safe_char_ref(match: re.Match[bytes]) -> bytes:
    """Character references to surrogates, NUL or beyond U+10FFFF make feedparser raise."""
    code = int(match.group(1), 16) if match.group(1) is not None else int(match.group(2))
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return b"&#xFFFD;"
    return match.group(0)


def _cap_entries(body: bytes, max_entries: int) -> tuple[bytes, int]:
    """Cut a feed with far more entries than we keep before feedparser reads all of them.

    feedparser costs about a quarter of a millisecond per entry, so a hostile feed of 100,000
    entries would hold a worker for half a minute only to have most entries dropped. The body
    is cut before the first entry beyond ``max_entries + 1`` and the document's own ending (what
    follows its last entry: ``</channel></rss>``, ``</feed>``) is put back, so the result stays
    well-formed in the usual layout; when it does not, feedparser's lenient parser still reads
    the kept entries. Returns the body and how many entries were cut off.
    """
    starts = _ENTRY_START.finditer(body)
    cut = next(itertools.islice(starts, max_entries, None), None)
    if cut is None:
        return body, 0
    dropped = 1 + sum(1 for _ in starts)
    last = deque(_ENTRY_END.finditer(body, cut.start()), maxlen=1)
    tail = body[last[0].end() :] if last else b""
    return body[: cut.start()] + tail, dropped


def _parse_with_feedparser(
    body: bytes,
    source: FeedSource,
    headers: dict[str, str],
    base_url: str,
    max_entries: int,
    at: str | None,
) -> ParsedFeed:
    import feedparser

    response_headers = dict(headers)
    response_headers.setdefault("content-location", base_url)
    cut_short = _missing_root_end(body)
    if cut_short is not None:
        return ParsedFeed(
            dead=(
                _dead(
                    REASON_TRUNCATED_FEED,
                    source,
                    f"document ends before its closing </{cut_short}> after {len(body)} bytes: "
                    "cut short, so the entries before the cut are not the whole feed",
                    body[-500:],
                    at=at,
                ),
            )
        )
    announced = _count_entry_tags(body)
    # A stream, never bytes: feedparser would try bytes as a local file name first.
    body, cut_off = _cap_entries(body, max_entries)
    try:
        parsed = feedparser.parse(
            io.BytesIO(_CHAR_REF.sub(_safe_char_ref, body)), response_headers=response_headers
        )
    except Exception as exc:  # feedparser means never to raise; when it does, the input is bad
        logger.info("feedparser raised on %s: %r", source.url, exc)
        return ParsedFeed(
            dead=(_dead(REASON_BAD_FEED, source, f"feedparser failed: {exc!r}", body, at=at),)
        )
    version = parsed.get("version") or ""
    title = safe_text(parsed.feed.get("title"), TITLE_MAX_CHARS) if parsed.get("feed") else ""
    if not parsed.entries:
        if version:
            return ParsedFeed(
                dead=(
                    _dead(REASON_EMPTY_FEED, source, f"{version} feed has no entries", body, at=at),
                ),
                format=version,
                title=title,
            )
        problem = parsed.get("bozo_exception") or "no RSS, Atom, RDF, CDF or JSON Feed found"
        return ParsedFeed(
            dead=(_dead(REASON_BAD_FEED, source, f"not a feed: {problem}", body, at=at),),
        )
    read = len(parsed.entries) + cut_off
    if read < announced:
        # The lenient parser gave up part-way: passing on what it read would drop the rest
        # without a trace. The feed is a dead letter until it is whole again.
        problem = parsed.get("bozo_exception") or "malformed markup"
        return ParsedFeed(
            dead=(
                _dead(
                    REASON_BAD_FEED,
                    source,
                    f"broken document: read {read} of the {announced} entries it lists ({problem})",
                    body,
                    at=at,
                ),
            ),
            format=version,
            title=title,
        )
    feed_language = _language(parsed.feed.get("language"))
    entries, dead, truncated, repeats = _collect(
        _feedparser_raws(parsed), source, base_url, feed_language, max_entries, at
    )
    return ParsedFeed(
        tuple(entries),
        tuple(dead),
        (),
        version or "unknown",
        title,
        truncated + cut_off,
        tuple(repeats),
    )


def _json_raws(items: list[Any]) -> Iterable[RawEntry]:
    for item in items:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors")
        if not isinstance(authors, list):
            authors = [item["author"]] if isinstance(item.get("author"), dict) else []
        summary, is_html = item.get("summary"), False
        if not isinstance(summary, str) or not summary:
            summary = item.get("content_text")
            if not isinstance(summary, str) or not summary:
                summary, is_html = item.get("content_html"), True
        link = item.get("url") or item.get("external_url") or ""
        tags = item.get("tags")
        if not isinstance(tags, list):
            tags = []
        title = item.get("title")
        guid = item.get("id")
        yield RawEntry(
            link=link if isinstance(link, str) else "",
            guid=str(guid) if isinstance(guid, str | int) and not isinstance(guid, bool) else "",
            title=title if isinstance(title, str) else "",
            summary=summary if isinstance(summary, str) else "",
            summary_is_html=is_html,
            published=parse_iso_datetime(item.get("date_published"))
            or parse_iso_datetime(item.get("date_modified")),
            categories=[t for t in tags if isinstance(t, str)],
            authors=[
                a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)
            ],
            language=item.get("language"),
        )


def _parse_json_feed(
    body: bytes, source: FeedSource, base_url: str, max_entries: int, at: str | None
) -> ParsedFeed:
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return ParsedFeed(
            dead=(_dead(REASON_BAD_FEED, source, f"invalid JSON: {exc}", body, at=at),)
        )
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(_JSON_FEED_PREFIX):
        return ParsedFeed(
            dead=(_dead(REASON_BAD_FEED, source, "JSON but not a JSON Feed", body, at=at),)
        )
    fmt = "json" + version[len(_JSON_FEED_PREFIX) :].replace(".", "")[:4]
    title = safe_text(
        document.get("title") if isinstance(document.get("title"), str) else "", TITLE_MAX_CHARS
    )
    items = document.get("items")
    if not isinstance(items, list) or not items:
        return ParsedFeed(
            dead=(_dead(REASON_EMPTY_FEED, source, "JSON Feed has no items", body, at=at),),
            format=fmt,
            title=title,
        )
    home = document.get("feed_url") if isinstance(document.get("feed_url"), str) else base_url
    entries, dead, truncated, repeats = _collect(
        _json_raws(items),
        source,
        canonicalize_url(home) or base_url,
        _language(document.get("language")),
        max_entries,
        at,
    )
    return ParsedFeed(tuple(entries), tuple(dead), (), fmt, title, truncated, tuple(repeats))


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(element: Any, *path: str) -> str:
    node = element
    for name in path:
        node = next((c for c in node if _local(c.tag) == name), None)
        if node is None:
            return ""
    return (node.text or "").strip()


def _sitemap_raws(root: Any) -> Iterable[RawEntry]:
    for url in root:
        if _local(url.tag) != "url":
            continue
        news = next((c for c in url if _local(c.tag) == "news"), None)
        loc = _child_text(url, "loc")
        if news is None:
            yield RawEntry(link=loc, published=parse_iso_datetime(_child_text(url, "lastmod")))
            continue
        keywords = _child_text(news, "keywords")
        yield RawEntry(
            link=loc,
            title=_child_text(news, "title"),
            published=parse_iso_datetime(_child_text(news, "publication_date"))
            or parse_iso_datetime(_child_text(url, "lastmod")),
            categories=[k for k in keywords.split(",")] if keywords else [],
            language=_child_text(news, "publication", "language") or None,
        )


def _parse_sitemap(
    body: bytes, source: FeedSource, base_url: str, max_entries: int, at: str | None
) -> ParsedFeed | None:
    """A sitemap or sitemap index, or ``None`` when the root is something else (a feed)."""
    from lxml import etree

    if _ENTITY_DECL.search(body[:65536]):
        return ParsedFeed(
            dead=(
                _dead(REASON_BAD_FEED, source, "XML entity declarations are refused", body, at=at),
            )
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        return ParsedFeed(
            dead=(_dead(REASON_BAD_FEED, source, f"invalid sitemap XML: {exc}", body, at=at),)
        )
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children: dict[str, str | None] = {}
        for sitemap in root:
            url = canonicalize_url(_child_text(sitemap, "loc"), base=base_url)
            if url and url not in children:
                children[url] = parse_iso_datetime(_child_text(sitemap, "lastmod"))
        if not children:
            return ParsedFeed(
                dead=(
                    _dead(
                        REASON_EMPTY_FEED, source, "sitemap index lists no sitemaps", body, at=at
                    ),
                ),
                format=kind,
            )
        # Newest first (undated last), then by URL: a stable choice of the children to follow.
        ranked = sorted(children.items())
        ranked.sort(key=lambda kv: kv[1] or "", reverse=True)
        return ParsedFeed(sitemaps=tuple(ranked[:MAX_CHILD_SITEMAPS]), format=kind)
    if kind != "urlset":
        return None
    entries, dead, truncated, repeats = _collect(
        _sitemap_raws(root), source, base_url, None, max_entries, at
    )
    if not entries and not dead:
        return ParsedFeed(
            dead=(_dead(REASON_EMPTY_FEED, source, "sitemap lists no URLs", body, at=at),),
            format="sitemap",
        )
    return ParsedFeed(tuple(entries), tuple(dead), (), "sitemap", "", truncated, tuple(repeats))


def raw_entries(
    body: bytes, headers: Mapping[str, str] | None = None, url: str = ""
) -> list[RawEntry]:
    """Every entry of a feed as announced, linked or not (sanitisation audits use it)."""
    import feedparser

    lowered = _lower_headers(headers)
    if url:
        lowered.setdefault("content-location", url)
    if _looks_like_json(body, lowered.get("content-type", "")):
        try:
            document = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return []
        items = document.get("items") if isinstance(document, dict) else None
        return list(_json_raws(items)) if isinstance(items, list) else []
    try:
        parsed = feedparser.parse(
            io.BytesIO(_CHAR_REF.sub(_safe_char_ref, body)), response_headers=lowered
        )
    except Exception:  # same contract as parse_feed: a document feedparser chokes on has none
        return []
    return list(_feedparser_raws(parsed))


def _looks_like_json(body: bytes, content_type: str) -> bool:
    """The body decides; the content type only for bodies that are not obviously XML."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") or ("json" in content_type and not head.startswith(b"<"))


def parse_feed(
    body: bytes,
    source: FeedSource,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    max_entries: int = MAX_ENTRIES,
    at: str | None = None,
) -> ParsedFeed:
    """Entries and dead letters from one fetched feed/sitemap document.

    ``url`` is where the document was finally fetched from (after redirects): relative links
    resolve against it. ``headers`` are the response headers (content type and charset matter
    to feedparser's encoding detection). ``at`` stamps dead letters (the fetch time) so replays
    produce identical records.
    """
    base_url = canonicalize_url(url or source.url) or source.url
    lowered = _lower_headers(headers)
    if not body or not body.strip():
        return ParsedFeed(dead=(_dead(REASON_BAD_FEED, source, "empty document", at=at),))
    try:
        body = _maybe_gunzip(body)
    except (OverflowError, zlib.error, EOFError) as exc:
        reason = REASON_TOO_LARGE if isinstance(exc, OverflowError) else REASON_BAD_FEED
        return ParsedFeed(dead=(_dead(reason, source, f"compressed body: {exc}", at=at),))
    if _looks_like_json(body, lowered.get("content-type", "")):
        return _parse_json_feed(body, source, base_url, max_entries, at)
    if _SITEMAP_ROOT.search(body[:65536]):
        sitemap = _parse_sitemap(body, source, base_url, max_entries, at)
        if sitemap is not None:
            return sitemap
    return _parse_with_feedparser(body, source, lowered, base_url, max_entries, at)
