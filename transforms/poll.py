"""PollFeeds: the streaming source. Poll ticks in, new feed entries (with event time) out.

A ``PeriodicImpulse`` ticks every ``--poll_tick_seconds``; each tick fans out to every feed of
the list, keyed by feed URL, and ``PollFeedFn`` (a stateful DoFn, so the state lives in the
runner, per key, and survives worker restarts and ``--update``) decides per feed:

- **due?** a feed is polled when the tick reaches its ``next_due`` time. Its interval is
  ``poll_minutes`` from the feed list (0: every tick), doubled for every consecutive failure or
  unchanged poll (a 304, or no new entries), capped by ``--poll_backoff_max_minutes``.
- **conditional GET**: the feed's last ``ETag`` / ``Last-Modified`` go out as ``If-None-Match`` /
  ``If-Modified-Since``; a 304 costs no parsing and emits nothing.
- **seen entries**: entry ids the feed listed, each with the last tick that listed it. Only
  entries not seen before go on. An id is forgotten once the feed has not listed it for the
  horizon (``--stream_horizon_hours``), checked on every poll; a watermark timer, reset at every
  poll, clears all of the feed's state when the feed has not been polled for a whole horizon (it
  left the list, or polling stopped), so state stays bounded by the horizon.

The tick's timestamp is the poller's clock: it decides what is due and it is the arrival time
that event time is judged against (``transforms.streaming``), which keeps TestStream runs exact.
Feed documents are parsed by the batch parser (``transforms.feeds.parse_feed``) and fetched by
the batch ``Fetcher``, so both modes read feeds the same way.

State is JSON in ``StrUtf8Coder`` cells: the coder never changes, and new fields can be added
with defaults, so a running job can be ``--update``d without losing its feed state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder
from apache_beam.metrics import Metrics
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from transforms.feeds import FeedsConfig, parse_feed
from transforms.fetch import Fetcher, FetchError
from transforms.records import DeadLetter, FeedSource, excerpt, now_iso
from transforms.streaming import StreamConfig, premature_expiry, stamp

NAMESPACE = "wirestream"
MAX_STREAK = 16  # 2**16 is far beyond any cap; keeps the arithmetic small


def _counter(name: str) -> None:
    Metrics.counter(NAMESPACE, name).inc()


def poll_interval(source: FeedSource, streak: int, config: StreamConfig) -> float:
    """Seconds until the next poll: the feed's own interval, doubled per failure/unchanged poll."""
    base = max(source.poll_minutes * 60.0, config.poll_tick_seconds)
    cap = max(base, config.backoff_max_minutes * 60.0)
    return min(base * 2 ** min(streak, MAX_STREAK), cap)


def conditional_headers(state: dict) -> dict[str, str]:
    headers = {}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


class FanOutFeedsFn(beam.DoFn):
    """Tick -> (feed URL, FeedSource) for every feed; the URL is the state key."""

    def __init__(self, sources: Sequence[FeedSource]) -> None:
        self.sources = tuple(sorted(sources, key=lambda s: s.url))

    def process(self, _tick) -> Iterator[tuple[str, FeedSource]]:
        for source in self.sources:
            yield source.url, source


# State and timer ids are part of the job's update contract: never rename them.
FEED_STATE = ReadModifyWriteStateSpec("feed_state", StrUtf8Coder())
SEEN = ReadModifyWriteStateSpec("seen_entries", StrUtf8Coder())
EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
FEED_STATE_PARAM = beam.DoFn.StateParam(FEED_STATE)
SEEN_PARAM = beam.DoFn.StateParam(SEEN)
EXPIRY_PARAM = beam.DoFn.TimerParam(EXPIRY)


