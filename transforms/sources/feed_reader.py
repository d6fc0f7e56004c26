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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from transforms.core.records import DeadLetter, FeedEntry, FeedSource, now_iso, utc_iso
from transforms.core.run import key_time
from transforms.fetch.http import Response
from transforms.fetch.stage import FetchConfig
from transforms.sources.feed_health import FeedHealth
from transforms.sources.feed_parse import (
    MAX_CHILD_SITEMAPS,
    MAX_ENTRIES,
    ParsedFeed,
    assign_ids_in_order,
    parse_feed,
)
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
    health: FeedHealth | None = None  # the feed's row in the run report

    def count(self, name: str, n: int = 1) -> None:
        self.counts.append((name, n))


@dataclass
class _Listed:
    """Everything the feed's document(s) listed, before the seen-before selection."""

    entries: list[FeedEntry] = field(default_factory=list)
    repeats: list[FeedEntry] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    cut: int = 0
    too_old: int = 0
    order: list[str] = field(default_factory=list)  # item ids in document order

    @property
    def listed(self) -> int:
        entry_dead = sum(1 for d in self.dead if d.entry_id is not None)
        return len(self.entries) + len(self.repeats) + entry_dead + self.cut + self.too_old

    @property
    def failed(self) -> bool:
        """No usable document: only feed-level dead letters (bad, truncated, empty, too large)."""
        return not self.listed and any(d.entry_id is None for d in self.dead)


def health_of(source: FeedSource, state: FeedState | None, **values) -> FeedHealth:
    """The feed's report row; a failed read keeps the last success the state remembers."""
    if values.get("failed") or not values.get("due", True):
        values.setdefault("last_success", state.last_success if state else None)
    if not values.get("due", True):
        values.setdefault("last_error", state.last_error if state else None)
    return FeedHealth(feed_url=source.url, name=source.name, **values)


def read_feed(
    source: FeedSource,
    state: FeedState | None,
    get: FeedGet,
    config: FeedsConfig,
    state_config: StateConfig,
) -> FeedRead:
    """One due feed, read: new entries, dead letters, next state (see the module docstring).

    Accounting starts here: ``entries_listed`` counts every item the document lists, and each
    one is emitted (an entry, or a repeat that ends as a ``same_url`` duplicate), a dead letter,
    or counted by name: ``entries_seen_before`` (an earlier read handed it downstream),
    ``feeds_entries_cut`` (beyond ``--feed_max_entries``), ``entries_too_old`` (old sitemap
    URLs). A document that yields nothing usable (bad, cut short, empty) leaves the state where
    it was, so the next read fetches the feed in full.

    ``--feed_max_entries`` caps the items no earlier read emitted, the first ones in document
    order: capping the document instead would cut the same items on every run once the first
    N are seen, and a backlog past the cap would never be read. Items beyond the cap are not
    marked seen, so a later read takes them.
    """
    read = FeedRead()
    etag, last_modified = conditional_headers(state)
    try:
        response = get(source.url, etag, last_modified)
    except FeedFetchError as err:
        letter = _fetch_dead(read, source, source.url, err)
        read.dead.append(letter)
        read.state = carry(state, source.url, state_config, error=letter.error)
        read.count("feeds_failed")
        read.health = health_of(source, state, failed=True, last_error=letter.error)
        return read
    if response.not_modified:
        read.count("feeds_not_modified")
        read.state = advance(
            state, source.url, state_config, not_modified=True, at=response.fetched_at
        )
        read.health = health_of(source, state, not_modified=True, last_success=response.fetched_at)
        return read
    read.count("feeds_read")
    listed = _parse_all(read, source, response, get, config, state_config.run_key)
    read.count("entries_listed", listed.listed)
    read.count("feeds_entries_repeated", len(listed.repeats))
    if listed.failed:
        for letter in listed.dead:
            read.count("feeds_dead")
            read.count(f"feeds_dead_{letter.reason}")
            read.dead.append(letter)
        error = next(d.error for d in listed.dead if d.entry_id is None)
        read.state = carry(state, source.url, state_config, error=error)
        read.count("feeds_entries_cut", listed.cut)
        read.count("feeds_failed")
        read.health = health_of(source, state, failed=True, last_error=error)
        return read
    everything = [*listed.entries, *listed.repeats]
    document_ids = [e.entry_id for e in everything]
    document_ids += [d.entry_id for d in listed.dead if d.entry_id]
    unseen = select_new(state, _in_document_order(listed.order, document_ids))
    new_ids = set(unseen[: config.max_entries])
    beyond = len(unseen) - len(new_ids)
    cut = listed.cut + beyond
    read.count("feeds_entries_cut", cut)
    read.count("feeds_entries_beyond_cap", beyond)
    emitted = 0
    for letter in listed.dead:
        if letter.entry_id is None or letter.entry_id in new_ids:
            read.count("feeds_dead")
            read.count(f"feeds_dead_{letter.reason}")
            if letter.entry_id is not None:
                read.count("entries_read")
                emitted += 1
            read.dead.append(letter)
    read.entries = [entry for entry in everything if entry.entry_id in new_ids]
    emitted += len(read.entries)
    seen_before = len(document_ids) - emitted - beyond
    read.count("entries_read", len(read.entries))
    read.count("feeds_entries", emitted)  # entries and entry-level dead letters from feeds
    read.count("entries_seen_before", seen_before)
    read.count("feeds_entries_seen_before", seen_before)
    read.state = advance(
        state,
        source.url,
        state_config,
        document_ids=document_ids,
        emitted_ids=sorted(new_ids),
        etag=response.etag,
        last_modified=response.last_modified,
        at=response.fetched_at,
    )
    read.health = health_of(
        source,
        state,
        entries_listed=listed.listed,
        seen_before=seen_before,
        cut=cut,
        too_old=listed.too_old,
        repeats=len(listed.repeats),
        last_success=response.fetched_at,
    )
    return read


