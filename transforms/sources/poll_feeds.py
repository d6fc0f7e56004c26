"""PollFeeds: the streaming source. Poll ticks in, new feed entries (with event time) out.

A ``PeriodicImpulse`` ticks every ``--poll_tick_seconds``; each tick fans out to every feed of
the list, keyed by feed URL, and ``PollFeedFn`` (a stateful DoFn, so the state lives in the
runner, per key, and survives worker restarts and ``--update``) decides per feed:

- **due?** a feed is polled when the tick reaches its ``next_due`` time. Its interval is
  ``poll_minutes`` from the feed list (times ``--poll_interval_scale``), doubled for every
  consecutive failure or unchanged poll (a 304, or no new entries), capped by
  ``--poll_backoff_max_minutes``.
- **the poll itself is the batch feed reader's**: ``read_feed``
  (``transforms.sources.feed_reader``) with the feed's ``FeedState``
  (``transforms.sources.feed_state``) read from keyed state instead of a snapshot file: the
  same conditional GET (ETag / Last-Modified), parsing (RSS, Atom, RDF, JSON Feed, sitemaps),
  seen-entry selection, dead letters and counters as a scheduled batch run. The tick's time is
  the run key, so ids are remembered while the feed lists them or for
  ``--feed_state_horizon_days`` after they were first seen, as in batch.
- **expiry**: a watermark timer, reset at every poll, clears the feed's state when the feed has
  not been polled for a whole horizon (it left the list, or polling stopped), so state stays
  bounded.

The tick's timestamp is the poller's clock: it decides what is due and it is the arrival time
that event time is judged against (``transforms.core.windowing``), which keeps TestStream runs
exact.

State cells are JSON in ``StrUtf8Coder`` (``FeedState.to_json`` and a small schedule record):
the coder never changes and fields can be added with defaults, so a running job can be
``--update``d without losing its feed state.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder
from apache_beam.metrics import Metrics
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from transforms.core.records import FeedSource
from transforms.core.run import run_key_for
from transforms.core.windowing import StreamConfig, premature_expiry, stamp
from transforms.sources.feed_reader import FeedClient, FeedsConfig, read_feed
from transforms.sources.feed_state import FeedState

NAMESPACE = "wirestream"
MAX_STREAK = 16  # 2**16 is far beyond any cap; keeps the arithmetic small


def _counter(name: str) -> None:
    Metrics.counter(NAMESPACE, name).inc()


def poll_interval(source: FeedSource, streak: int, config: StreamConfig) -> float:
    """Seconds until the next poll: the feed's own interval, doubled per failure/unchanged poll."""
    base = max(source.poll_minutes * 60.0 * config.poll_interval_scale, config.poll_tick_seconds)
    cap = max(base, config.backoff_max_minutes * 60.0)
    return min(base * 2 ** min(streak, MAX_STREAK), cap)


class FanOutFeedsFn(beam.DoFn):
    """Tick -> (feed URL, FeedSource) for every feed; the URL is the state key."""

    def __init__(self, sources: Sequence[FeedSource]) -> None:
        self.sources = tuple(sorted(sources, key=lambda s: s.url))

    def process(self, _tick) -> Iterator[tuple[str, FeedSource]]:
        for source in self.sources:
            yield source.url, source


# State and timer ids are part of the job's update contract: never rename them.
FEED_STATE = ReadModifyWriteStateSpec("feed_state", StrUtf8Coder())  # FeedState.to_json()
SCHEDULE = ReadModifyWriteStateSpec("schedule", StrUtf8Coder())  # next_due, streaks
EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
FEED_STATE_PARAM = beam.DoFn.StateParam(FEED_STATE)
SCHEDULE_PARAM = beam.DoFn.StateParam(SCHEDULE)
EXPIRY_PARAM = beam.DoFn.TimerParam(EXPIRY)


