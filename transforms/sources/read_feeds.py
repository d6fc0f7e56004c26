"""ReadFeeds: feed sources to the new entries they announce, fetching only what changed.

One element per feed: its ``FeedSource`` joined (by URL) with what earlier runs learned about
it (``transforms.sources.feed_state``). For each feed the stage

1. skips it when its poll interval has not passed in logical run time (``--run_date``);
2. fetches the document with a conditional GET (ETag / Last-Modified from the state); a 304
   ends there;
3. parses it (``transforms.sources.feed_parse``: RSS/Atom/RDF/CDF, JSON Feed, news sitemaps;
   a sitemap index's newest child sitemaps are fetched and parsed too);
4. emits only entries whose ids no earlier run emitted, and the feed's next state.

Outputs: ``ok`` (``FeedEntry``), ``dead`` (``DeadLetter``: fetch failures, ``bad_feed``,
``empty_feed``, ``too_large``, ``no_link``) and ``state`` (``FeedState``, one per feed, only with
``--state_location``), which ``pipeline.graph`` commits with ``CommitFeedState`` once the outputs
are written. Parsing is a pure function of the fetched bytes, so a bundle retried by the runner
emits the same entries with the same ids.

Fetching goes through the shared HTTP client (``transforms.fetch.http``, SSRF guard, retries, caps,
conditional GET) when it is installed, otherwise through the fetch stage's ``Fetcher``; with
``--replay`` documents come from the WARC archive, and ``--capture_warc`` records them.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.core.records import DeadLetter, FeedEntry, FeedSource, now_iso, utc_iso
from transforms.fetch.http import Response
from transforms.fetch.stage import FetchConfig
from transforms.sources.feed_health import FeedHealth
from transforms.sources.feed_parse import (
    MAX_CHILD_SITEMAPS,
    MAX_ENTRIES,
    REASON_BAD_FEED,
    REASON_EMPTY_FEED,
    REASON_NO_LINK,
    REASON_TOO_LARGE,
    ParsedFeed,
    assign_ids,
    parse_feed,
)
from transforms.sources.feed_state import (
    FeedState,
    ReadFeedStates,
    StateConfig,
    advance,
    carry,
    conditional_headers,
    feed_key_for,
    is_due,
    key_time,
    run_key_for,
    select_new,
)

LOG = logging.getLogger(__name__)
NAMESPACE = "wirestream"
STAGE = "feeds"

__all__ = [
    "REASON_BAD_FEED",
    "REASON_EMPTY_FEED",
    "REASON_NO_LINK",
    "REASON_TOO_LARGE",
    "FeedsConfig",
    "ReadFeeds",
    "add_arguments",
    "config_from_options",
]


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
class _Read:
    """Everything one feed's document(s) listed, before the seen-before selection."""

    entries: list[FeedEntry] = field(default_factory=list)
    repeats: list[FeedEntry] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    cut: int = 0
    too_old: int = 0

    @property
    def listed(self) -> int:
        entry_dead = sum(1 for d in self.dead if d.entry_id is not None)
        return len(self.entries) + len(self.repeats) + entry_dead + self.cut + self.too_old

    @property
    def failed(self) -> bool:
        """No usable document: only feed-level dead letters (bad, truncated, empty, too large)."""
        return not self.listed and any(d.entry_id is None for d in self.dead)