def _in_document_order(order: list[str], ids: list[str]) -> list[str]:
    """``ids`` in document order; any the parser did not place keep their given order, last."""
    placed = set(order)
    known = set(ids)
    return [i for i in order if i in known] + [i for i in ids if i not in placed]


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


def _recent(
    read: FeedRead, listed: _Listed, parsed: ParsedFeed, config: FeedsConfig, run_key: str
) -> tuple[list[FeedEntry], list[FeedEntry]]:
    """Entries and repeats of a (non-news) sitemap that changed recently; feeds whole.

    A site's full sitemap lists every page it ever published; only recently modified URLs
    are candidate news. Undated URLs are kept. "Recent" is measured from the run's logical
    time, so the choice is the same on every re-run; the others are counted
    (``entries_too_old``), never silently dropped.
    """
    days = config.sitemap_max_age_days
    if parsed.format != "sitemap" or days <= 0 or not run_key:
        return list(parsed.entries), list(parsed.repeats)
    cutoff = utc_iso(key_time(run_key) - timedelta(days=days))

    def fresh(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        return [e for e in entries if not e.published_at or e.published_at >= cutoff]

    kept, repeats = fresh(parsed.entries), fresh(parsed.repeats)
    old = len(parsed.entries) + len(parsed.repeats) - len(kept) - len(repeats)
    listed.too_old += old
    read.count("feeds_sitemap_entries_too_old", old)
    read.count("entries_too_old", old)
    return kept, repeats


def _parse_all(
    read: FeedRead,
    source: FeedSource,
    response: Response,
    get: FeedGet,
    config: FeedsConfig,
    run_key: str,
) -> _Listed:
    """Everything the document and, for a sitemap index, its children list; fetch failures of
    child sitemaps go to ``read.dead``. An entry listed by two child sitemaps is a repeat (a
    ``same_url`` duplicate); entries beyond the parse limit over all children are counted cut.

    Documents are read up to ``parse_limit(config)``, not to ``--feed_max_entries``: that cap
    applies later, to the entries no earlier run emitted, and ids are assigned over the whole
    document so an entry keeps its id whatever the cap."""
    limit = parse_limit(config)
    parsed = parse_feed(
        response.body,
        source,
        response.header_map(),
        url=response.final_url,
        max_entries=limit,
        at=response.fetched_at,
    )
    read.count("feeds_truncated_entries", parsed.truncated)
    listed = _Listed(dead=list(parsed.dead), cut=parsed.truncated)
    entries, repeats = _recent(read, listed, parsed, config, run_key)
    if not parsed.sitemaps:
        listed.entries, listed.repeats = entries, repeats
        kept = {e.entry_id for e in (*entries, *repeats)} | {d.entry_id for d in parsed.dead}
        listed.order = [i for i in parsed.order if i in kept]
        return listed
    gathered: list[FeedEntry] = [*entries, *repeats]
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
            max_entries=limit,
            at=child.fetched_at,
        )
        if nested.sitemaps:
            read.count("feeds_nested_index_ignored")
        listed.cut += nested.truncated
        kept, kept_repeats = _recent(read, listed, nested, config, run_key)
        gathered += [*kept, *kept_repeats]
        listed.dead.extend(nested.dead)
    room = max(0, limit - len(listed.dead))
    listed.cut += max(0, len(gathered) - room)
    ordered = assign_ids_in_order(gathered[:room], source.url)
    listed.entries = [entry for entry, repeat in ordered if not repeat]
    listed.repeats = [entry for entry, repeat in ordered if repeat]
    # Children in the index's order (newest first); a child's link-less items after its entries.
    listed.order = [entry.entry_id for entry, _ in ordered]
    listed.order += [d.entry_id for d in listed.dead if d.entry_id]
    return listed


def parse_limit(config: FeedsConfig) -> int:
    """Most items read from one document: never fewer than the built-in bound, so a low
    ``--feed_max_entries`` still sees the entries after the ones earlier runs emitted."""
    return max(config.max_entries, MAX_ENTRIES)
