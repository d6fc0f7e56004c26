"""The batch graph (``DedupStories``) under a real DirectRunner: verification, capped buckets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transforms.dedup.helpers import ids, run_dedup, story, words
from transforms.dedup.minhash import MinHashConfig, MinHasher, verify
from transforms.dedup.stage import DedupConfig


def test_lsh_candidates_are_verified_not_chained(tmp_path: Path) -> None:
    """A-B and B-C share half their text (LSH candidates); no pair passes, so no cluster."""
    parts = [words(10 + n, 150) for n in range(4)]
    stories = [
        story("a", parts[0] + " " + parts[1], "2026-11-24T07:00:00Z"),
        story("b", parts[1] + " " + parts[2]),
        story("c", parts[2] + " " + parts[3]),
    ]
    records, counters = run_dedup(tmp_path, stories, name="strict")
    assert counters.get("dedup_candidate_pairs", 0) >= 2
    assert counters.get("dedup_pairs_refused", 0) >= 2
    assert counters.get("dedup_pairs_verified", 0) == 0
    assert ids(records["ok"]) == ["a", "b", "c"]

    # Merged unverified (or verified loosely), the candidates chain a to c, which share nothing.
    hasher = MinHasher(MinHashConfig(jaccard_threshold=0.2))
    a, b, c = (hasher.fingerprint(s) for s in stories)
    assert verify(a, b, hasher.config).duplicate and verify(b, c, hasher.config).duplicate
    assert verify(a, c, hasher.config).jaccard == 0.0


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_huge_bucket_in_a_pipeline_is_counted_and_copies_still_found(tmp_path: Path) -> None:
    boilerplate = words(7, 40)  # a shared promo block: every story lands in its buckets
    stories = [story(f"s{n:03d}", words(1000 + n, 60) + " " + boilerplate) for n in range(60)]
    stories.append(story("copy", stories[0].text + " (AP)", "2026-11-24T12:00:00Z"))
    config = DedupConfig(minhash=MinHashConfig(max_bucket_size=10))
    records, counters = run_dedup(tmp_path, stories, config)
    assert counters["dedup_buckets_capped"] >= 1
    assert ids(records["duplicates"]) == ["copy"]
    assert records["duplicates"][0]["duplicate_of"] == "s000"
    assert len(records["ok"]) == 60
