"""The streaming graph under TestStream: event time, windows, lateness, cross-window dedup, expiry.

Entries come in as Pub/Sub-style feed-entry messages (the Pub/Sub source's code path, with a
TestStream in place of ReadFromPubSub) and their pages are replayed from the bundled archive, so
the whole graph runs on the DirectRunner's streaming engine with a controlled watermark. Every
record on disk is counted per window and destination against what went in.

That engine (the BundleBasedDirectRunner, which the DirectRunner picks for TestStream) loses
user counters after a DoFn's first bundle (every later bundle increments the first bundle's
metrics container, already committed), so these tests count records, not counters; the
counters are checked in the PeriodicImpulse end-to-end test, which runs on the FnApiRunner.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import BeamAssertException, assert_that
from apache_beam.utils.timestamp import Timestamp

from pipeline.graph import JobConfig, build_streaming_pipeline

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC).timestamp()  # well in the past: see premature_expiry
WINDOW = 300
HORIZON = 48 * 3600
EAST = "https://eastwire.example/world/2020/11"
U1 = f"{EAST}/07/lukashenko-us-elections"
U2 = f"{EAST}/26/russia-belarus-normalize"
U3 = "https://europe-desk.example/belarus/opposition-relations-russia"
U4 = "https://europe-desk.example/russia/closer-cooperation-belarus"
U5 = "https://straits-daily.example/world/europe/lukashenko-says-us-ties-could-improve"
U404 = "https://newsfarm.example/trending/minsk-metro-night-service"
NAME = re.compile(r"part-test-w(\d{8}T\d{6}Z)-\d{5}-of-\d{5}(-p\d+)?\.jsonl\.gz$")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def message(url: str, published: float, feed: str = "https://wire.example/rss") -> bytes:
    body = {"url": url, "published_at": iso(published), "feed_url": feed, "title": url[-20:]}
    return json.dumps(body).encode()


def window_tag(event: float) -> str:
    start = event - event % WINDOW
    return datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%SZ")


# (arrival, url, published, feed, expected event time): what goes in, and where it must land.
LATE_ARRIVAL = T0 + 710
AFTER_HORIZON = T0 + 700 + HORIZON + 400
ENTRIES = [
    # arrive together in window 1, published out of order, two of them in window 0
    (T0 + 420, U3, T0 + 410, "https://a.example/rss", T0 + 410),
    # the same article from a second feed, with tracking parameters: fetched once, it rides
    (T0 + 420, U3 + "?utm_source=rss", T0 + 415, "https://b.example/rss", T0 + 415),
    (T0 + 420, U1, T0 + 100, "https://a.example/rss", T0 + 100),
    (T0 + 420, U2, T0 + 200, "https://a.example/rss", T0 + 200),
    # after the watermark passed windows 0 and 1:
    # within the allowed lateness -> a late pane of window 1, in its own file
    (LATE_ARRIVAL, U4, T0 + 500, "https://b.example/rss", T0 + 500),
    # beyond the allowed lateness (but within the horizon) -> written where it arrived, counted
    (LATE_ARRIVAL, U5, T0 - 7 * 3600, "https://b.example/rss", LATE_ARRIVAL),
    # the same story again, in a later window -> a duplicate of the window-0 canonical
    (LATE_ARRIVAL, U1, T0 + 705, "https://b.example/rss", T0 + 705),
    # one article listed by two feeds, both late (within the lateness) for window 0: nothing
    # rides in a late pane, both are fetched and are duplicates of the window-0 canonical
    (LATE_ARRIVAL, U2, T0 + 250, "https://b.example/rss", T0 + 250),
    (LATE_ARRIVAL, U2, T0 + 260, "https://c.example/rss", T0 + 260),
    # a page that answers 404 -> an entry-level dead letter
    (LATE_ARRIVAL, U404, T0 + 705, "https://b.example/rss", T0 + 705),
    # after the dedup horizon the state is gone: the same story is canonical again
    (AFTER_HORIZON, U1, AFTER_HORIZON - 10, "https://c.example/rss", AFTER_HORIZON - 10),
]


def records_by_window(root: Path) -> dict[tuple[str, str], list[tuple[str, dict]]]:
    """(output, window tag) -> [(partition folder, record)] for every file on disk."""
    found: dict[tuple[str, str], list[tuple[str, dict]]] = {}
    for path in sorted(root.rglob("part-*")):
        match = NAME.search(path.name)
        assert match, f"file name without a window: {path.name}"
        output = path.relative_to(root).parts[0]
        partition = str(path.parent.relative_to(root / output))
        for line in gzip.decompress(path.read_bytes()).splitlines():
            found.setdefault((output, match.group(1)), []).append((partition, json.loads(line)))
    return found


def summed_per_window(expected: Counter[int]):
    """Matcher: (window start, count) pairs, one per pane, add up to ``expected`` per window."""

    def check(actual: list[tuple[int, int]]) -> None:
        totals: Counter[int] = Counter()
        for start, count in actual:
            totals[start] += count
        if totals != expected:
            raise BeamAssertException(f"entries per window {dict(totals)} != {dict(expected)}")

    return check


@pytest.fixture(scope="module")
def streamed(tmp_path_factory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("stream") / "output"
    options = PipelineOptions(
        [
            "--streaming",
            "--output",
            str(out),
            "--run_id",
            "test",
            "--window_minutes",
            str(WINDOW / 60),
            "--allowed_lateness_minutes",
            "10",
            "--stream_horizon_hours",
            str(HORIZON / 3600),
        ]
    )
    job = dataclasses.replace(JobConfig.from_options(options), sources=())
    stream = TestStream().advance_watermark_to(Timestamp(T0))
    arrivals = sorted({e[0] for e in ENTRIES})
    watermarks = {LATE_ARRIVAL: T0 + 700, AFTER_HORIZON: T0 + 700 + HORIZON + 300}
    for arrival in arrivals:
        if arrival in watermarks:
            stream = stream.advance_watermark_to(Timestamp(watermarks[arrival]))
        batch = [
            beam.window.TimestampedValue(message(url, pub, feed), arrival)
            for at, url, pub, feed, _ in ENTRIES
            if at == arrival
        ]
        if arrival == LATE_ARRIVAL:
            batch.append(beam.window.TimestampedValue(b"not a url", arrival))
        stream = stream.add_elements(batch)
    stream = stream.advance_watermark_to_infinity()
    pipeline = beam.Pipeline(options=options)
    messages = pipeline | "Messages" >> stream
    outputs = build_streaming_pipeline(pipeline, job, messages=messages)
    # every element in, counted per window inside the pipeline
    entries_per_window = (
        outputs.entries
        | "One" >> beam.Map(lambda _: 1)
        | "CountPerWindow" >> beam.CombineGlobally(sum).without_defaults()
        | "WithWindow" >> beam.Map(lambda n, w=beam.DoFn.WindowParam: (int(w.start), n))
    )
    expected = Counter(int(e[4] - e[4] % WINDOW) for e in ENTRIES)
    assert_that(entries_per_window, summed_per_window(expected), label="EntriesIn")
    pipeline.run().wait_until_finish()
    files = sorted(p.name for p in out.rglob("part-*"))
    return out, files


def test_every_entry_lands_in_its_window_and_destination(streamed) -> None:
    out, _ = streamed
    on_disk = records_by_window(out)
    # entries in, per window (the pipeline's own count of them is asserted in the fixture)
    expected: Counter[str] = Counter(window_tag(e[4]) for e in ENTRIES)
    # records out that account for an entry, per window
    accounted: Counter[str] = Counter()
    for (output, tag), records in on_disk.items():
        for partition, record in records:
            if output in ("stories", "duplicates") or record.get("entry_id"):
                accounted[tag] += 1
            date = (record.get("published_at") or record.get("fetched_at") or record["at"])[:10]
            assert partition.startswith(f"date={date}"), (output, partition, record.get("url"))
    assert accounted == expected


def test_out_of_order_entries_go_to_their_event_time_windows(streamed) -> None:
    on_disk = records_by_window(streamed[0])
    window0 = {r["url"] for _, r in on_disk[("stories", window_tag(T0))]}
    window1 = {r["url"] for _, r in on_disk[("stories", window_tag(T0 + 300))]}
    assert window0 == {U1, U2}
    assert window1 == {U3, U4}


def test_entry_within_lateness_is_a_late_pane_in_its_own_file(streamed) -> None:
    out, files = streamed
    # pane numbers count the firings of one file's destination: the window-1 stories fired on
    # time before, so their late pane is -p1; the late window-0 duplicates are that
    # destination's first firing and need no suffix
    late = [f for f in files if f.endswith("-p1.jsonl.gz")]
    assert late == [f"part-test-w{window_tag(T0 + 300)}-00000-of-00001-p1.jsonl.gz"]
    (path,) = out.rglob(late[0])
    assert [
        json.loads(line)["url"] for line in gzip.decompress(path.read_bytes()).splitlines()
    ] == [U4]


def test_entry_beyond_lateness_is_written_where_it_arrived_and_counted(streamed) -> None:
    out, _ = streamed
    arrived = records_by_window(out)[("stories", window_tag(LATE_ARRIVAL))]
    late = [(p, r) for p, r in arrived if r["url"] == U5]
    assert len(late) == 1
    assert late[0][0] == "date=2026-10-31/lang=en"  # its own (published) date partition


def test_same_story_in_a_later_window_is_a_duplicate_of_the_first(streamed) -> None:
    on_disk = records_by_window(streamed[0])
    first = [r for _, r in on_disk[("stories", window_tag(T0))] if r["url"] == U1]
    dups = on_disk[("duplicates", window_tag(T0 + 705))]
    assert len(first) == 1 and len(dups) == 1
    assert dups[0][1]["duplicate_of"] == first[0]["story_id"]
    assert dups[0][1]["duplicate_reason"] == "same_url"
    assert dups[0][1]["feed_url"] == "https://b.example/rss"


def test_same_url_entries_ride_on_time_and_are_fetched_separately_when_late(streamed) -> None:
    on_disk = records_by_window(streamed[0])
    canonical = {r["url"]: r["story_id"] for _, r in on_disk[("stories", window_tag(T0))]}
    late_copies = [r for _, r in on_disk[("duplicates", window_tag(T0))]]
    assert sorted(r["feed_url"] for r in late_copies) == [
        "https://b.example/rss",
        "https://c.example/rss",
    ]
    assert {(r["duplicate_of"], r["duplicate_reason"]) for r in late_copies} == {
        (canonical[U2], "same_url")
    }
    (rider,) = [r for _, r in on_disk[("duplicates", window_tag(T0 + 300))]]
    assert rider["url"] == U3 + "?utm_source=rss" and rider["duplicate_reason"] == "same_url"
    errors = [
        r for (output, _), records in on_disk.items() if output == "errors" for _, r in records
    ]
    assert "lost_winner" not in {e["reason"] for e in errors}


def test_dedup_state_expires_after_the_horizon(streamed) -> None:
    out, _ = streamed
    again = records_by_window(out)[("stories", window_tag(AFTER_HORIZON - 10))]
    assert [r["url"] for _, r in again] == [U1]
    assert again[0][1]["cluster_size"] == 1


def test_bad_message_is_a_dead_letter_outside_the_entry_count(streamed) -> None:
    out, _ = streamed
    errors = [r for _, r in records_by_window(out)[("errors", window_tag(LATE_ARRIVAL))]]
    reasons = sorted((r["stage"], r["reason"], r["entry_id"] is None) for r in errors)
    assert reasons == [("fetch", "http_4xx", False), ("pubsub", "bad_message", True)]
