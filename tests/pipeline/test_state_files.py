"""Damaged state stops the next run before any output (exit 2), or is quarantined on request.

Real scheduled runs of the bundled sample with ``--state_location``; the state files they write
are then damaged the way disks and copies damage files (cut on a record boundary, cut
mid-record) and the next run must refuse them with a message naming the file and the fix, or,
with ``--state_repair quarantine``, move them aside, run, and say so in the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.__main__ import run

pytestmark = pytest.mark.slow


def _argv(out: Path, state: Path, run_date: str, *extra: str) -> list[str]:
    return ["--output", str(out), "--state_location", str(state), "--run_date", run_date, *extra]


def _cut_on_record_boundary(path: Path, drop_lines: int = 2) -> None:
    lines = path.read_bytes().split(b"\n")[:-1]
    path.write_bytes(b"".join(line + b"\n" for line in lines[:-drop_lines]))


@pytest.fixture()
def first_run(tmp_path: Path, sample_runs) -> Path:
    """The state a first scheduled run leaves behind (a private copy: the tests damage it)."""
    _, state = sample_runs.copy(tmp_path / "first", "--run_date", "2026-11-24T10", state=True)
    return state


def test_damaged_state_stops_the_run_before_any_output(first_run, tmp_path: Path, capsys):
    state = first_run
    (fingerprints,) = state.glob("dedup/*/dt=2026-11-24/fingerprints-*.jsonl")
    (snapshot,) = state.glob("feeds/feed-state-*.jsonl")
    assert json.loads(fingerprints.read_text().splitlines()[-1])["records"] > 0

    _cut_on_record_boundary(fingerprints)
    later = tmp_path / "later"
    capsys.readouterr()
    assert run(_argv(later, state, "2026-11-24T11")) == 2
    err = capsys.readouterr().err
    assert str(fingerprints) in err and "cut short" in err and "--state_repair quarantine" in err
    assert not later.exists() or not any(later.rglob("*")), "output written before the refusal"

    # A fingerprint file cut mid-record: named, explained, never a bare JSONDecodeError.
    fingerprints.write_bytes(fingerprints.read_bytes()[:-7])
    assert run(_argv(later, state, "2026-11-24T11")) == 2
    err = capsys.readouterr().err
    assert str(fingerprints) in err and "JSONDecodeError" not in err

    snapshot.write_bytes(snapshot.read_bytes()[:-1] + b"x")
    fingerprints.unlink()
    assert run(_argv(later, state, "2026-11-24T11")) == 2
    err = capsys.readouterr().err
    assert str(snapshot) in err and "Fix:" in err


def test_quarantine_moves_damaged_files_aside_and_the_report_counts_them(first_run, tmp_path):
    state = first_run
    (fingerprints,) = state.glob("dedup/*/dt=2026-11-24/fingerprints-*.jsonl")
    (snapshot,) = state.glob("feeds/feed-state-*.jsonl")
    stored = json.loads(fingerprints.read_text().splitlines()[-1])["records"]
    _cut_on_record_boundary(fingerprints)
    _cut_on_record_boundary(snapshot, drop_lines=1)  # only the footer lost

    later = tmp_path / "later"
    assert run(_argv(later, state, "2026-11-24T11", "--state_repair", "quarantine")) == 0
    report = json.loads((later / "_run_report.json").read_text())
    quarantined = {Path(q["path"]).name: q for q in report["state"]["quarantined"]}
    assert set(quarantined) == {fingerprints.name, snapshot.name}
    assert not fingerprints.exists() and not snapshot.exists()
    assert all(Path(q["moved_to"]).is_file() for q in quarantined.values())
    assert quarantined[fingerprints.name]["records_at_risk"] == stored - 1
    assert report["state"]["may_readmit"] > 0 and report["invariant"]["holds"]
    # Without its feed state the run reads every entry again: counted, not silent.
    assert report["invariant"]["entries_read"] == 8
    # What the run writes itself is framed again and verifies.
    assert run(_argv(tmp_path / "third", state, "2026-11-24T12")) == 0


def test_legacy_state_without_header_is_read_and_reported(first_run, tmp_path: Path) -> None:
    state = first_run
    (fingerprints,) = state.glob("dedup/*/dt=2026-11-24/fingerprints-*.jsonl")
    lines = fingerprints.read_text().splitlines()
    fingerprints.write_text("".join(line + "\n" for line in lines[1:-1]))  # the old layout

    later = tmp_path / "later"
    assert run(_argv(later, state, "2026-11-24T11")) == 0
    report = json.loads((later / "_run_report.json").read_text())
    assert report["state"]["legacy"] == [str(fingerprints)]
    assert any("without header/footer" in note for note in report["state"]["notes"])
