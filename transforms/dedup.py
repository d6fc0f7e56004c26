"""DeduplicateStories: one canonical story per group of copies; the copies are kept, linked.

Exact copies are found by grouping on ``content_hash`` (a digest of the case-, whitespace- and
punctuation-folded text), so the decision is made with Beam grouping, never with a set held in
one worker's memory. The canonical choice is deterministic: earliest published, then fewer
cleaning-rule hits (less residue), then longer text, then story id.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.records import Story

NAMESPACE = "wirestream"


@dataclass(frozen=True)
class DedupConfig:
    enabled: bool = True


def canonical_order(story: Story) -> tuple:
    """Sort key: the first story in this order is the canonical one of its cluster."""
    return (
        story.published_at or "9999",
        story.cleaning_hit_count,
        -len(story.text),
        story.story_id,
    )


def resolve_exact(group: tuple[str, Iterable[Story]]) -> Iterator:
    _, members = group
    ordered = sorted(members, key=canonical_order)
    canonical = ordered[0]
    size = len(ordered)
    yield canonical.replace(cluster_id=canonical.story_id, cluster_size=size)
    for copy in ordered[1:]:
        Metrics.counter(NAMESPACE, "dedup_same_text").inc()
        yield beam.pvalue.TaggedOutput(
            "duplicates",
            copy.replace(
                cluster_id=canonical.story_id,
                cluster_size=size,
                duplicate_of=canonical.story_id,
                duplicate_reason="same_text",
                similarity=1.0,
            ),
        )


class DeduplicateStories(beam.PTransform):
    """Story -> {"ok": canonical Story, "duplicates": Story copies}."""

    def __init__(self, config: DedupConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, stories):
        results = (
            stories
            | "KeyByContentHash" >> beam.Map(lambda s: (s.content_hash, s))
            | "GroupByContentHash" >> beam.GroupByKey()
            | "ChooseCanonical" >> beam.FlatMap(resolve_exact).with_outputs("duplicates", main="ok")
        )
        return {"ok": results.ok, "duplicates": results.duplicates}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Exact dedup has no knobs; near-duplicate options are added with MinHash/LSH."""


def config_from_options(options) -> DedupConfig:
    return DedupConfig()
