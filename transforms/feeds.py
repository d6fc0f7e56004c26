"""ReadFeeds: fetch each feed document and turn its entries into ``FeedEntry`` records.

feedparser reads RSS 0.9x/1.0/2.0, Atom and RDF alike and never raises on bad markup; it flags
problems with ``bozo`` instead. A feed that yields no entries is a dead letter (``bad_feed`` when
it did not parse, ``empty_feed`` when it parsed but was empty); a feed that parsed with
problems but still yielded entries is kept, since real feeds are often slightly broken.
"""

from __future__ import annotations

import argparse
import calendar
import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.fetch import FetchConfig, Fetcher, FetchError
from transforms.records import DeadLetter, FeedEntry, FeedSource, excerpt, now_iso, stable_hash

LOG = logging.getLogger(__name__)
NAMESPACE = "wirestream"

REASON_BAD_FEED = "bad_feed"
REASON_EMPTY_FEED = "empty_feed"
REASON_NO_LINK = "no_link"

_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|igshid)$", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]{0,2000}>")


@dataclass(frozen=True)
class FeedsConfig:
    fetch: FetchConfig


def canonicalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports, fragments and tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    )
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def to_text(markup: str) -> str:
    """Feed titles and summaries may carry HTML; downstream wants plain text only."""
    return " ".join(html.unescape(_TAGS.sub(" ", markup or "")).split())


def _published(entry) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
    return None


Problem = tuple[str, str, str, str | None]  # reason, url, error, entry_id (None: whole feed)


def parse_feed(
    source: FeedSource, body: bytes, headers: dict[str, str]
) -> tuple[list[FeedEntry], list[Problem]]:
    """Return the entries of one feed document, and what was lost with the reason why."""
    import feedparser

    parsed = feedparser.parse(body, response_headers=headers)
    problems: list[Problem] = []
    if not parsed.entries:
        if parsed.bozo:
            error = str(parsed.get("bozo_exception"))
            problems.append((REASON_BAD_FEED, source.url, error, None))
        else:
            problems.append((REASON_EMPTY_FEED, source.url, "the feed has no entries", None))
        return [], problems
    entries = []
    for item in parsed.entries:
        link = item.get("link") or ""
        guid = item.get("id") or link or to_text(item.get("title", ""))
        if not link.startswith(("http://", "https://")):
            error = f"entry without an http(s) link: {link[:200]!r}"
            problems.append((REASON_NO_LINK, source.url, error, stable_hash(source.url, guid)))
            continue
        entries.append(
            FeedEntry(
                entry_id=stable_hash(source.url, guid),
                feed_url=source.url,
                feed_name=source.name or to_text(parsed.feed.get("title", "")),
                url=link,
                canonical_url=canonicalize_url(link),
                title=to_text(item.get("title", "")),
                summary=to_text(item.get("summary", "")),
                published_at=_published(item),
                categories=tuple(t.get("term", "") for t in item.get("tags", []) if t.get("term")),
                authors=tuple(a.get("name", "") for a in item.get("authors", []) if a.get("name")),
                language_hint=source.language or parsed.feed.get("language") or None,
                feed_tags=source.tags,
                guid=guid,
            )
        )
    return entries, problems


class ReadFeedFn(beam.DoFn):
    DEAD = "dead"

    def __init__(self, config: FeedsConfig) -> None:
        self.config = config
        self.read = Metrics.counter(NAMESPACE, "feeds_read")
        self.entries = Metrics.counter(NAMESPACE, "entries_read")

    def setup(self) -> None:
        self.fetcher = Fetcher(self.config.fetch)

    def process(self, source: FeedSource) -> Iterator:
        try:
            response = self.fetcher.get(source.url)
        except FetchError as err:
            Metrics.counter(NAMESPACE, "feeds_dead").inc()
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                DeadLetter(
                    stage="feeds",
                    reason=err.reason,
                    url=source.url,
                    error=str(err),
                    feed_url=source.url,
                    at=err.at or now_iso(),
                ),
            )
            return
        entries, problems = parse_feed(source, response.body, response.headers)
        self.read.inc()
        for reason, url, error, entry_id in problems:
            Metrics.counter(NAMESPACE, f"feeds_dead_{reason}").inc()
            if entry_id is not None:
                self.entries.inc()
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                DeadLetter(
                    stage="feeds",
                    reason=reason,
                    url=url,
                    error=error,
                    feed_url=source.url,
                    payload=excerpt(response.body, 500),
                    at=response.fetched_at,
                    entry_id=entry_id,
                ),
            )
        for entry in entries:
            self.entries.inc()
            yield entry


class ReadFeeds(beam.PTransform):
    """FeedSource -> {"ok": FeedEntry, "dead": DeadLetter}."""

    def __init__(self, config: FeedsConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, sources):
        results = sources | "ReadFeed" >> beam.ParDo(ReadFeedFn(self.config)).with_outputs(
            ReadFeedFn.DEAD, main="ok"
        )
        return {"ok": results.ok, "dead": results[ReadFeedFn.DEAD]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Feed reading has no flags of its own yet; fetching flags live in transforms.fetch."""


def config_from_options(options) -> FeedsConfig:
    from transforms import fetch

    return FeedsConfig(fetch=fetch.config_from_options(options))
