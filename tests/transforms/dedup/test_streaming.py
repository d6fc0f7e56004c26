"""The streaming dedup under TestStream: first seen wins, late data, expiry, one canonical."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.timestamp import Timestamp

from tests.transforms.dedup.helpers import story, words
from transforms.core.records import Story, content_hash_for
from transforms.dedup.minhash import MinHashConfig, MinHasher, verify
from transforms.dedup.stage import DedupConfig, DeduplicateStories


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
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


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
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


def _edited(base: list[str], other: list[str], blocks: int) -> str:
    """``base`` with its first ``blocks`` hundred-word blocks taken from ``other``."""
    cut = 100 * blocks
    return " ".join(other[:cut] + base[cut:])


def test_copies_of_copies_name_the_canonical_of_their_cluster_as_batch_does() -> None:
    """A chain of edits: each story verifies against the one before it, never against the
    canonical two or three steps up. Batch names the canonical of the whole component; so must
    streaming, for copies decided one after another in later windows."""
    from transforms.core.windowing import StreamConfig

    t0 = 1_700_000_040
    base, other = words(11, 800).split(), words(12, 800).split()
    chain = [
        story(name, _edited(base, other, 2 * n), published=f"2026-11-24T08:0{n}:00Z")
        for n, name in enumerate("wxyz")  # published in arrival order: batch's canonical is w
    ]
    hasher, config = MinHasher(MinHashConfig()), MinHashConfig()
    prints = [hasher.fingerprint(s) for s in chain]
    for n in range(3):  # each verifies against the one before it only
        assert verify(prints[n], prints[n + 1], config).duplicate
        assert not any(verify(prints[m], prints[n + 1], config).duplicate for m in range(n))
    stream = TestStream().advance_watermark_to(Timestamp(seconds=t0))
    for n, item in enumerate(chain):  # one window each, decided in order
        stream = stream.add_elements([beam.window.TimestampedValue(item, t0 + 10 + 60 * n)])
        stream = stream.advance_watermark_to(Timestamp(seconds=t0 + 60 * (n + 1)))
    stream = stream.advance_watermark_to_infinity()
    dedup = DedupConfig(streaming=True, stream=StreamConfig(window_minutes=1))
    p = _streaming_pipeline()
    outputs = p | stream | DeduplicateStories(dedup)
    assert_that(
        outputs["ok"] | "OkIds" >> beam.Map(lambda s: s.story_id), equal_to(["w"]), label="Ok"
    )
    named = [("x", "w", "w"), ("y", "w", "w"), ("z", "w", "w")]
    assert_that(
        outputs["duplicates"]
        | "Dups" >> beam.Map(lambda s: (s.story_id, s.cluster_id, s.duplicate_of)),
        equal_to(named),
        label="Dups",
    )
    p.run().wait_until_finish()
    # the batch dedup on the same stories names the same canonical
    q = beam.Pipeline(options=PipelineOptions(flags=[], runner="DirectRunner"))
    batch = q | beam.Create(chain) | DeduplicateStories(DedupConfig())
    assert_that(
        batch["duplicates"]
        | "BatchDups" >> beam.Map(lambda s: (s.story_id, s.cluster_id, s.duplicate_of)),
        equal_to(named),
        label="BatchDups",
    )
    q.run().wait_until_finish()


def test_late_story_and_its_copy_met_in_opposite_orders_get_one_canonical() -> None:
    """The interleaving of docs/streaming.md: two panes in flight reach two buckets in opposite
    orders. The decision step's tie-break gives the pair one canonical, the earlier story."""
    from transforms.core.windowing import StreamConfig

    t0 = 1_700_000_040
    original = words(800)
    copy_text = original.replace("minister", "premier")
    late = story("a-late", original, published="2026-11-24T08:00:00Z")
    copy = story("b-copy", copy_text, published="2026-11-24T08:05:00Z")
    # Opposite orders in two buckets: each bucket sees one of the two before the other, as when
    # the late pane of A's window and the on-time pane of B's window are in flight at once.
    stream = (
        TestStream()
        .advance_watermark_to(Timestamp(seconds=t0))
        .add_elements([beam.window.TimestampedValue(copy, t0 + 70)])
        .advance_watermark_to(Timestamp(seconds=t0 + 200))
        .add_elements([beam.window.TimestampedValue(late, t0 + 10)])  # late, within lateness
        .advance_watermark_to_infinity()
    )
    config = DedupConfig(
        streaming=True, stream=StreamConfig(window_minutes=1, allowed_lateness_minutes=30)
    )
    p = _streaming_pipeline()
    outputs = p | stream | DeduplicateStories(config)
    assert_that(
        outputs["ok"] | "OkIds" >> beam.Map(lambda s: s.story_id), equal_to(["b-copy"]), label="Ok"
    )
    assert_that(
        outputs["duplicates"] | "Dups" >> beam.Map(lambda s: (s.story_id, s.cluster_id)),
        equal_to([("a-late", "b-copy")]),  # written after b-copy: first seen wins
        label="Dups",
    )
    p.run().wait_until_finish()

    # Now the race itself, decided from the DoFns' own messages: bucket 1 saw b-copy first,
    # bucket 2 saw a-late first. Each story's verdicts say where it met the other.
    from transforms.dedup.streaming import _nearest

    hasher = MinHasher(MinHashConfig())
    fa, fb = hasher.fingerprint(late), hasher.fingerprint(copy)
    shared = len(set(hasher.bucket_keys(fa)) & set(hasher.bucket_keys(fb)))
    verdict = verify(fa, fb, MinHashConfig())
    assert verdict.duplicate and shared >= 2
    at_a, at_b = (t0 + 10) * 10**6, (t0 + 70) * 10**6
    # a-late met b-copy in one bucket only (it came first in the others)
    a_votes = [["verdict", "b-copy", at_b, fb.canonical_key(), True, 0.9, False, shared, 1]]
    # b-copy met a-late in the other buckets
    b_votes = [
        ["verdict", "a-late", at_a, fa.canonical_key(), True, 0.9, False, shared, shared - 1]
    ]
    a = _nearest(late, at_a, a_votes)
    b = _nearest(copy, at_b, b_votes)
    assert (a.kind, b.kind) == ("canonical", "duplicate") and b.cluster_id == "a-late"
    # and when a-late truly came after b-copy everywhere, it joins b-copy's cluster
    came_after = [[*a_votes[0][:-1], shared]]
    assert _nearest(late, at_a, came_after).cluster_id == "b-copy"


