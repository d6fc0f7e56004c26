"""ReadFeeds: feed sources to the new entries they announce, fetching only what changed.

One element per feed: its ``FeedSource`` joined (by URL) with what earlier runs learned about
it (``transforms.sources.feed_state``). For each feed the stage

1. skips it when its poll interval has not passed in logical run time (``--run_date``);

and reads it with ``read_feed`` (``transforms.sources.feed_reader``, the step the streaming
poller shares), which

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
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.core.records import FeedSource
from transforms.core.run import RunIdentity
from transforms.fetch.stage import FetchConfig
from transforms.sources.feed_parse import (
    MAX_CHILD_SITEMAPS,
    MAX_ENTRIES,
    REASON_BAD_FEED,
    REASON_EMPTY_FEED,
    REASON_NO_LINK,
    REASON_TOO_LARGE,
)
from transforms.sources.feed_reader import FeedClient, FeedsConfig, health_of, read_feed
from transforms.sources.feed_state import (
    FeedState,
    ReadFeedStates,
    StateConfig,
    carry,
    feed_key_for,
    is_due,
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


class ReadFeedFn(beam.DoFn):
    """(FeedSource, FeedState | None) -> new FeedEntry; dead letters and next state tagged.

    A thin wrapper of ``read_feed`` (``feed_reader.py``): this DoFn adds the batch run's own
    decisions, whether the feed is due in run time and whether state is kept at all.
    """

    DEAD = "dead"
    STATE = "state"
    HEALTH = "health"  # the feed's row of the run report (transforms/sources/feed_health.py)

    def __init__(self, config: FeedsConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.client = FeedClient(self.config.fetch)

    def teardown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def process(self, element: tuple[FeedSource, FeedState | None]) -> Iterator:
        source, state = element
        config = self.config.state
        if config.enabled and not is_due(state, source.poll_minutes, config.run_key):
            Metrics.counter(NAMESPACE, "feeds_not_due").inc()
            yield beam.pvalue.TaggedOutput(self.STATE, carry(state, source.url, config))
            yield beam.pvalue.TaggedOutput(self.HEALTH, health_of(source, state, due=False))
            return
        read = read_feed(source, state, self.client.get, self.config, config)
        for name, n in read.counts:
            Metrics.counter(NAMESPACE, name).inc(n)
        for letter in read.dead:
            yield beam.pvalue.TaggedOutput(self.DEAD, letter)
        yield from read.entries
        if config.enabled and read.state is not None:
            yield beam.pvalue.TaggedOutput(self.STATE, read.state)
        if read.health is not None:
            yield beam.pvalue.TaggedOutput(self.HEALTH, read.health)


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
        help="Most entries taken from one feed or sitemap document per run, counting only "
        "entries no earlier run emitted (with --state_location), first in document order; "
        "the rest are counted (feeds_entries_cut) and left for a later run.",
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


class FeedsOptions(PipelineOptions):
    """The feed-reading flags, typed: ``options.view_as(FeedsOptions)``."""

    feed_state_horizon_days: float
    feed_state_max_ids: int
    feed_max_entries: int
    sitemap_max_age_days: float
    sitemap_max_children: int

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(
    options: PipelineOptions,
    run: RunIdentity,
    state_location: str | None,
    fetch: FetchConfig,
) -> FeedsConfig:
    """The reader's config: the job's run identity keys the feed state, ``fetch`` is the job's
    one fetch config (feeds are fetched like pages)."""
    view = options.view_as(FeedsOptions)
    state = StateConfig(
        location=state_location.rstrip("/") if state_location else None,
        run_key=run.run_key,
        run_id=run.run_id,
        horizon_days=view.feed_state_horizon_days or StateConfig.horizon_days,
        max_ids_per_feed=view.feed_state_max_ids or StateConfig.max_ids_per_feed,
    )
    return FeedsConfig(
        fetch=fetch,
        state=state,
        max_entries=view.feed_max_entries or MAX_ENTRIES,
        max_child_sitemaps=view.sitemap_max_children or MAX_CHILD_SITEMAPS,
        sitemap_max_age_days=view.sitemap_max_age_days,
    )
