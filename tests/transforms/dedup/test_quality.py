"""Quality gate: dedup on the labelled near-duplicate set, through the benchmark's own pipeline.

Floors sit a little below what was measured (P 1.000, R 1.000, canonical 1.000 on the visible
set) and may only go up. The corpus digest pins the figures to the data they were measured on:
when the set changes, re-measure and update floors and digest together.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from benchmarks.dedup import evaluate

FLOORS = {"pairs_precision": 0.99, "pairs_recall": 0.98, "canonical_accuracy": 0.98}
CORPUS_SHA256 = "9b0c2b04d5993c6acbef85a53c9a505f34dc358d4187c889b2ef7a008f603413"


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("stories.jsonl", "clusters.json"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
@pytest.mark.shared
def test_neardup_wire_quality_floors(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "neardup-wire"
    if not (folder / "stories.jsonl").is_file():
        pytest.skip("neardup-wire is not present")
    assert _digest(folder) == CORPUS_SHA256, "corpus changed: re-measure, then update the floors"
    figures = evaluate(str(folder))
    assert figures["stories_assigned"] == figures["stories"]  # nothing silently dropped
    for name, floor in FLOORS.items():
        assert figures[name] >= floor, (name, figures)
