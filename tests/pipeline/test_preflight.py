"""Every location the job writes is checked before any worker starts, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.preflight import PreflightError, run_preflight


def test_a_capture_folder_that_is_a_file_stops_the_run_before_any_output(tmp_path: Path):
    # --capture_warc used to be found unwritable by the first worker that fetched: a crash
    # (exit 1) in the middle of the run, instead of exit 2 before it.
    taken = tmp_path / "capture"
    taken.write_text("a file, not a folder")
    out = tmp_path / "out"
    with pytest.raises(PreflightError, match="--capture_warc"):
        run_preflight(str(out), None, worker_outputs={"--capture_warc": str(taken)})
    run_preflight(str(out), None, worker_outputs={"--capture_warc": str(tmp_path / "warc")})
    assert (tmp_path / "warc").is_dir() and not any((tmp_path / "warc").iterdir())