class PollFeedFn(beam.DoFn):
    """(feed URL, FeedSource) at a tick -> new FeedEntry records, or dead letters."""

    DEAD = "dead"

    def __init__(self, feeds: FeedsConfig, config: StreamConfig) -> None:
        self.feeds = feeds
        self.config = config

    @property
    def horizon_seconds(self) -> float:
        return self.feeds.state.horizon_days * 86400

    def setup(self) -> None:
        self.client = FeedClient(self.feeds.fetch)

    def teardown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def process(
        self,
        element: tuple[str, FeedSource],
        tick=beam.DoFn.TimestampParam,
        feed_state=FEED_STATE_PARAM,
        schedule_state=SCHEDULE_PARAM,
        expiry=EXPIRY_PARAM,
    ) -> Iterator:
        _, source = element
        now = float(tick)
        schedule = json.loads(schedule_state.read() or "{}")
        if now < schedule.get("next_due", 0.0):
            _counter("poll_not_due")
            return
        _counter("poll_due")
        expiry.set(Timestamp(now + self.horizon_seconds))
        stored = feed_state.read()
        state = FeedState.from_json(stored) if stored else None
        # The tick's time is the run key; our own schedule has already decided the feed is due.
        run_key = run_key_for(None, now=datetime.fromtimestamp(now, UTC))
        state_config = dataclasses.replace(self.feeds.state, run_key=run_key)
        read = read_feed(source, state, self.client.get, self.feeds, state_config)
        for name, n in read.counts:
            Metrics.counter(NAMESPACE, name).inc(n)
        for letter in read.dead:
            yield beam.pvalue.TaggedOutput(self.DEAD, TimestampedValue(letter, tick))
        for entry in read.entries:
            yield stamp(entry, entry.published_at, now, self.config)
        if read.state is not None:
            feed_state.write(read.state.to_json())
        # A feed-level dead letter without entries is a failure; no new entries (a 304, or a
        # document listing only seen ones) is an unchanged poll: both stretch the interval.
        failed = not read.entries and any(letter.entry_id is None for letter in read.dead)
        unchanged = not failed and not read.entries
        self._reschedule(schedule_state, schedule, source, now, failed, unchanged)

    def _reschedule(
        self,
        schedule_state,
        schedule: dict,
        source: FeedSource,
        now: float,
        failed: bool,
        unchanged: bool,
    ) -> None:
        schedule["failures"] = schedule.get("failures", 0) + 1 if failed else 0
        schedule["unchanged"] = schedule.get("unchanged", 0) + 1 if unchanged else 0
        streak = max(schedule["failures"], schedule["unchanged"])
        if failed:
            _counter("poll_failed")
        elif unchanged:
            _counter("poll_unchanged")
        if streak:
            _counter("poll_backoff")
        schedule["next_due"] = now + poll_interval(source, streak, self.config)
        schedule_state.write(json.dumps(schedule, sort_keys=True))

    @on_timer(EXPIRY)
    def expire(
        self,
        fired=beam.DoFn.TimestampParam,
        feed_state=FEED_STATE_PARAM,
        schedule_state=SCHEDULE_PARAM,
    ) -> None:
        """Not polled for a whole horizon: forget the feed (the timer is reset at every poll)."""
        if premature_expiry(float(fired)):
            _counter("poll_expiry_deferred")
            return
        _counter("poll_state_expired")
        feed_state.clear()
        schedule_state.clear()


class PollFeeds(beam.PTransform):
    """Ticks -> {"ok": FeedEntry stamped with event time, "dead": DeadLetter}."""

    def __init__(
        self, sources: Sequence[FeedSource], feeds: FeedsConfig, config: StreamConfig
    ) -> None:
        super().__init__()
        self.sources = tuple(sources)
        self.feeds = feeds
        self.config = config

    def expand(self, ticks):
        results = (
            ticks
            | "FanOutFeeds"
            >> beam.ParDo(FanOutFeedsFn(self.sources)).with_output_types(
                beam.typehints.Tuple[str, FeedSource]
            )
            | "PollFeed"
            >> beam.ParDo(PollFeedFn(self.feeds, self.config)).with_outputs(
                PollFeedFn.DEAD, main="ok"
            )
        )
        return {"ok": results.ok, "dead": results[PollFeedFn.DEAD]}


def poll_ticks(config: StreamConfig, start: float) -> PeriodicImpulse:
    """The poll clock: a tick every ``poll_tick_seconds`` from ``start`` (epoch seconds, rounded
    down to a whole second, the resolution of feed-state run keys), ending after
    ``duration_seconds`` when that is set, so bounded runs finish by themselves."""
    start = float(math.floor(start))
    stop = start + config.duration_seconds if config.duration_seconds else MAX_TIMESTAMP
    return PeriodicImpulse(
        start_timestamp=Timestamp(start),
        stop_timestamp=stop if isinstance(stop, Timestamp) else Timestamp(stop),
        fire_interval=config.poll_tick_seconds,
    )
