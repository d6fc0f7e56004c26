"""PollFeeds under TestStream against a real feed server on 127.0.0.1.

The server plays a script per feed: the n-th request sees the n-th document (the last one
repeats), with an ETag, and answers 304 to a matching If-None-Match, so each test knows exactly
what the poller should have seen at each tick. Ticks are TestStream elements, so "now" is exact.
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.timestamp import Timestamp

from transforms.core.records import FeedSource
from transforms.core.windowing import StreamConfig, event_time
from transforms.fetch.stage import FetchConfig
from transforms.sources.feed_state import StateConfig
from transforms.sources.poll_feeds import PollFeeds, poll_interval
from transforms.sources.read_feeds import FeedsConfig

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC).timestamp()  # in the past: timers are real


def rss(items: list[tuple[str, float | None]]) -> bytes:
    """RSS 2.0 with one item per (name, published seconds or None)."""
    parts = []
    for name, published in items:
        date = (
            f"<pubDate>{email.utils.formatdate(published, usegmt=True)}</pubDate>"
            if published is not None
            else ""
        )
        parts.append(
            f"<item><title>{name}</title><link>https://news.example/{name}</link>"
            f"<guid>{name}</guid>{date}</item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


class ScriptedFeeds:
    """Feed path -> list of documents (bytes) or an int status; request n gets item n."""

    def __init__(self, script: dict[str, list[bytes | int]]) -> None:
        self.script = script
        self.log: list[tuple[str, str | None, int]] = []  # path, If-None-Match, status
        self._lock = threading.Lock()
        handler = self._handler()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self):
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with feeds._lock:
                    seen = sum(1 for path, _, _ in feeds.log if path == self.path)
                    plan = feeds.script.get(self.path, [404])
                    step = plan[min(seen, len(plan) - 1)]
                    condition = self.headers.get("If-None-Match")
                    if isinstance(step, int):
                        status, body = step, b""
                    else:
                        body = step
                        etag = '"' + hashlib.sha256(body).hexdigest()[:12] + '"'
                        status = 304 if condition == etag else 200
                    if self.path in feeds.script:
                        feeds.log.append((self.path, condition, status))
                self.send_response(status)
                if not isinstance(step, int):
                    self.send_header("ETag", etag)
                    self.send_header("Content-Type", "application/rss+xml")
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[ScriptedFeeds]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def run_poll(
    server: ScriptedFeeds,
    ticks: list[float | tuple[str, float]],
    config: StreamConfig,
    expect_entries: list[tuple[str, float]],
    expect_dead: list[tuple[str, float]],
    feed_horizon_hours: float = 48,
) -> None:
    """Ticks (or ("watermark", t) steps) through PollFeeds; entries/dead letters as asserted."""
    source = FeedSource(url=f"{server.base}/feed.xml", name="feed", poll_minutes=1)
    stream = TestStream().advance_watermark_to(Timestamp(T0 - 1))
    for tick in ticks:
        if isinstance(tick, tuple):
            stream = stream.advance_watermark_to(Timestamp(tick[1]))
        else:
            stream = stream.add_elements([beam.window.TimestampedValue(tick, tick)])
    stream = stream.advance_watermark_to_infinity()
    feeds = FeedsConfig(
        # no retries: each poll is one request, so the server log counts polls
        fetch=FetchConfig(allow_private_networks=True, max_retries=0, per_host_rps=50),
        state=StateConfig(horizon_days=feed_horizon_hours / 24),
    )
    with beam.Pipeline(options=PipelineOptions(["--streaming"])) as p:
        polled = p | stream | PollFeeds([source], feeds, config)
        entries = polled["ok"] | "EntryTimes" >> beam.Map(
            lambda e, ts=beam.DoFn.TimestampParam: (e.title, float(ts))
        )
        dead = polled["dead"] | "DeadTimes" >> beam.Map(
            lambda d, ts=beam.DoFn.TimestampParam: (d.reason, float(ts))
        )
        assert_that(entries, equal_to(expect_entries), label="Entries")
        assert_that(dead, equal_to(expect_dead), label="Dead")


def test_304_emits_nothing_and_only_new_entries_go_on() -> None:
    v1 = rss([("a", T0 - 60)])
    v2 = rss([("b", T0 + 100), ("a", T0 - 60)])
    with ScriptedFeeds({"/feed.xml": [v1, v1, v2]}).running() as server:
        run_poll(
            server,
            [T0, T0 + 60, T0 + 120, T0 + 180],
            StreamConfig(poll_tick_seconds=60),
            expect_entries=[("a", T0 - 60), ("b", T0 + 100)],
            expect_dead=[],
        )
    # the 304 backed the feed off: the tick at +120 was not due, so three requests, not four
    assert [(cond is not None, status) for _, cond, status in server.log] == [
        (False, 200),
        (True, 304),
        (True, 200),
    ]


def test_failing_feed_backs_off_and_every_failure_is_a_dead_letter() -> None:
    with ScriptedFeeds({"/feed.xml": [500]}).running() as server:
        run_poll(
            server,
            [T0 + 60 * i for i in range(11)],
            StreamConfig(poll_tick_seconds=60),
            expect_entries=[],
            expect_dead=[("http_5xx", T0), ("http_5xx", T0 + 120), ("http_5xx", T0 + 360)],
        )
    # three polls (one dead letter each, above), one request each: the fetch config of these
    # tests sets max_retries=0, which now reaches feed polling too
    assert len(server.log) == 3


def test_seen_entries_are_forgotten_a_horizon_after_they_left_the_feed() -> None:
    a, b, cb = rss([("a", None)]), rss([("b", None)]), rss([("c", None), ("b", None)])
    docs = [a, b, b, cb, a]
    with ScriptedFeeds({"/feed.xml": docs}).running() as server:
        run_poll(
            server,
            [T0, T0 + 60, T0 + 1800, T0 + 3630, T0 + 3690],
            StreamConfig(poll_tick_seconds=60),
            # "a" left the feed at T0+60; the poll at T0+3630, more than an hour after "a" was
            # first seen, forgets it, so when the feed lists it again it is new again
            expect_entries=[("a", T0), ("b", T0 + 60), ("c", T0 + 3630), ("a", T0 + 3690)],
            expect_dead=[],
            feed_horizon_hours=1,
        )
    assert [status for _, _, status in server.log] == [200, 200, 304, 200, 200]


def test_entries_still_listed_are_remembered_past_the_horizon() -> None:
    docs = [rss([("a", None)]), rss([("a", None)]), rss([("a", None), ("b", None)])]
    with ScriptedFeeds({"/feed.xml": docs}).running() as server:
        run_poll(
            server,
            [T0, T0 + 1800, T0 + 3630],
            StreamConfig(poll_tick_seconds=60),
            expect_entries=[("a", T0), ("b", T0 + 3630)],
            expect_dead=[],
            feed_horizon_hours=1,
        )
    assert [status for _, _, status in server.log] == [200, 304, 200]


def test_feed_state_is_cleared_when_the_feed_was_not_polled_for_a_horizon() -> None:
    doc = rss([("a", None)])
    with ScriptedFeeds({"/feed.xml": [doc]}).running() as server:
        run_poll(
            server,
            [T0, ("watermark", T0 + 7200), T0 + 7201],
            StreamConfig(poll_tick_seconds=60),
            expect_entries=[("a", T0), ("a", T0 + 7201)],
            expect_dead=[],
            feed_horizon_hours=1,
        )
    # the expiry timer dropped the ETag too: the second request was unconditional
    assert [cond for _, cond, _ in server.log] == [None, None]


def test_poll_interval_doubles_with_the_streak_up_to_the_cap() -> None:
    config = StreamConfig(poll_tick_seconds=60, backoff_max_minutes=30)
    source = FeedSource(url="https://x.example/rss", poll_minutes=5)
    assert [poll_interval(source, n, config) for n in range(4)] == [300, 600, 1200, 1800]
    scaled = StreamConfig(poll_tick_seconds=1, poll_interval_scale=0.05, backoff_max_minutes=1)
    assert [poll_interval(source, n, scaled) for n in range(3)] == [15, 30, 60]
    # never more often than the clock ticks
    assert poll_interval(source, 0, StreamConfig(poll_tick_seconds=600)) == 600


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2026-11-01T05:30:00Z", (T0 - 1800, "published")),
        ("2026-11-01T07:00:00Z", (T0, "arrival")),  # an hour in the future
        ("2026-10-01T06:00:00Z", (T0, "arrival")),  # beyond the 48 h horizon
        ("2026-11-01T02:00:00Z", (T0, "late")),  # sane, but beyond the 60 min lateness
        (None, (T0, "arrival")),
        ("not a date", (T0, "arrival")),
    ],
)
def test_event_time(published: str | None, expected: tuple[float, str]) -> None:
    assert event_time(published, T0, StreamConfig()) == expected
