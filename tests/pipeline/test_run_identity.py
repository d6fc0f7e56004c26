"""One run identity: the bundled sample run twice with a state location is the same run.

Output files, the dedup fingerprint file and the feed-state snapshot are all named by the run
identity resolved once in ``JobConfig.from_options`` (``transforms/core/run.py``). With the
bundled sample and no ``--run_date`` that is run ``replay``, whatever the clock says, so the
second run is a re-run of the first: it neither dedups against its own fingerprints nor finds
its own feed marks, and reproduces the first run's files instead of replacing them with nothing.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from pipeline.__main__ import run

pytestmark = pytest.mark.slow


def _records(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.jsonl.gz")):
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        found[str(path.relative_to(root))] = lines
    return found


def test_bundled_sample_twice_is_one_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(["--output", str(first), "--state_location", str(state)]) == 0
    assert run(["--output", str(second), "--state_location", str(state)]) == 0

    reports = [json.loads((out / "_run_report.json").read_text()) for out in (first, second)]
    assert [r["run_id"] for r in reports] == ["replay", "replay"]
    # 1. the output files
    names = {Path(p).name for p in _records(second)}
    assert names and all(name.startswith("part-replay-") for name in names)
    # 2. the dedup fingerprint store: this run's file, and nothing dedup'd against it
    stored = sorted(p.name for p in state.rglob("fingerprints-*.jsonl"))
    assert stored and set(stored) == {"fingerprints-replay.jsonl"}
    assert reports[1]["rejected_by_reason"].get("already_stored", 0) == 0
    # 3. the feed-state snapshot: one, this run's, written by the second attempt
    snapshots = sorted(p.name for p in (state / "feeds").glob("feed-state-*.jsonl"))
    assert len(snapshots) == 1
    found = re.fullmatch(r"feed-state-(\d{8}T\d{6}Z)-replay\.jsonl", snapshots[0])
    assert found is not None
    lines = (state / "feeds" / snapshots[0]).read_text().splitlines()
    assert lines and {json.loads(line)["run"] for line in lines} == {found.group(1)}

    # The re-run read every entry again and wrote the same stories, copies and errors.
    assert reports[1]["invariant"]["entries_read"] == reports[0]["invariant"]["entries_read"] > 0
    assert reports[1]["counters"].get("feeds_entries_seen_before", 0) == 0
    assert _records(second) == _records(first)
