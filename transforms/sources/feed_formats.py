"""The feed formats feedparser does not read: JSON Feed 1.0/1.1 and sitemaps (news sitemaps too).

Sitemaps are parsed with lxml configured not to resolve entities, load DTDs or touch the network,
and a document declaring entities is refused outright (billion laughs, XXE).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from transforms.core.html_text import safe_text
from transforms.core.records import FeedSource
from transforms.core.urls import canonicalize_url
from transforms.sources.feed_entries import (
    _ENTITY_DECL,
    _JSON_FEED_PREFIX,
    MAX_CHILD_SITEMAPS,
    REASON_BAD_FEED,
    REASON_EMPTY_FEED,
    TITLE_MAX_CHARS,
    ParsedFeed,
    RawEntry,
    _collect,
    _dead,
    _language,
    parse_iso_datetime,
)

logger = logging.getLogger(__name__)


def _json_raws(items: list[Any]) -> Iterable[RawEntry]:
    for item in items:
        if not isinstance(item, dict):
            # Listed, so accounted for: an item without a link, i.e. a no_link dead letter
            # whose payload shows what stood there (it used to vanish without a trace).
            shown = json.dumps(item, ensure_ascii=False)[:200]
            yield RawEntry(title=f"item is not a JSON object: {shown}")
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
    entries, dead, truncated, repeats, order = _collect(
        _json_raws(items),
        source,
        canonicalize_url(home) or base_url,
        _language(document.get("language")),
        max_entries,
        at,
    )
    return ParsedFeed(
        tuple(entries), tuple(dead), (), fmt, title, truncated, tuple(repeats), tuple(order)
    )


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
    entries, dead, truncated, repeats, order = _collect(
        _sitemap_raws(root), source, base_url, None, max_entries, at
    )
    if not entries and not dead:
        return ParsedFeed(
            dead=(_dead(REASON_EMPTY_FEED, source, "sitemap lists no URLs", body, at=at),),
            format="sitemap",
        )
    return ParsedFeed(
        tuple(entries), tuple(dead), (), "sitemap", "", truncated, tuple(repeats), tuple(order)
    )
