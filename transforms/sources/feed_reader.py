"""Read one feed: the pure step both the batch reader and the streaming poller run.

``read_feed(source, state, get, config, state_config)`` does everything one feed needs once it
is due: a conditional GET (validators from the feed's ``FeedState``), parsing
(``transforms.sources.feed_parse``: RSS/Atom/RDF/CDF, JSON Feed, news sitemaps; a sitemap
index's newest child sitemaps are fetched and parsed too), recent-entry selection for plain
sitemaps, the choice of entries no earlier read emitted, and the feed's next state. It returns
all of that as a ``FeedRead`` and touches nothing else: no Beam, no files, no clock (the run
key in ``state_config`` is the logical time), so

- the batch ``ReadFeedFn`` (``read_feeds.py``) calls it with the run's snapshot state and run key;
- the streaming ``PollFeedFn`` (``poll_feeds.py``) calls it with the state kept in Beam and the
  tick's time as run key;

and whether a feed is due is each caller's own decision (poll interval in run time for batch, a
per-feed schedule with backoff for streaming). Counters are returned as (name, increment) pairs
in the order they happened; the DoFns report them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from transforms.core.records import DeadLetter, FeedEntry, FeedSource, now_iso, utc_iso
from transforms.core.run import key_time
from transforms.fetch.http import Response
from transforms.fetch.stage import FetchConfig
from transforms.sources.feed_parse import MAX_CHILD_SITEMAPS, MAX_ENTRIES, ParsedFeed, parse_feed
from transforms.sources.feed_state import (
    FeedState,
    StateConfig,
    advance,
    carry,
    conditional_headers,
    select_new,
)

STAGE = "feeds"


@dataclass(frozen=True)
class FeedsConfig:
    fetch: FetchConfig
    state: StateConfig = field(default_factory=StateConfig)
    max_entries: int = MAX_ENTRIES
    max_child_sitemaps: int = MAX_CHILD_SITEMAPS
    # Sitemap URLs last modified longer ago than this (in run time) are not news; 0 keeps all.
    sitemap_max_age_days: float = 2.0


class FeedFetchError(Exception):
    def __init__(self, reason: str, message: str, at: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.at = at


# (url, etag, last_modified) -> the response; raises FeedFetchError
FeedGet = Callable[[str, str | None, str | None], Response]


class FeedClient:
    """Feed documents through the fetch stage's ``Fetcher``: one path for network, replay and
    capture, so feeds get the same SSRF guard, retries, deadlines and per-host pacing as pages."""

    def __init__(self, config: FetchConfig) -> None:
        from transforms.fetch.stage import Fetcher

        self._fetcher = Fetcher(config)

    def get(self, url: str, etag: str | None, last_modified: str | None) -> Response:
        from transforms.fetch.stage import FetchError

        try:
            return self._fetcher.get(url, etag=etag, last_modified=last_modified)
        except FetchError as err:
            raise FeedFetchError(err.reason, str(err), err.at) from err

    def close(self) -> None:
        self._fetcher.close()


@dataclass
class FeedRead:
    """What one read of one feed produced."""

    entries: list[FeedEntry] = field(default_factory=list)  # new ones only
    dead: list[DeadLetter] = field(default_factory=list)
    state: FeedState | None = None  # the feed's next state
    counts: list[tuple[str, int]] = field(default_factory=list)  # (counter name, increment)

    def count(self, name: str, n: int = 1) -> None:
        self.counts.append((name, n))


def read_feed(
    source: FeedSource,
    state: FeedState | None,
    get: FeedGet,
    config: FeedsConfig,
    state_config: StateConfig,
) -> FeedRead:
    """One due feed, read: new entries, dead letters, next state (see the module docstring)."""
    read = FeedRead()
    etag, last_modified = conditional_headers(state)
    try:
        response = get(source.url, etag, last_modified)
    except FeedFetchError as err:
        read.dead.append(_fetch_dead(read, source, source.url, err))
        read.state = carry(state, source.url, state_config)
        return read
    if response.not_modified:
        read.count("feeds_not_modified")
        read.state = advance(state, source.url, state_config, not_modified=True)
        return read
    read.count("feeds_read")
    entries, dead = _parse_all(read, source, response, get, config, state_config.run_key)
    document_ids = [e.entry_id for e in entries]
    document_ids += [d.entry_id for d in dead if d.entry_id]
    new_ids = set(select_new(state, document_ids))
    for letter in dead:
        if letter.entry_id is None or letter.entry_id in new_ids:
            read.count("feeds_dead")
            read.count(f"feeds_dead_{letter.reason}")
            if letter.entry_id is not None:
                read.count("entries_read")
            read.dead.append(letter)
    read.entries = [entry for entry in entries if entry.entry_id in new_ids]
    read.count("entries_read", len(read.entries))
    read.count("feeds_entries", len(read.entries))
    read.count("feeds_entries_seen_before", len(entries) - len(read.entries))
    read.state = advance(
        state,
        source.url,
        state_config,
        document_ids=document_ids,
        emitted_ids=sorted(new_ids),
        etag=response.etag,
        last_modified=response.last_modified,
    )
    return read


def _fetch_dead(read: FeedRead, source: FeedSource, url: str, err: FeedFetchError) -> DeadLetter:
    read.count("feeds_dead")
    read.count(f"feeds_dead_{err.reason}")
    return DeadLetter(
        stage=STAGE,
        reason=err.reason,
        url=url,
        error=str(err),
        feed_url=source.url,
        at=err.at or now_iso(),
    )


def _recent(read: FeedRead, parsed: ParsedFeed, config: FeedsConfig, run_key: str) -> list:
    """Entries of a (non-news) sitemap that changed recently; feeds are kept whole.

    A site's full sitemap lists every page it ever published; only recently modified URLs
    are candidate news. Undated URLs are kept. "Recent" is measured from the run's logical
    time, so the choice is the same on every re-run.
    """
    days = config.sitemap_max_age_days
    if parsed.format != "sitemap" or days <= 0 or not run_key:
        return list(parsed.entries)
    cutoff = utc_iso(key_time(run_key) - timedelta(days=days))
    kept = [e for e in parsed.entries if not e.published_at or e.published_at >= cutoff]
    read.count("feeds_sitemap_entries_too_old", len(parsed.entries) - len(kept))
    return kept


def _parse_all(
    read: FeedRead,
    source: FeedSource,
    response: Response,
    get: FeedGet,
    config: FeedsConfig,
    run_key: str,
) -> tuple[list[FeedEntry], list[DeadLetter]]:
    """Entries and dead letters of the document and, for a sitemap index, its children, with
    duplicates across documents removed; fetch failures of child sitemaps go to ``read.dead``."""
    parsed = parse_feed(
        response.body,
        source,
        response.header_map(),
        url=response.final_url,
        max_entries=config.max_entries,
        at=response.fetched_at,
    )
    read.count("feeds_truncated_entries", parsed.truncated)
    entries: dict[str, FeedEntry] = {e.entry_id: e for e in _recent(read, parsed, config, run_key)}
    dead: list[DeadLetter] = list(parsed.dead)
    for child_url, _lastmod in parsed.sitemaps[: config.max_child_sitemaps]:
        read.count("feeds_child_sitemaps")
        try:
            child = get(child_url, None, None)
        except FeedFetchError as err:
            read.dead.append(_fetch_dead(read, source, child_url, err))
            continue
        nested = parse_feed(
            child.body,
            source,
            child.header_map(),
            url=child.final_url,
            max_entries=config.max_entries,
            at=child.fetched_at,
        )
        if nested.sitemaps:
            read.count("feeds_nested_index_ignored")
        for entry in _recent(read, nested, config, run_key):
            if len(entries) < config.max_entries:
                entries.setdefault(entry.entry_id, entry)
        dead.extend(nested.dead)
    return list(entries.values()), dead
