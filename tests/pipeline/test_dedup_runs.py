"""The CLI twice over the bundled sample with a dedup store: scheduled runs, nothing twice."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipeline.__main__ import run

pytestmark = pytest.mark.slow


def _records(root: Path, output: str) -> list[dict]:
    found = []
    for path in sorted((root / output).rglob("*.jsonl.gz")):
        found += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return found


def test_second_scheduled_run_writes_no_story_twice(tmp_path: Path) -> None:
    state = tmp_path / "state"
    common = ["--state_location", str(state), "--run_date", "2026-11-24"]
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(["--output", str(first), *common, "--run_id", "h01"]) == 0
    stories = _records(first, "stories")
    copies = [r for r in _records(first, "duplicates") if r["duplicate_reason"] != "same_url"]
    assert stories and copies  # the sample's spun copy of seed 001
    assert {r["duplicate_of"] for r in copies} <= {r["story_id"] for r in stories}
    assert list(state.rglob("fingerprints-h01.jsonl"))

    assert run(["--output", str(second), *common, "--run_id", "h02"]) == 0
    assert _records(second, "stories") == []
    assert _records(second, "duplicates") == []
    rejected = _records(second, "rejected")
    # The same --run_date reads the same entries and agency files again: every story is one an
    # earlier run stored, and the bundled wire guid's lower version is superseded again.
    reasons = {r["reason"] for r in rejected}
    assert "already_stored" in reasons
    assert reasons <= {"already_stored", "superseded"}
    report = json.loads((second / "_run_report.json").read_text())
    assert report["invariant"]["holds"]
    assert not list(state.rglob("fingerprints-h02.jsonl"))  # nothing new to store
