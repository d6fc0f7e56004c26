"""Stale-file and temporary-folder cleanup touch only their own run's names (real files)."""

from __future__ import annotations

from pathlib import Path

from transforms.sinks.partitioned import WriteConfig, temp_directory
from transforms.sinks.rerun import stale_files, temporary_folders


def _touch(root: Path, relative: str) -> str:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return relative


def test_cleanup_never_takes_another_runs_files(tmp_path: Path) -> None:
    config = WriteConfig(output=str(tmp_path), run_id="daily")
    mine = _touch(tmp_path, "errors/date=2026-11-24/part-daily-00000-of-00001.jsonl.gz")
    old = _touch(tmp_path, "errors/date=2026-11-23/part-daily-00000-of-00001.jsonl.gz")
    others = [
        _touch(tmp_path, "errors/date=2026-11-23/part-daily-2-00000-of-00001.jsonl.gz"),
        # A batch run whose id looks like a streaming window tag of run "daily".
        _touch(
            tmp_path, "errors/date=2026-11-23/part-daily-w20261124T101500Z-00000-of-00001.jsonl.gz"
        ),
        _touch(tmp_path, "stories/date=2026-11-23/lang=en/part-daily-x-00000-of-00001.jsonl.gz"),
    ]
    stale = stale_files(config, [str(tmp_path / mine)])
    assert [Path(p).relative_to(tmp_path).as_posix() for p in stale] == [old]
    assert all((tmp_path / other).exists() for other in others)


def test_temporary_folders_are_the_runs_own_empty_ones_too(tmp_path: Path) -> None:
    config = WriteConfig(output=str(tmp_path), run_id="daily")
    own = Path(temp_directory(config))
    own.mkdir()  # empty, as a finished write leaves it
    killed = Path(temp_directory(config))
    _touch(killed, "partial")
    other = Path(temp_directory(WriteConfig(output=str(tmp_path), run_id="daily-2")))
    other.mkdir()
    (tmp_path / ".temp-daily-notahex").mkdir()
    assert temporary_folders(config) == sorted([str(own), str(killed)])
