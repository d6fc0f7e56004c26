"""Same-URL collapsing: one fetch per canonical URL, every rider accounted for."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.core.records import DeadLetter, FeedEntry, Story
from transforms.fetch.same_url import CollapseSameUrl, ResolveRiders


def _entry(eid: str, url: str, feed: str, published: str | None = None) -> FeedEntry:
    return FeedEntry(
        entry_id=eid,
        feed_url=feed,
        feed_name="",
        url=url,
        canonical_url=url.split("?")[0],
        published_at=published,
    )


ENTRIES = [
    _entry("a1", "https://x.example/a?utm_source=rss", "https://f1", "2026-01-01T00:00:00Z"),
    _entry("a2", "https://x.example/a", "https://f2", "2026-01-02T00:00:00Z"),
    _entry("b1", "https://x.example/b", "https://f1"),
    _entry("c1", "https://x.example/c", "https://f1"),
    _entry("c2", "https://x.example/c?ref=x", "https://f2"),
]


def test_one_winner_per_canonical_url_prefers_clean_links() -> None:
    with TestPipeline(runner="DirectRunner") as p:
        out = p | beam.Create(ENTRIES) | CollapseSameUrl()
        winners = out["ok"] | "WinnerIds" >> beam.Map(lambda e: e.entry_id)
        riders = out["riders"] | "RiderIds" >> beam.Map(lambda kv: (kv[0], kv[1].entry_id))
        assert_that(winners, equal_to(["a2", "b1", "c1"]), label="CheckWinners")
        assert_that(riders, equal_to([("a2", "a1"), ("c1", "c2")]), label="CheckRiders")


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_riders_take_their_winners_outcome() -> None:
    story = Story(
        story_id="sa",
        entry_id="a2",
        url="https://x.example/a",
        canonical_url="https://x.example/a",
        site="x.example",
        feed_url="https://f2",
        title="t",
        text="body",
        fetched_at="2026-01-03T00:00:00Z",
        cluster_id="sa",
    )
    dead = DeadLetter(
        stage="fetch", reason="http_5xx", url="https://x.example/c", error="HTTP 503", entry_id="c1"
    )
    with TestPipeline(runner="DirectRunner") as p:
        riders = p | "Riders" >> beam.Create([("a2", ENTRIES[0]), ("c1", ENTRIES[4])])
        stories = p | "Stories" >> beam.Create([story])
        none = p | "None" >> beam.Create([])
        dead_in = p | "Dead" >> beam.Create([dead])
        out = p | ResolveRiders(riders, stories, none, none, dead_in)
        dups = out["duplicates"] | "DupView" >> beam.Map(
            lambda s: (s.entry_id, s.duplicate_of, s.duplicate_reason)
        )
        deads = out["dead"] | "DeadView" >> beam.Map(lambda d: (d.entry_id, d.reason))
        assert_that(dups, equal_to([("a1", "sa", "same_url")]), label="CheckDuplicates")
        assert_that(deads, equal_to([("c2", "http_5xx")]), label="CheckDead")
