"""The streaming job's update contract: step labels, state ids and state coders never drift.

Dataflow's ``--update`` maps the running job's steps and state to the new job's by label and
state id; a renamed step or state cell, or a changed state coder, silently starts from empty
state (or fails the update). These tests pin them, and check that the labels do not depend on
options or on the feed list.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import userstate

from pipeline.graph import JobConfig, build_streaming_pipeline
from transforms.core.records import FeedSource

# The inner "ParDo(<DoFn class>)" label comes from the DoFn's class name: renaming PollFeedFn,
# BucketRefsFn, GatherCandidatesFn, StoreFingerprintsFn, DecideFirstSeenFn or ResolveClusterFn
# breaks --update as surely as renaming the step. Python prefixes timer ids.
DEDUP = "DeduplicateStories/StreamingDedup"
STATEFUL = {
    "PollFeeds/PollFeed/ParDo(PollFeedFn)": {"feed_state", "schedule", "ts-expiry"},
    f"{DEDUP}/BucketRefs/ParDo(BucketRefsFn)": {"refs", "ts-ref_expiry"},
    f"{DEDUP}/GatherCandidates/ParDo(GatherCandidatesFn)": {"gathered", "gather_count"},
    f"{DEDUP}/StoreFingerprints/ParDo(StoreFingerprintsFn)": {
        "print",
        "pending",
        "ts-print_expiry",
    },
    f"{DEDUP}/DecideFirstSeen/ParDo(DecideFirstSeenFn)": {"stories", "votes"},
    **{
        f"{DEDUP}/ResolveCluster{n}/ParDo(ResolveClusterFn)": {"parent", "asks", "ts-parent_expiry"}
        for n in (1, 2, 3)
    },
}
# The encoded form of every dedup state cell: a changed coder is a drain-and-relaunch
# (docs/streaming.md), never an --update.
CODERS = {
    "refs": "TupleCoder[StrUtf8Coder, VarIntCoder]",
    "print": "TupleCoder[StrUtf8Coder, VarIntCoder, StrUtf8Coder, BytesCoder, BytesCoder, "
    "VarIntCoder, StrUtf8Coder]",
    "pending": "StrUtf8Coder",
    "gathered": "StrUtf8Coder",
    "gather_count": "TupleCoder[VarIntCoder, VarIntCoder]",
    "parent": "TupleCoder[StrUtf8Coder, VarIntCoder, VarIntCoder]",
    "asks": "StrUtf8Coder",
    "stories": "StrUtf8Coder",
    "votes": "StrUtf8Coder",
}


def _steps(argv: list[str], sources: tuple[FeedSource, ...]) -> dict[str, beam.PTransform]:
    options = PipelineOptions(["--streaming", *argv])
    job = dataclasses.replace(JobConfig.from_options(options), sources=sources)
    pipeline = beam.Pipeline(options=options)
    build_streaming_pipeline(pipeline, job, start=0.0)
    found: dict[str, beam.PTransform] = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node) -> None:
            found[node.full_label] = node.transform

        def visit_transform(self, node) -> None:
            found[node.full_label] = node.transform

    pipeline.visit(Visitor())
    return found


def test_stateful_steps_keep_their_labels_state_ids_and_coders() -> None:
    steps = _steps([], (FeedSource(url="https://a.example/rss"),))
    stateful = {}
    for label, transform in steps.items():
        if isinstance(transform, beam.ParDo) and userstate.is_stateful_dofn(transform.dofn):
            states, timers = userstate.get_dofn_specs(transform.dofn)
            for spec in states:
                # explicit and deterministic: never a pickling or inferred coder
                assert spec.coder.is_deterministic(), (label, spec.name)
                assert "Pickle" not in type(spec.coder).__name__, (label, spec.name)
                assert "FastPrimitives" not in type(spec.coder).__name__, (label, spec.name)
            stateful[label] = {s.name for s in states} | {t.name for t in timers}
            if DEDUP in label:
                assert {s.name: repr(s.coder) for s in states} == {
                    s.name: CODERS[s.name] for s in states
                }, label
    assert stateful == STATEFUL


def test_labels_do_not_depend_on_options_or_the_feed_list() -> None:
    one = _steps([], (FeedSource(url="https://a.example/rss"),))
    other = _steps(
        ["--window_minutes", "1", "--allowed_lateness_minutes", "5", "--shards", "3"],
        (FeedSource(url="https://b.example/rss"), FeedSource(url="https://c.example/rss")),
    )
    assert sorted(one) == sorted(other)
    assert all(label.isprintable() and "http" not in label for label in one)


def test_streaming_selects_the_near_duplicate_dedup_in_the_job_windows() -> None:
    argv = ["--window_minutes", "2", "--allowed_lateness_minutes", "15"]
    streaming = JobConfig.from_options(
        PipelineOptions(["--streaming", *argv, "--stream_horizon_hours", "6"])
    )
    assert streaming.dedup.streaming is True
    assert streaming.dedup.stream == streaming.stream
    assert streaming.dedup.stream.window_seconds == 120
    assert streaming.dedup.stream.lateness_seconds == 900
    assert streaming.dedup.stream_horizon_seconds == 6 * 3600
    batch = JobConfig.from_options(PipelineOptions(argv))
    assert batch.dedup.streaming is False and batch.dedup.stream is None