def test_full_bucket_compares_with_anchors_only_and_is_not_grown() -> None:
    from transforms.dedup.streaming import BucketRefsFn

    class Bag:
        def __init__(self) -> None:
            self.items: list = []

        def read(self) -> list:
            return list(self.items)

        def add(self, item: Any) -> None:
            self.items.append(item)

        def clear(self) -> None:
            self.items = []

    class Timer:
        def set(self, _: Any) -> None:
            pass

    config = MinHashConfig(max_bucket_size=3)
    fn = BucketRefsFn(config, horizon_seconds=3600)
    refs = Bag()
    texts = [story(f"s{n}", words(900 + n)) for n in range(6)]
    key = b"\x00bucket"
    checks = []
    for n, s in enumerate(texts):
        element = (
            key,
            [(s.story_id, s.story_id, s.story_id, ("h", 10**15 + n, "", b"", b"", 0, ""))],
        )
        (proposal,) = [o for o in fn.process(element, refs, Timer()) if not hasattr(o, "tag")]
        checks.append([member for member, _ in proposal[1][2]])
    assert [len(c) for c in checks] == [0, 1, 2, 2, 2, 2]  # full from the 4th: 2 anchors
    assert [r[0] for r in refs.items] == ["s0", "s1", "s2"]  # and never grown
    assert checks[5] == ["s0", "s1"]