class ReadFeedFn(beam.DoFn):
    """(FeedSource, FeedState | None) -> new FeedEntry; dead letters, next state and the
    feed's health tagged.

    Accounting starts here: ``entries_listed`` counts every item a document lists, and each one
    is emitted (an entry, or a repeat that ends as a ``same_url`` duplicate), a dead letter, or
    counted by name: ``entries_seen_before`` (an earlier run handed it downstream),
    ``entries_cut`` (beyond ``--feed_max_entries``), ``entries_too_old`` (old sitemap URLs).
    """

    DEAD = "dead"
    STATE = "state"
    HEALTH = "health"

    def __init__(self, config: FeedsConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.client = FeedClient(self.config.fetch)

    def teardown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    @staticmethod
    def _count(outcome: str, n: int = 1) -> None:
        Metrics.counter(NAMESPACE, f"feeds_{outcome}").inc(n)

    def _fetch_dead(self, source: FeedSource, url: str, err: FeedFetchError) -> DeadLetter:
        self._count("dead")
        self._count(f"dead_{err.reason}")
        return DeadLetter(
            stage=STAGE,
            reason=err.reason,
            url=url,
            error=str(err),
            feed_url=source.url,
            at=err.at or now_iso(),
        )

    def _health(
        self, source: FeedSource, state: FeedState | None, **values
    ) -> beam.pvalue.TaggedOutput:
        if values.get("failed"):
            values.setdefault("last_success", state.last_success if state else None)
        return beam.pvalue.TaggedOutput(
            self.HEALTH, FeedHealth(feed_url=source.url, name=source.name, **values)
        )

    def process(self, element: tuple[FeedSource, FeedState | None]) -> Iterator:
        source, state = element
        config = self.config.state
        self._count("listed")
        if config.enabled and not is_due(state, source.poll_minutes, config.run_key):
            self._count("not_due")
            yield beam.pvalue.TaggedOutput(self.STATE, carry(state, source.url, config))
            yield self._health(
                source,
                state,
                due=False,
                last_error=state.last_error if state else None,
                last_success=state.last_success if state else None,
            )
            return
        etag, last_modified = conditional_headers(state) if config.enabled else (None, None)
        try:
            response = self.client.get(source.url, etag, last_modified)
        except FeedFetchError as err:
            letter = self._fetch_dead(source, source.url, err)
            yield beam.pvalue.TaggedOutput(self.DEAD, letter)
            if config.enabled:
                yield beam.pvalue.TaggedOutput(
                    self.STATE, carry(state, source.url, config, error=letter.error)
                )
            self._count("failed")
            yield self._health(source, state, failed=True, last_error=letter.error)
            return
        if response.not_modified:
            self._count("not_modified")
            if config.enabled:
                yield beam.pvalue.TaggedOutput(
                    self.STATE,
                    advance(state, source.url, config, not_modified=True, at=response.fetched_at),
                )
            yield self._health(source, state, not_modified=True, last_success=response.fetched_at)
            return
        self._count("read")
        read = yield from self._parse_all(source, response)
        yield from self._emit(source, state, response, read)

    def _emit(
        self, source: FeedSource, state: FeedState | None, response: Response, read: _Read
    ) -> Iterator:
        config = self.config.state
        listed = Metrics.counter(NAMESPACE, "entries_listed")
        listed.inc(read.listed)
        self._count("entries_cut", read.cut)
        self._count("entries_repeated", len(read.repeats))
        if read.failed:
            # No usable document: its dead letters, and the state stays where it was so the
            # next run reads the feed again in full.
            for letter in read.dead:
                self._count("dead")
                self._count(f"dead_{letter.reason}")
                yield beam.pvalue.TaggedOutput(self.DEAD, letter)
            error = next(d.error for d in read.dead if d.entry_id is None)
            if config.enabled:
                yield beam.pvalue.TaggedOutput(
                    self.STATE, carry(state, source.url, config, error=error)
                )
            self._count("failed")
            yield self._health(source, state, failed=True, last_error=error)
            return
        document_ids = [e.entry_id for e in [*read.entries, *read.repeats]]
        document_ids += [d.entry_id for d in read.dead if d.entry_id]
        new_ids = set(select_new(state, document_ids)) if config.enabled else set(document_ids)
        emitted = 0
        for letter in read.dead:
            if letter.entry_id is None or letter.entry_id in new_ids:
                self._count("dead")
                self._count(f"dead_{letter.reason}")
                emitted += letter.entry_id is not None
                yield beam.pvalue.TaggedOutput(self.DEAD, letter)
        for entry in [*read.entries, *read.repeats]:
            if entry.entry_id in new_ids:
                emitted += 1
                yield entry
        seen_before = len(document_ids) - emitted
        Metrics.counter(NAMESPACE, "entries_read").inc(emitted)
        Metrics.counter(NAMESPACE, "entries_seen_before").inc(seen_before)
        self._count("entries", emitted)
        self._count("entries_seen_before", seen_before)
        if config.enabled:
            yield beam.pvalue.TaggedOutput(
                self.STATE,
                advance(
                    state,
                    source.url,
                    config,
                    document_ids=document_ids,
                    emitted_ids=sorted(new_ids),
                    etag=response.etag,
                    last_modified=response.last_modified,
                    at=response.fetched_at,
                ),
            )
        yield self._health(
            source,
            state,
            entries_listed=read.listed,
            seen_before=seen_before,
            cut=read.cut,
            too_old=read.too_old,
            repeats=len(read.repeats),
            last_success=response.fetched_at,
        )

    def _recent(self, parsed: ParsedFeed, read: _Read) -> tuple[list[FeedEntry], list[FeedEntry]]:
        """Entries and repeats of a (non-news) sitemap that changed recently; feeds whole.

        A site's full sitemap lists every page it ever published; only recently modified URLs
        are candidate news. Undated URLs are kept. "Recent" is measured from the run's logical
        time, so the choice is the same on every re-run; the others are counted
        (``entries_too_old``), never silently dropped.
        """
        days = self.config.sitemap_max_age_days
        if parsed.format != "sitemap" or days <= 0 or not self.config.state.run_key:
            return list(parsed.entries), list(parsed.repeats)
        cutoff = utc_iso(key_time(self.config.state.run_key) - timedelta(days=days))

        def fresh(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
            return [e for e in entries if not e.published_at or e.published_at >= cutoff]

        kept, repeats = fresh(parsed.entries), fresh(parsed.repeats)
        old = len(parsed.entries) + len(parsed.repeats) - len(kept) - len(repeats)
        read.too_old += old
        self._count("sitemap_entries_too_old", old)
        Metrics.counter(NAMESPACE, "entries_too_old").inc(old)
        return kept, repeats

    def _parse_all(self, source: FeedSource, response: Response):
        """Everything the document and, for a sitemap index, its children list.

        A generator only so fetch failures of child sitemaps can be yielded as they happen;
        returns a ``_Read``. An entry listed by two child sitemaps is a repeat (a ``same_url``
        duplicate), and entries beyond ``max_entries`` over all children are counted as cut.
        """
        parsed = parse_feed(
            response.body,
            source,
            response.header_map(),
            url=response.final_url,
            max_entries=self.config.max_entries,
            at=response.fetched_at,
        )
        self._count("truncated_entries", parsed.truncated)
        read = _Read(dead=list(parsed.dead), cut=parsed.truncated)
        entries, repeats = self._recent(parsed, read)
        if not parsed.sitemaps:
            read.entries, read.repeats = entries, repeats
            return read
        gathered: list[FeedEntry] = [*entries, *repeats]
        for child_url, _lastmod in parsed.sitemaps[: self.config.max_child_sitemaps]:
            self._count("child_sitemaps")
            try:
                child = self.client.get(child_url, None, None)
            except FeedFetchError as err:
                yield beam.pvalue.TaggedOutput(self.DEAD, self._fetch_dead(source, child_url, err))
                continue
            nested = parse_feed(
                child.body,
                source,
                child.header_map(),
                url=child.final_url,
                max_entries=self.config.max_entries,
                at=child.fetched_at,
            )
            if nested.sitemaps:
                self._count("nested_index_ignored")
            read.cut += nested.truncated
            kept, kept_repeats = self._recent(nested, read)
            gathered += [*kept, *kept_repeats]
            read.dead.extend(nested.dead)
        room = max(0, self.config.max_entries - len(read.dead))
        read.cut += max(0, len(gathered) - room)
        read.entries, read.repeats = assign_ids(gathered[:room], source.url)
        return read


def _pair_with_state(item) -> Iterator[tuple[FeedSource, FeedState | None]]:
    _, grouped = item
    states = sorted(grouped["state"], key=lambda s: s.to_json())
    for source in grouped["source"]:
        yield source, (states[0] if states else None)


class ReadFeeds(beam.PTransform):
    """FeedSource -> {"ok": FeedEntry, "dead": DeadLetter, "state": FeedState,
    "health": FeedHealth}."""

    def __init__(self, config: FeedsConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, sources):
        if self.config.state.enabled:
            states = sources.pipeline | "ReadFeedStates" >> ReadFeedStates(self.config.state)
            keyed = sources | "SourceByUrl" >> beam.Map(lambda s: (feed_key_for(s.url), s))
            pairs = (
                {"source": keyed, "state": states}
                | "JoinFeedState" >> beam.CoGroupByKey()
                | "PairWithState" >> beam.FlatMap(_pair_with_state)
            )
        else:
            pairs = sources | "WithoutState" >> beam.Map(lambda s: (s, None))
        results = pairs | "ReadFeed" >> beam.ParDo(ReadFeedFn(self.config)).with_outputs(
            ReadFeedFn.DEAD, ReadFeedFn.STATE, ReadFeedFn.HEALTH, main="ok"
        )
        return {
            "ok": results.ok,
            "dead": results[ReadFeedFn.DEAD],
            "state": results[ReadFeedFn.STATE],
            "health": results[ReadFeedFn.HEALTH],
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("feeds")
    group.add_argument(
        "--feed_state_horizon_days",
        type=float,
        default=StateConfig.horizon_days,
        help="With --state_location: how long an entry id that left its feed is remembered, "
        "so it is not emitted again if the feed re-lists it.",
    )
    group.add_argument(
        "--feed_state_max_ids",
        type=int,
        default=StateConfig.max_ids_per_feed,
        help="With --state_location: most entry ids remembered per feed (newest kept).",
    )
    group.add_argument(
        "--feed_max_entries",
        type=int,
        default=MAX_ENTRIES,
        help="Most entries read from one feed or sitemap document; the rest are dropped and "
        "counted (feeds_truncated_entries).",
    )
    group.add_argument(
        "--sitemap_max_age_days",
        type=float,
        default=2.0,
        help="Sitemap URLs whose lastmod/publication date is older than this many days before "
        "--run_date are skipped (a site's full sitemap is not news); 0 keeps them all.",
    )
    group.add_argument(
        "--sitemap_max_children",
        type=int,
        default=MAX_CHILD_SITEMAPS,
        help="Most child sitemaps followed from a sitemap index, newest (lastmod) first.",
    )


def config_from_options(options) -> FeedsConfig:
    from transforms.fetch import stage as fetch

    opts = options.get_all_options()
    location = opts.get("state_location")
    state = StateConfig(
        location=location.rstrip("/") if location else None,
        run_key=run_key_for(opts.get("run_date")),
        horizon_days=opts.get("feed_state_horizon_days") or StateConfig.horizon_days,
        max_ids_per_feed=opts.get("feed_state_max_ids") or StateConfig.max_ids_per_feed,
    )
    return FeedsConfig(
        fetch=fetch.config_from_options(options),
        state=state,
        max_entries=opts.get("feed_max_entries") or MAX_ENTRIES,
        max_child_sitemaps=opts.get("sitemap_max_children") or MAX_CHILD_SITEMAPS,
        sitemap_max_age_days=2.0
        if opts.get("sitemap_max_age_days") is None
        else float(opts["sitemap_max_age_days"]),
    )
