"""Same-URL collapsing before fetch, and the outcome of every entry that rode along.

When two feeds list the same article (after URL canonicalisation), the page is fetched once: one
entry (the *winner*) goes on and the others (*riders*) wait. A link already in canonical form wins
first, since it is the one the site serves without tracking redirects; then the earliest
published, then feed URL and entry id. At the end each rider takes the outcome of its winner: a
duplicate of the winner's story (``duplicate_reason="same_url"``), or the same rejection or dead
letter. That keeps the rule that every feed entry ends in exactly one output without fetching
anything twice, and it is all done with Beam grouping, so it holds on any number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.core.records import DeadLetter, FeedEntry, Rejected, Story

NAMESPACE = "wirestream"
RIDERS = "riders"


def _winner_order(entry: FeedEntry) -> tuple[bool, str, str, str]:
    """Prefer a link that is already clean (no tracking parameters), then the earliest."""
    return (
        entry.url != entry.canonical_url,
        entry.published_at or "9999",
        entry.feed_url,
        entry.entry_id,
    )


def split_same_url(item: tuple[str, Iterable[FeedEntry]]) -> Iterator:
    _, entries = item
    ordered = sorted(entries, key=_winner_order)
    yield ordered[0]
    for rider in ordered[1:]:
        Metrics.counter(NAMESPACE, "entries_same_url").inc()
        yield beam.pvalue.TaggedOutput(RIDERS, (ordered[0].entry_id, rider))


class CollapseSameUrl(beam.PTransform):
    """FeedEntry -> {"ok": one entry per canonical URL, "riders": (winner_entry_id, FeedEntry)}."""

    def expand(self, entries):
        results = (
            entries
            | "KeyByCanonicalUrl" >> beam.Map(lambda e: (e.canonical_url, e))
            | "GroupByCanonicalUrl" >> beam.GroupByKey()
            | "PickWinner" >> beam.FlatMap(split_same_url).with_outputs(RIDERS, main="ok")
        )
        return {"ok": results.ok, "riders": results[RIDERS]}


def _rider_outcomes(item: tuple[str, dict[str, list[Any]]]) -> Iterator:
    _, grouped = item
    riders: list[FeedEntry] = sorted(grouped["riders"], key=lambda e: e.entry_id)
    outcomes = grouped["outcomes"]
    if not riders:
        return
    if not outcomes:
        # A winner with no outcome would break the accounting; make it loud, not silent.
        for rider in riders:
            yield beam.pvalue.TaggedOutput(
                "dead",
                DeadLetter(
                    stage="accounting",
                    reason="lost_winner",
                    url=rider.url,
                    error="the entry sharing this URL produced no outcome",
                    entry_id=rider.entry_id,
                    feed_url=rider.feed_url,
                ),
            )
        return
    kind, record = outcomes[0]
    for rider in riders:
        if kind in ("story", "duplicate"):
            story: Story = record
            canonical = story.duplicate_of or story.story_id
            Metrics.counter(NAMESPACE, "dedup_same_url").inc()
            yield beam.pvalue.TaggedOutput(
                "duplicates",
                story.replace(
                    entry_id=rider.entry_id,
                    url=rider.url,
                    feed_url=rider.feed_url,
                    summary=rider.summary or story.summary,
                    published_at=rider.published_at or story.published_at,
                    duplicate_of=canonical,
                    duplicate_reason="same_url",
                    similarity=1.0,
                    cluster_id=story.cluster_id or canonical,
                ),
            )
        elif kind == "rejected":
            rejected: Rejected = record
            yield beam.pvalue.TaggedOutput(
                "rejected",
                Rejected(
                    stage=rejected.stage,
                    reason=rejected.reason,
                    url=rider.url,
                    story_id=rejected.story_id,
                    duplicate_of=rejected.duplicate_of,
                    entry_id=rider.entry_id,
                    at=rejected.at,
                    detail=f"same URL as entry {rejected.entry_id}; {rejected.detail}".strip("; "),
                    feed_url=rider.feed_url,
                ),
            )
        else:
            dead: DeadLetter = record
            yield beam.pvalue.TaggedOutput(
                "dead",
                DeadLetter(
                    stage=dead.stage,
                    reason=dead.reason,
                    url=rider.url,
                    error=dead.error,
                    payload="",
                    at=dead.at,
                    entry_id=rider.entry_id,
                    feed_url=rider.feed_url,
                ),
            )


class ResolveRiders(beam.PTransform):
    """Give every rider its winner's outcome: {"duplicates", "rejected", "dead"}."""

    def __init__(self, riders, stories, duplicates, rejected, dead) -> None:
        super().__init__()
        self.riders = riders
        self.sources = {
            "story": stories,
            "duplicate": duplicates,
            "rejected": rejected,
            "dead": dead,
        }

    def expand(self, pbegin):
        keyed = [
            pcoll
            | f"KeyOutcome{kind.capitalize()}"
            >> beam.Map(lambda record, kind=kind: (record.entry_id or "", (kind, record)))
            for kind, pcoll in self.sources.items()
        ]
        outcomes = keyed | "FlattenOutcomes" >> beam.Flatten()
        results = (
            {"riders": self.riders, "outcomes": outcomes}
            | "JoinRidersToOutcomes" >> beam.CoGroupByKey()
            | "RiderOutcomes"
            >> beam.FlatMap(_rider_outcomes).with_outputs("duplicates", "rejected", "dead")
        )
        return {
            "duplicates": results.duplicates,
            "rejected": results.rejected,
            "dead": results.dead,
        }