def test_fingerprint_stored_once_checks_wait_for_it_and_state_bytes_follow_add_and_expiry() -> None:
    from transforms.dedup import stream_verify as v
    from transforms.dedup import streaming as s

    class Cell:
        def __init__(self) -> None:
            self.value: Any = None

        def read(self) -> Any:
            return self.value

        def write(self, value: Any) -> None:
            self.value = value

        def clear(self) -> None:
            self.value = None

    class Bag(Cell):
        def read(self) -> list:
            return list(self.value or [])

        def add(self, item: Any) -> None:
            self.value = [*self.read(), item]

    class Timer:
        def set(self, _: Any) -> None:
            pass

    config = MinHashConfig()
    keys = s._StreamKeysFn(config)
    keys.setup()
    fn = s.StoreFingerprintsFn(config, horizon_seconds=3600, observe=True)
    fn.setup()
    original, copy = story("orig", words(40)), story("copy", words(40) + " (AP)")

    def messages(item: Story, seconds: int) -> dict[str, Any]:
        out = {}
        for o in keys.process(item, Timestamp(seconds=seconds)):
            if getattr(o, "tag", None) in (s.PRINTS, s.GATHER):
                out[o.tag] = o.value
        return out

    mine, other = messages(original, 100), messages(copy, 200)
    cell, pending = Cell(), Bag()
    _, _, stored, _ = other[s.GATHER][1]
    check_json = dict(v._check_json("arrival-copy", "copy", stored, 3), member_at=100 * 10**6)
    check = ("check", "arrival-copy", check_json)
    assert list(fn.process(("orig", check), cell, pending, Timer())) == []  # waits
    out = list(fn.process(mine[s.PRINTS], cell, pending, Timer()))
    state = [o.value for o in out if getattr(o, "tag", None) == s.STATE]
    verdicts = [o for o in out if not hasattr(o, "tag") and o[1][0] == "verdict"]
    assert state == [("prints", len(v.PRINT_CODER.encode(cell.read())), 100 * 10**6)]
    (verdict,) = verdicts
    assert verdict[0] == "arrival-copy" and verdict[1][1] == "orig" and verdict[1][4] is True
    assert verdict[1][-1] == 3  # the number of buckets it was met in travels with it
    assert pending.read() == []
    # the same story id again is answered "seen", and the fingerprint is not stored twice
    again = ("store", "another-arrival", mine[s.PRINTS][1][2])
    (answer,) = list(fn.process(("orig", again), cell, pending, Timer()))
    # (the last field: whether its text changed, which only an agency item's new version uses)
    assert answer == ("another-arrival", ("stored", "orig", 100 * 10**6, False))
    expired = list(fn.expire(Timestamp(seconds=100 + 3600), "orig", cell, pending))
    assert [o.value for o in expired] == [("prints", -state[0][1], (100 + 3600) * 10**6)]
    assert cell.read() is None
    # a late story checked against a member already past the horizon is answered, not parked
    assert list(fn.process(("orig", check), cell, pending, Timer())) == []
    (gone,) = list(fn.expire(Timestamp(seconds=100 + 3600), "orig", cell, pending))
    assert gone[0] == "arrival-copy" and gone[1][:2] == ("verdict", "orig")
    assert gone[1][4] is False and pending.read() == []


@pytest.mark.slow  # nine watermark steps under TestStream
def test_streaming_buckets_stay_capped_and_copies_are_still_found() -> None:
    from transforms.core.windowing import StreamConfig

    t0 = 1_700_000_040
    cap = 4
    boilerplate = words(7, 40)  # a shared promo block: every story lands in its sample buckets
    # twice the cap: an uncapped bucket would hold 8, so the cap is what keeps it at 4
    stories = [story(f"s{n:03d}", words(1000 + n, 60) + " " + boilerplate) for n in range(2 * cap)]
    copy = story("copy", stories[0].text + " (AP)")
    stream = TestStream().advance_watermark_to(Timestamp(seconds=t0))
    for n, item in enumerate([*stories, copy]):
        stream = stream.add_elements([beam.window.TimestampedValue(item, t0 + 30 * n)])
        stream = stream.advance_watermark_to(Timestamp(seconds=t0 + 30 * n + 1))
    stream = stream.advance_watermark_to_infinity()
    config = DedupConfig(
        minhash=MinHashConfig(max_bucket_size=cap),
        streaming=True,
        stream=StreamConfig(window_minutes=1),
        observe_stream_state=True,
    )
    p = _streaming_pipeline()
    outputs = p | stream | DeduplicateStories(config)
    assert_that(
        outputs["duplicates"] | "Dups" >> beam.Map(lambda s: (s.story_id, s.duplicate_of)),
        equal_to([("copy", "s000")]),
        label="Dups",
    )
    held = outputs["bucket_state_sizes"] | "HeldWindow" >> beam.WindowInto(
        beam.window.FixedWindows(10**6)
    )
    assert_that(
        held
        | "Most" >> beam.Map(lambda kv: kv[1])
        | "Max" >> beam.CombineGlobally(max).without_defaults(),
        equal_to([cap]),  # full buckets reached the cap and never grew past it
        label="Capped",
    )
    p.run().wait_until_finish()
