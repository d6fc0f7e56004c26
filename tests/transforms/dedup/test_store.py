"""The fingerprint store as dedup reads it: across scheduled runs, the horizon, re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transforms.dedup.helpers import ids, run_dedup, story, words
from transforms.dedup.minhash import MinHashConfig
from transforms.dedup.stage import DedupConfig
from transforms.dedup.store import StoreConfig, _ReadStoreDayFn


def _store_files(state: Path) -> dict[str, str]:
    return {str(p.relative_to(state)): p.read_text() for p in sorted(state.rglob("fingerprints-*"))}


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_second_run_writes_no_new_canonicals_and_rerun_is_idempotent(tmp_path: Path) -> None:
    state = tmp_path / "state"
    base = [story(f"s{n}", words(200 + n), f"2026-11-24T0{n}:00:00Z") for n in range(6)]
    copy = story("copy", base[2].text + "\nLeave a Comment", "2026-11-24T09:00:00Z")
    stories = [*base, copy]

    def config(run_id: str, run_date: str = "2026-11-24") -> DedupConfig:
        return DedupConfig(state_location=str(state), run_date=run_date, run_id=run_id)

    first, counters = run_dedup(tmp_path, stories, config("h01"), name="first")
    assert len(first["ok"]) == 6 and ids(first["duplicates"]) == ["copy"]
    assert counters["dedup_store_appended"] == 7
    stored = _store_files(state)
    assert list(stored) == [f"dedup/{MinHashConfig().name}/dt=2026-11-24/fingerprints-h01.jsonl"]

    again, counters = run_dedup(tmp_path, stories, config("h01"), name="rerun")
    assert again == first  # a re-run of the same run reproduces it exactly
    assert _store_files(state) == stored

    second, counters = run_dedup(tmp_path, stories, config("h02"), name="second")
    assert second["ok"] == [] and second["duplicates"] == []
    assert {r["reason"] for r in second["rejected"]} == {"already_stored"}
    assert len(second["rejected"]) == 7
    assert counters.get("dedup_store_appended", 0) == 0
    assert _store_files(state) == stored  # nothing written twice


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_new_copy_points_at_yesterdays_canonical(tmp_path: Path) -> None:
    state = tmp_path / "state"
    yesterday = [story(f"y{n}", words(300 + n), "2026-11-23T10:00:00Z") for n in range(4)]
    run_dedup(
        tmp_path,
        yesterday,
        DedupConfig(state_location=str(state), run_date="2026-11-23", run_id="d1"),
        name="d1",
    )
    abridged = " ".join(yesterday[1].text.split()[:200])
    today = [story("t-copy", abridged, "2026-11-24T08:00:00Z"), story("t-new", words(999))]
    records, counters = run_dedup(
        tmp_path,
        today,
        DedupConfig(state_location=str(state), run_date="2026-11-24", run_id="d2"),
        name="d2",
    )
    # The store is scanned, but only the stored story this run meets is loaded into the graph.
    assert counters["dedup_store_scanned"] == 4
    assert counters["dedup_store_loaded"] == 1
    assert ids(records["ok"]) == ["t-new"]
    (copy,) = records["duplicates"]
    assert copy["duplicate_of"] == "y1" and copy["cluster_id"] == "y1"
    assert copy["duplicate_reason"] == "near_duplicate"

    # The horizon counts days of runs: 7 days after d2 both partitions are still read, 8 days
    # after they are not. A re-run skips its own file (it decides again instead).
    def loaded(run_date: str, run_id: str = "d9") -> list[str]:
        store = StoreConfig(str(state), run_date, run_id, horizon_days=7)
        read = _ReadStoreDayFn(store.root(MinHashConfig()), store.file_name)
        return sorted(fp.story_id for day in store.days() for fp in read.process(day))

    assert loaded("2026-11-30") == ["t-copy", "t-new", "y0", "y1", "y2", "y3"]
    assert loaded("2026-12-01") == ["t-copy", "t-new"]
    assert loaded("2026-12-02") == []
    assert loaded("2026-11-24", run_id="d2") == ["y0", "y1", "y2", "y3"]
