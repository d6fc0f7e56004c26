"""Streaming-mode settings, event time and windowing, shared by every streaming source.

Event time is the entry's published time when it is *sane* (not more than ``future_skew`` ahead
of the moment the entry arrived, not older than the ``horizon``), else the arrival time. Entries
then go into fixed windows (``--window_minutes``) that fire once when the watermark passes the
window end and again for every late element within ``--allowed_lateness_minutes``.

A Beam GroupByKey drops elements that arrive later than the allowed lateness. Stories must never
be dropped, so the source clamps: an entry whose event time is already further behind its
arrival time than the allowed lateness is stamped with its arrival time instead and counted
(``stream_late``). It is written in the window it arrived in, and still into its own date
partition, because partitions come from the record's ``published_at`` and not from the window.
The arrival time is the poll tick (feeds) or the Pub/Sub publish time, which is what the source
watermark follows, so a clamped element is at most ``allowed_lateness`` behind the watermark at
the first grouping and is never dropped by it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Duration, Timestamp

from transforms.core.timefmt import parse_iso

NAMESPACE = "wirestream"


@dataclass(frozen=True)
class StreamConfig:
    window_minutes: float = 5.0
    allowed_lateness_minutes: float = 60.0
    future_skew_minutes: float = 10.0
    horizon_hours: float = 48.0  # dedup state lifetime; event-time sanity
    poll_tick_seconds: float = 60.0
    poll_interval_scale: float = 1.0  # < 1 only for local demos and tests
    backoff_max_minutes: float = 720.0
    duration_seconds: float = 0.0  # 0: run until drained or cancelled
    pubsub_subscription: str | None = None
    pubsub_topic: str | None = None

    @property
    def window_seconds(self) -> int:
        return max(1, round(self.window_minutes * 60))

    @property
    def lateness_seconds(self) -> int:
        return max(0, round(self.allowed_lateness_minutes * 60))

    @property
    def horizon_seconds(self) -> int:
        return max(1, round(self.horizon_hours * 3600))


def iso_to_seconds(value: str | None) -> float | None:
    """``2026-11-24T10:00:00Z`` -> epoch seconds; None for a missing or unparsable value."""
    moment = parse_iso(value)
    return None if moment is None else moment.timestamp()


def event_time(published_at: str | None, arrival: float, config: StreamConfig) -> tuple[float, str]:
    """Event time (epoch seconds) of an entry that arrived at ``arrival``, and why.

    The reason is ``published`` (the sane published time), ``arrival`` (no published time, or
    one in the future or beyond the horizon) or ``late`` (sane but further behind the arrival
    than the allowed lateness: stamped with the arrival time so no grouping drops it).
    """
    published = iso_to_seconds(published_at)
    if published is None:
        return arrival, "arrival"
    if published > arrival + config.future_skew_minutes * 60:
        return arrival, "arrival"
    if published < arrival - config.horizon_seconds:
        return arrival, "arrival"
    if published < arrival - config.lateness_seconds:
        return arrival, "late"
    return published, "published"


def stamp(element, published_at: str | None, arrival: float, config: StreamConfig):
    """Wrap ``element`` with its event timestamp and count the outcome (``stream_time_*``)."""
    seconds, reason = event_time(published_at, arrival, config)
    Metrics.counter(NAMESPACE, f"stream_time_{reason}").inc()
    if reason == "late":
        Metrics.counter(NAMESPACE, "stream_late").inc()
    return window.TimestampedValue(element, Timestamp(seconds))


def premature_expiry(fire_seconds: float, slack_seconds: float = 60.0) -> bool:
    """True when an expiry timer fires at an event time the wall clock has not reached yet.

    The sources' watermarks follow the wall clock (poll ticks, Pub/Sub publish times), so on a
    streaming runner an expiry timer set ``horizon`` ahead cannot fire before its time. A
    bounded runner can: the DirectRunner runs a PeriodicImpulse pipeline on its FnApiRunner,
    which moves the watermark to +infinity after every bundle and so fires every watermark
    timer at once. Clearing state then would forget every feed and story after each tick, so
    expiry callbacks keep the state when this returns True (the next poll or copy re-arms the
    timer) and count it (``*_expiry_deferred``).
    """
    import time

    return fire_seconds > time.time() + slack_seconds


def windowing(config: StreamConfig) -> beam.WindowInto:
    """The one windowing strategy of every streaming output: same windows, same triggers."""
    return beam.WindowInto(
        window.FixedWindows(config.window_seconds),
        trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
        accumulation_mode=trigger.AccumulationMode.DISCARDING,
        allowed_lateness=Duration(seconds=config.lateness_seconds),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("streaming (with --streaming)")
    group.add_argument(
        "--window_minutes",
        type=float,
        default=StreamConfig.window_minutes,
        help="Fixed window length; each window's files are finalised when the watermark passes "
        "its end, and file names carry the window start.",
    )
    group.add_argument(
        "--allowed_lateness_minutes",
        type=float,
        default=StreamConfig.allowed_lateness_minutes,
        help="Entries up to this far behind the watermark join their own window (written in a "
        "late pane, in their own file); later ones are written in the window they arrive in "
        "and counted as late (stream_late). Nothing is dropped.",
    )
    group.add_argument(
        "--future_skew_minutes",
        type=float,
        default=StreamConfig.future_skew_minutes,
        help="A published time further ahead of the arrival time than this is not trusted as "
        "event time; the arrival time is used instead.",
    )
    group.add_argument(
        "--stream_horizon_hours",
        type=float,
        default=StreamConfig.horizon_hours,
        help="How long streaming dedup state is kept (a timer clears it afterwards); published "
        "times older than this are not trusted as event time. Seen feed entries follow "
        "--feed_state_horizon_days, as in batch.",
    )
    group.add_argument(
        "--poll_tick_seconds",
        type=float,
        default=StreamConfig.poll_tick_seconds,
        help="How often the poller wakes up to look for feeds that are due (each feed's own "
        "interval is poll_minutes in the feed list, stretched by backoff).",
    )
    group.add_argument(
        "--poll_interval_scale",
        type=float,
        default=StreamConfig.poll_interval_scale,
        help="Multiplies every feed's poll interval (poll_minutes, at least 1 in the feed list). "
        "Below 1 only for local demos and tests against your own server: 0.05 polls a "
        "1-minute feed every 3 seconds.",
    )
    group.add_argument(
        "--poll_backoff_max_minutes",
        type=float,
        default=StreamConfig.backoff_max_minutes,
        help="Longest poll interval a failing or unchanged feed backs off to.",
    )
    group.add_argument(
        "--stream_duration_seconds",
        type=float,
        default=StreamConfig.duration_seconds,
        help="Stop polling after this many seconds, so the job finishes by itself (local runs, "
        "demos, tests). 0: poll until the job is drained or cancelled.",
    )
    group.add_argument(
        "--pubsub_subscription",
        default=None,
        help="Also read entries from this Pub/Sub subscription "
        "(projects/P/subscriptions/S): each message is a URL or a feed-entry JSON object.",
    )
    group.add_argument(
        "--pubsub_topic",
        default=None,
        help="Publish the canonical story ids to this Pub/Sub topic (projects/P/topics/T).",
    )


class StreamOptions(PipelineOptions):
    """The streaming flags, typed: ``options.view_as(StreamOptions)``."""

    window_minutes: float
    allowed_lateness_minutes: float
    future_skew_minutes: float
    stream_horizon_hours: float
    poll_tick_seconds: float
    poll_interval_scale: float
    poll_backoff_max_minutes: float
    stream_duration_seconds: float
    pubsub_subscription: str | None
    pubsub_topic: str | None

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(options: PipelineOptions) -> StreamConfig:
    view = options.view_as(StreamOptions)
    config = StreamConfig(
        window_minutes=view.window_minutes,
        allowed_lateness_minutes=view.allowed_lateness_minutes,
        future_skew_minutes=view.future_skew_minutes,
        horizon_hours=view.stream_horizon_hours,
        poll_tick_seconds=view.poll_tick_seconds,
        poll_interval_scale=view.poll_interval_scale,
        backoff_max_minutes=view.poll_backoff_max_minutes,
        duration_seconds=view.stream_duration_seconds,
        pubsub_subscription=view.pubsub_subscription,
        pubsub_topic=view.pubsub_topic,
    )
    if config.window_minutes <= 0:
        raise ValueError("--window_minutes must be positive")
    if config.allowed_lateness_minutes < 0 or config.future_skew_minutes < 0:
        raise ValueError("--allowed_lateness_minutes and --future_skew_minutes must be >= 0")
    if config.poll_tick_seconds <= 0 or config.horizon_hours <= 0:
        raise ValueError("--poll_tick_seconds and --stream_horizon_hours must be positive")
    if config.poll_interval_scale <= 0:
        raise ValueError("--poll_interval_scale must be positive (1 in production)")
    if config.duration_seconds < 0:
        raise ValueError("--stream_duration_seconds must be >= 0 (0 runs until drained)")
    if config.pubsub_subscription or config.pubsub_topic:
        from apache_beam.io.gcp.pubsub import parse_subscription, parse_topic

        # Beam's own checks, before any worker starts; their messages show the expected form.
        if config.pubsub_subscription:
            parse_subscription(config.pubsub_subscription)
        if config.pubsub_topic:
            parse_topic(config.pubsub_topic)
    return config
