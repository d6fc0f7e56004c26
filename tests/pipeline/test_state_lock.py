"""Two runs on one local state folder: the second stops before reading it (exit 2).

Without the lock both runs started from the same snapshot and fingerprints, each wrote every
new story, and both exited 0 (measured: 8 stories written 16 times). The holder here is a real
second process; the refused run is the real CLI (``--check`` takes the same lock as a run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import state_lock
from pipeline.preflight import PreflightError
from tests.conftest import REPO

_HOLD = """
import sys, time
from pipeline import state_lock
lock = state_lock.acquire(sys.argv[1], "holder-run")
print("held", flush=True)
time.sleep(120)
"""


def _holder(state: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )


def test_a_second_run_on_the_same_state_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = _holder(state)
    try:
        done = _cli("--check", "--output", str(tmp_path / "out"), "--state_location", str(state))
        assert done.returncode == 2, done.stderr
        assert "in use by another run (run holder-run, pid" in done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "out").exists()  # refused before any output
        with pytest.raises(PreflightError, match="in use by another run"):
            state_lock.acquire(str(state), "same-process")
    finally:
        # SIGKILL, as a crashed or killed run: the kernel releases the lock with the process.
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10
    while True:
        try:
            lock = state_lock.acquire(str(state), "after-the-kill")
            break
        except PreflightError:
            assert time.monotonic() < deadline, "the killed run's lock was not released"
            time.sleep(0.1)
    assert lock is not None
    assert "run after-the-kill" in (state / state_lock.LOCK_NAME).read_text()
    lock.release()
    done = _cli("--check", "--output", str(tmp_path / "out"), "--state_location", str(state))
    assert done.returncode == 0, done.stderr
    fresh = tmp_path / "new-state"
    done = _cli("--check", "--output", str(tmp_path / "out"), "--state_location", str(fresh))
    assert done.returncode == 0, done.stderr
    assert not fresh.exists()  # --check writes nothing: not even the lock's folder


def test_no_lock_without_a_local_state_folder(tmp_path: Path) -> None:
    assert state_lock.acquire(None, "r") is None
    assert state_lock.acquire("gs://bucket/state", "r") is None
    plain = tmp_path / "file"
    plain.write_text("x")
    assert state_lock.acquire(str(plain), "r") is None  # the preflight names that problem
