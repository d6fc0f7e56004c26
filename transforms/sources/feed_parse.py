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

import io
import itertools
import json
import logging
import re
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from transforms.core.html_text import safe_text
from transforms.core.records import FeedSource
from transforms.core.urls import canonicalize_url
from transforms.sources.feed_entries import (
    _ENTRY_END,
    _ENTRY_START,
    _SITEMAP_ROOT,
    MAX_CHILD_SITEMAPS,
    MAX_DECOMPRESSED_BYTES,
    MAX_ENTRIES,
    REASON_BAD_FEED,
    REASON_EMPTY_FEED,
    REASON_NO_LINK,
    REASON_TOO_LARGE,
    REASON_TRUNCATED_FEED,
    STAGE,
    SUMMARY_MAX_CHARS,
    TITLE_MAX_CHARS,
    ParsedFeed,
    RawEntry,
    _collect,
    _count_entry_tags,
    _dead,
    _language,
    _lower_headers,
    _maybe_gunzip,
    _missing_root_end,
    _struct_to_iso,
    assign_ids,
    assign_ids_in_order,
    field_text,
    normalise_entry,
    parse_iso_datetime,
    raw_from_entry,
)
from transforms.sources.feed_formats import (
    _json_raws,
    _parse_json_feed,
    _parse_sitemap,
)

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_CHILD_SITEMAPS",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_ENTRIES",
    "REASON_BAD_FEED",
    "REASON_EMPTY_FEED",
    "REASON_NO_LINK",
    "REASON_TOO_LARGE",
    "REASON_TRUNCATED_FEED",
    "STAGE",
    "SUMMARY_MAX_CHARS",
    "TITLE_MAX_CHARS",
    "ParsedFeed",
    "RawEntry",
    "assign_ids",
    "assign_ids_in_order",
    "field_text",
    "normalise_entry",
    "parse_feed",
    "parse_iso_datetime",
    "raw_entries",
    "raw_from_entry",
]


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
    entries, dead, truncated, repeats, order = _collect(
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
        tuple(order),
    )


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
    body, lowered = _utf8_document(body, lowered)
    try:
        parsed = feedparser.parse(
            io.BytesIO(_CHAR_REF.sub(_safe_char_ref, body)), response_headers=lowered
        )
    except Exception:  # same contract as parse_feed: a document feedparser chokes on has none
        return []
    return list(_feedparser_raws(parsed))


def _utf8_document(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The XML document as UTF-8 (``as_utf8_xml``), with the headers saying so: every parser
    after this point (feedparser, lxml for sitemaps, the byte-level checks) reads one encoding."""
    from transforms.fetch.http.body import as_utf8_xml

    utf8, content_type = as_utf8_xml(body, headers.get("content-type"))
    headers = {k: v for k, v in headers.items() if k != "content-type"}
    if content_type:
        headers["content-type"] = content_type
    return utf8, headers


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
    body, lowered = _utf8_document(body, lowered)
    if _SITEMAP_ROOT.search(body[:65536]):
        sitemap = _parse_sitemap(body, source, base_url, max_entries, at)
        if sitemap is not None:
            return sitemap
    return _parse_with_feedparser(body, source, lowered, base_url, max_entries, at)
