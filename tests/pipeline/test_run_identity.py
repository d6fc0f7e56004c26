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
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.__main__ import run
from pipeline.graph import JobConfig
from transforms.sources.feed_state import snapshot_path

FIRST = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)
LATER = datetime(2026, 11, 25, 10, 1, 40, tzinfo=UTC)


def _job(tmp_path: Path, now: datetime, *flags: str) -> JobConfig:
    argv = ["--output", str(tmp_path / "out"), "--state_location", str(tmp_path / "state")]
    return JobConfig.from_options(PipelineOptions([*argv, *flags]), now=now)


def test_one_identity_reaches_every_stage_config(tmp_path: Path) -> None:
    first, again = _job(tmp_path, FIRST), _job(tmp_path, LATER)
    for job in (first, again):
        store = job.dedup.store
        assert store is not None
        assert job.run.run_id == job.write.run_id == store.run_id == "replay"
        assert job.feeds.state.run_id == "replay"
        assert (job.feeds.state.run_key, store.run_date) == (job.run.run_key, job.run.run_date)
    # Undated, the logical time is the start time, read once; the name ties the attempts.
    assert (first.run.run_key, again.run.run_key) == ("20261125T100005Z", "20261125T100140Z")
    assert snapshot_path(first.feeds.state).endswith("feed-state-20261125T100005Z-replay.jsonl")

    dated = _job(tmp_path, LATER, "--run_date", "2026-11-24T05", "--run_id", "h05")
    assert dated.run == _job(tmp_path, FIRST, "--run_date", "2026-11-24T05", "--run_id", "h05").run
    assert (dated.write.run_id, dated.feeds.state.run_key) == ("h05", "20261124T050000Z")
    assert dated.dedup.store is not None and dated.dedup.store.run_date == "2026-11-24"


def test_a_bad_run_date_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--run_date"):
        _job(tmp_path, FIRST, "--run_date", "next tuesday")


def _records(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.jsonl.gz")):
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        found[str(path.relative_to(root))] = lines
    return found


@pytest.mark.slow
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
