"""Scheduled runs are idempotent: re-running a run_date replaces that run, nothing else."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.__main__ import run
from transforms.sinks.naming import run_file_pattern

pytestmark = pytest.mark.slow

RUN_DATE = "2026-11-24T10"


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("part-*"))
    }


def _records(root: Path, output: str) -> list[dict]:
    found = []
    for path in sorted((root / output).rglob("*.jsonl.gz")):
        found += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return found


def _report(root: Path) -> dict:
    return json.loads((root / "_run_report.json").read_text())


def _scheduled(out: Path, *extra: str) -> list[str]:
    return ["--output", str(out), "--run_date", RUN_DATE, *extra]


def test_same_run_date_twice_gives_the_same_files_and_counts(tmp_path: Path, sample_runs) -> None:
    out, _ = sample_runs.copy(tmp_path, "--run_date", RUN_DATE)  # the first attempt
    first_files, first_report = _digests(out), _report(out)
    assert run(_scheduled(out)) == 0
    second_report = _report(out)

    assert _digests(out) == first_files
    assert all(f"part-{RUN_DATE}-" in name for name in first_files)
    assert second_report["invariant"] == first_report["invariant"]
    assert second_report["written"] == first_report["written"]
    assert second_report["invariant"]["holds"] is True
    entry_ids = Counter(
        r["entry_id"] for output in ("stories", "duplicates") for r in _records(out, output)
    )
    assert entry_ids and max(entry_ids.values()) == 1, "an entry was written twice"


def test_rerun_with_changed_input_leaves_no_file_of_the_earlier_attempt(
    tmp_path: Path, sample_feeds: Path, sample_archive: Path, sample_runs
) -> None:
    """Live feeds change between attempts; the re-run must not keep the first attempt's files."""
    out, _ = sample_runs.copy(tmp_path, "--run_date", RUN_DATE)  # the first attempt
    before = _report(out)["written"]["stories"]
    fewer = tmp_path / "feeds.yaml"
    lines = sample_feeds.read_text().split("\n- url:")
    fewer.write_text(lines[0] + "\n- url:" + lines[1])  # the first feed only
    replay = ["--feeds", str(fewer), "--replay", str(sample_archive)]

    assert run(_scheduled(out, *replay)) == 0

    report = _report(out)
    assert report["invariant"]["holds"] is True
    assert 0 < report["written"]["stories"] < before
    assert report["counters"].get("rerun_stale_files_deleted", 0) > 0
    assert {r["feed_url"] for r in _records(out, "stories")} == {"https://eastwire.example/rss.xml"}
    on_disk = sum(len(_records(out, o)) for o in ("stories", "duplicates", "rejected"))
    entry_errors = [e for e in _records(out, "errors") if e["entry_id"]]
    assert on_disk + len(entry_errors) == report["invariant"]["entries_read"]


def test_other_run_dates_are_left_alone(tmp_path: Path, sample_runs) -> None:
    out, _ = sample_runs.copy(tmp_path, "--run_date", RUN_DATE)
    earlier = _digests(out)  # another run date's files, already in the output
    assert run(["--output", str(out), "--run_date", "2026-11-24T09"]) == 0
    after = _digests(out)
    assert {k: v for k, v in after.items() if k in earlier} == earlier
    assert len(after) == 2 * len(earlier)
    assert _report(out)["invariant"]["holds"] is True  # counts this run's files only


def test_run_file_names_are_matched_exactly() -> None:
    pattern = run_file_pattern("daily", ".jsonl.gz")
    assert pattern.fullmatch("part-daily-00000-of-00001.jsonl.gz")
    assert not pattern.fullmatch("part-daily-2-00000-of-00001.jsonl.gz")
    assert not pattern.fullmatch("part-daily-00000-of-00001.parquet")


def test_rerun_with_state_is_not_double_applied(tmp_path: Path, sample_runs) -> None:
    """A re-run starts from the state the first attempt started from, not from its own marks."""
    out, state_dir = sample_runs.copy(tmp_path, "--run_date", RUN_DATE, state=True)
    state = str(state_dir)
    first_files, first_report = _digests(out), _report(out)
    assert first_report["written"]["stories"] > 0
    assert run(_scheduled(out, "--state_location", state)) == 0
    assert _digests(out) == first_files
    assert _report(out)["invariant"] == first_report["invariant"]

    # The next hour does see the state: every entry was already handed downstream.
    assert (
        run(["--output", str(out), "--run_date", "2026-11-24T11", "--state_location", state]) == 0
    )
    later = _report(out)
    assert later["invariant"]["holds"] is True
    assert later["invariant"]["entries_read"] == 0
    after = _digests(out)
    assert {name: after.get(name) for name in first_files} == first_files  # earlier run intact