class PollFeedFn(beam.DoFn):
    """(feed URL, FeedSource) at a tick -> new FeedEntry records, or dead letters."""

    DEAD = "dead"

    def __init__(self, feeds: FeedsConfig, config: StreamConfig) -> None:
        self.feeds = feeds
        self.config = config

    def setup(self) -> None:
        self.fetcher = Fetcher(self.feeds.fetch)

    def process(
        self,
        element: tuple[str, FeedSource],
        tick=beam.DoFn.TimestampParam,
        feed_state=FEED_STATE_PARAM,
        seen_state=SEEN_PARAM,
        expiry=EXPIRY_PARAM,
    ) -> Iterator:
        _, source = element
        now = float(tick)
        state = json.loads(feed_state.read() or "{}")
        if now < state.get("next_due", 0.0):
            _counter("poll_not_due")
            return
        _counter("poll_due")
        expiry.set(Timestamp(now + self.config.horizon_seconds))
        try:
            response = self.fetcher.get(source.url, conditional_headers(state))
        except FetchError as err:
            _counter("poll_failed")
            Metrics.counter(NAMESPACE, f"feeds_dead_{err.reason}").inc()
            self._reschedule(feed_state, state, source, now, failed=True)
            dead = DeadLetter(
                stage="feeds",
                reason=err.reason,
                url=source.url,
                error=str(err),
                feed_url=source.url,
                at=err.at or now_iso(),
            )
            yield beam.pvalue.TaggedOutput(self.DEAD, TimestampedValue(dead, tick))
            return
        horizon = now - self.config.horizon_seconds
        known: dict[str, float] = json.loads(seen_state.read() or "{}")
        seen = {k: v for k, v in known.items() if v > horizon}
        Metrics.counter(NAMESPACE, "poll_seen_expired").inc(len(known) - len(seen))
        if response.status == 304:
            _counter("poll_not_modified")
            # An unchanged document still lists everything it listed before.
            seen_state.write(json.dumps(dict.fromkeys(sorted(seen), now), sort_keys=True))
            self._reschedule(feed_state, state, source, now, unchanged=True)
            return
        entries, problems = parse_feed(source, response.body, response.headers)
        _counter("feeds_read")
        state["etag"] = response.headers.get("etag")
        state["last_modified"] = response.headers.get("last-modified")
        listed = [e.entry_id for e in entries] + [p[3] for p in problems if p[3] is not None]
        fresh = [e for e in entries if e.entry_id not in seen]
        for reason, url, error, entry_id in problems:
            if entry_id is not None and entry_id in seen:
                continue
            Metrics.counter(NAMESPACE, f"feeds_dead_{reason}").inc()
            if entry_id is not None:
                _counter("entries_read")
            dead = DeadLetter(
                stage="feeds",
                reason=reason,
                url=url,
                error=error,
                feed_url=source.url,
                payload=excerpt(response.body, 500),
                at=response.fetched_at,
                entry_id=entry_id,
            )
            yield beam.pvalue.TaggedOutput(self.DEAD, TimestampedValue(dead, tick))
        Metrics.counter(NAMESPACE, "poll_entries_seen").inc(len(entries) - len(fresh))
        for entry in fresh:
            _counter("entries_read")
            yield stamp(entry, entry.published_at, now, self.config)
        seen.update(dict.fromkeys(listed, now))
        seen_state.write(json.dumps(seen, sort_keys=True))
        failed = not entries and any(p[3] is None for p in problems)
        self._reschedule(
            feed_state, state, source, now, failed=failed, unchanged=not failed and not fresh
        )

    def _reschedule(
        self,
        feed_state,
        state: dict,
        source: FeedSource,
        now: float,
        failed: bool = False,
        unchanged: bool = False,
    ) -> None:
        state["failures"] = state.get("failures", 0) + 1 if failed else 0
        state["unchanged"] = state.get("unchanged", 0) + 1 if unchanged else 0
        streak = max(state["failures"], state["unchanged"])
        if streak:
            _counter("poll_backoff")
        state["next_due"] = now + poll_interval(source, streak, self.config)
        feed_state.write(json.dumps(state, sort_keys=True))

    @on_timer(EXPIRY)
    def expire(
        self,
        fired=beam.DoFn.TimestampParam,
        feed_state=FEED_STATE_PARAM,
        seen_state=SEEN_PARAM,
    ) -> None:
        """Not polled for a whole horizon: forget the feed (the timer is reset at every poll)."""
        if premature_expiry(float(fired)):
            _counter("poll_expiry_deferred")
            return
        _counter("poll_state_expired")
        feed_state.clear()
        seen_state.clear()


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
    """The poll clock: a tick every ``poll_tick_seconds`` from ``start`` (epoch seconds), ending
    after ``duration_seconds`` when that is set, so bounded runs finish by themselves."""
    stop = start + config.duration_seconds if config.duration_seconds else MAX_TIMESTAMP
    return PeriodicImpulse(
        start_timestamp=Timestamp(start),
        stop_timestamp=stop if isinstance(stop, Timestamp) else Timestamp(stop),
        fire_interval=config.poll_tick_seconds,
    )
