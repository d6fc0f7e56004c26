"""The streaming dedup under TestStream: first seen wins, late data, expiry, one canonical."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.timestamp import Timestamp

from tests.transforms.dedup.helpers import story, words
from transforms.core.records import Story, content_hash_for
from transforms.dedup.stage import DedupConfig, DeduplicateStories


def test_streaming_first_seen_wins_and_state_expires_after_the_horizon(tmp_path: Path) -> None:
    horizon_days = 1
    day = 86400
    original = words(500)
    other = words(501)
    t0 = 1_700_000_000

    def at(s: Story, seconds: int) -> beam.window.TimestampedValue:
        return beam.window.TimestampedValue(s, Timestamp(seconds=t0 + seconds))

    stream = (
        TestStream()
        .add_elements([at(story("orig", original), 0), at(story("other", other), 10)])
        .advance_watermark_to(Timestamp(seconds=t0 + 600))
        .add_elements([at(story("copy-soon", original + " (Reuters)"), 3600)])
        .add_elements([at(story("orig", original), 3700)])  # the same story id again
        .advance_watermark_to(Timestamp(seconds=t0 + 3 * day))  # past the horizon
        .add_elements([at(story("copy-late", original + " - AP"), 3 * day + 60)])
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions(flags=[], runner="DirectRunner")
    options.view_as(StandardOptions).streaming = True
    p = beam.Pipeline(options=options)
    config = DedupConfig(streaming=True, horizon_days=horizon_days, observe_stream_state=True)
    outputs = p | stream | DeduplicateStories(config)
    assert_that(
        outputs["ok"] | "OkIds" >> beam.Map(lambda s: s.story_id),
        equal_to(["orig", "other", "copy-late"]),  # the late copy found no state left
        label="CheckOk",
    )
    # the same story id again is a copy of the first (same_url), not a store rejection: the
    # streaming job wrote the first one itself
    assert_that(
        outputs["duplicates"]
        | "DupIds" >> beam.Map(lambda s: (s.story_id, s.duplicate_of, s.duplicate_reason)),
        equal_to([("copy-soon", "orig", "near_duplicate"), ("orig", "orig", "same_url")]),
        label="CheckDuplicates",
    )
    assert "rejected" not in outputs  # nothing is rejected in streaming: no store to consult
    held = outputs["bucket_state_sizes"] | "HeldWindow" >> beam.WindowInto(
        beam.window.FixedWindows(30 * day)
    )
    # What each story found in its buckets' state, expired members included: the early copy
    # meets the original, the late copy meets nothing because timers emptied those buckets.
    assert_that(
        held
        | "MaxHeld" >> beam.CombinePerKey(max)
        | "OnlyCopies" >> beam.Filter(lambda kv: kv[0].startswith("copy")),
        equal_to([("copy-soon", 1), ("copy-late", 0)]),
        label="CheckStateBounded",
    )
    p.run().wait_until_finish()


def _streaming_pipeline() -> beam.Pipeline:
    options = PipelineOptions(flags=[], runner="DirectRunner")
    options.view_as(StandardOptions).streaming = True
    return beam.Pipeline(options=options)


def _stamped(outputs: beam.PCollection, label: str) -> beam.PCollection:
    """(story id, duplicate_of, reason, event time seconds) of every story that came out."""
    return outputs | label >> beam.Map(
        lambda s, t=beam.DoFn.TimestampParam: (
            s.story_id,
            s.duplicate_of,
            s.duplicate_reason,
            int(t.micros // 1_000_000),
        )
    )


def test_streaming_late_story_within_the_lateness_is_decided_never_dropped() -> None:
    from transforms.core.windowing import StreamConfig

    t0 = 1_700_000_040  # a window start (60 s windows)
    original = words(600)
    reworded = original.replace("minister", "premier").replace("police", "officers")
    assert content_hash_for(reworded) != content_hash_for(original)  # near, not exact

    def at(s: Story, seconds: int) -> beam.window.TimestampedValue:
        return beam.window.TimestampedValue(s, Timestamp(seconds=t0 + seconds))

    stream = (
        TestStream()
        .advance_watermark_to(Timestamp(seconds=t0))
        .add_elements([at(story("orig", original), 10)])
        # the first window (and the next nine) closed: what follows is late, within 30 min
        .advance_watermark_to(Timestamp(seconds=t0 + 600))
        .add_elements([at(story("late-copy", reworded), 20), at(story("late-new", words(601)), 30)])
        .advance_watermark_to_infinity()
    )
    config = DedupConfig(
        streaming=True,
        stream=StreamConfig(window_minutes=1, allowed_lateness_minutes=30, horizon_hours=1),
    )
    p = _streaming_pipeline()
    outputs = p | stream | DeduplicateStories(config)
    # late stories come out at their own event time, so the graph re-windows them into their
    # own window's late pane
    assert_that(
        _stamped(outputs["ok"], "OkStamped"),
        equal_to([("orig", None, None, t0 + 10), ("late-new", None, None, t0 + 30)]),
        label="CheckOk",
    )
    assert_that(
        _stamped(outputs["duplicates"], "DupStamped"),
        equal_to([("late-copy", "orig", "near_duplicate", t0 + 20)]),
        label="CheckDuplicates",
    )
    p.run().wait_until_finish()


def test_streaming_copies_in_one_pane_agree_on_one_canonical() -> None:
    """Copies that arrive together meet in several buckets; every bucket orders them alike."""
    from transforms.core.windowing import StreamConfig

    t0 = 1_700_000_040
    text = words(700)
    copies = [
        story("c-late", text + " said the agency", published="2026-11-24T08:30:00Z"),
        story("a-first", text, published="2026-11-24T08:00:00Z"),
        story("b-exact", text, published="2026-11-24T08:10:00Z"),
        story("d-edited", text.replace("budget", "spending"), published="2026-11-24T08:20:00Z"),
    ]
    stream = (
        TestStream()
        .advance_watermark_to(Timestamp(seconds=t0))
        .add_elements([beam.window.TimestampedValue(c, t0 + 5) for c in copies])
        .advance_watermark_to_infinity()
    )
    config = DedupConfig(streaming=True, stream=StreamConfig(window_minutes=1))
    p = _streaming_pipeline()
    outputs = p | stream | DeduplicateStories(config)
    assert_that(
        outputs["ok"] | "OkIds" >> beam.Map(lambda s: s.story_id),
        equal_to(["a-first"]),  # the earliest published, as batch would pick
        label="CheckOk",
    )
    assert_that(
        outputs["duplicates"]
        | "DupIds" >> beam.Map(lambda s: (s.story_id, s.duplicate_of, s.duplicate_reason)),
        equal_to(
            [
                ("b-exact", "a-first", "same_text"),
                ("c-late", "a-first", "near_duplicate"),
                ("d-edited", "a-first", "near_duplicate"),
            ]
        ),
        label="CheckDuplicates",
    )
    p.run().wait_until_finish()
