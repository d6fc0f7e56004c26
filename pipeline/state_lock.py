"""One run at a time per local state folder: a second run refuses to start (exit 2).

A run reads the newest feed-state snapshot and the fingerprints stored before it, and commits
its own only after its outputs are written. Two runs overlapping on one ``--state_location``
both start from the same snapshot and the same fingerprints: each emits the same new entries
and stores the same stories as new, so every story is written twice and both runs exit 0.
Airflow's ``max_active_runs=1`` or ``flock`` around cron prevent it where they are used; this
lock makes the state itself refuse, whatever starts the runs.

The lock is ``flock`` on ``<state_location>/.wirestream.lock``, held by the launching process
from before the state is read until the run has finished (its snapshot committed). The kernel
releases it when that process ends however it ends, so a run killed with SIGKILL leaves no
stale lock to clear by hand. The file's text names the holder (run id, pid, host, start) for
the message the refused run prints. Object stores (``gs://``) have no such lock: there the
scheduler must keep runs from overlapping (deploy/README.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from dataclasses import dataclass

from pipeline.preflight import CREATED, PreflightError, missing_folders

LOCK_NAME = ".wirestream.lock"

# State folders this process holds the lock of: there no other run can be writing, so the
# preflight may remove temporary files that killed runs left (``held``).
_HELD: set[str] = set()


def held(location: str | None) -> bool:
    """Does this process hold the lock of ``location``?"""
    return bool(location) and "://" not in str(location) and _key(str(location)) in _HELD


def _key(location: str) -> str:
    return os.path.abspath(location.rstrip("/") or "/")


@dataclass
class StateLock:
    path: str
    fd: int
    created_folder: bool  # the lock's folder did not exist before: remove the file on refusal

    def release(self, refused: bool = False) -> None:
        if self.fd < 0:
            return
        if refused and self.created_folder:
            # Exit 2 leaves nothing behind; no other run can hold a lock in a folder this
            # process created moments ago.
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        os.close(self.fd)  # closing the only descriptor releases the flock
        self.fd = -1
        _HELD.discard(os.path.dirname(self.path))


def acquire(location: str | None, run_id: str) -> StateLock | None:
    """The state folder's lock for this run, or ``PreflightError`` when another run holds it.

    ``None`` without a local state location (none given, or an object store)."""
    if not location or "://" in location:
        return None
    folder = _key(location)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        return None  # the preflight names a file where the folder must be
    missing = missing_folders(folder)
    path = os.path.join(folder, LOCK_NAME)
    try:
        os.makedirs(folder, exist_ok=True)
        CREATED.extend(missing)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise PreflightError(
            f"--state_location {location}: cannot create the run lock {path} "
            f"({err.strerror or err}). Fix: the folder's permissions (read, write and execute "
            "for the account the job runs as)"
        ) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _holder(fd)
        os.close(fd)
        raise PreflightError(
            f"--state_location {location} is in use by another run ({holder}). Two runs on one "
            "state both start from the same snapshot and emit the same entries, so this one "
            "stops before reading it. Fix: let that run finish first (schedule runs so they do "
            "not overlap: max_active_runs=1 in Airflow, flock -n with cron); the lock goes "
            "with its process, also when the process is killed"
        ) from None
    text = f"run {run_id or '?'}, pid {os.getpid()}, host {socket.gethostname()}, since "
    text += time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode("utf-8"), 0)
    _HELD.add(folder)
    return StateLock(path, fd, created_folder=bool(missing))


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 500, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"
