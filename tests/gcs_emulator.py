"""A real GCS emulator process (gcp-storage-emulator, JSON API) on 127.0.0.1, for the gs:// tests.

Beam's GCS filesystem and google-cloud-storage both honour ``STORAGE_EMULATOR_HOST``. What they
would still do is look for Google credentials (about 25 s of retries on a machine without any)
before connecting; ``anonymous_gcs`` hands Beam "no credentials" up front, which is what it falls
back to anyway, so the tests spend their time on the pipeline rather than on the search.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.portable_services import free_port, wait_for_port


def _emulator_command() -> list[str]:
    script = Path(sys.executable).parent / "gcp-storage-emulator"
    if script.exists():
        return [str(script)]
    found = shutil.which("gcp-storage-emulator")
    if not found:
        pytest.skip("gcp-storage-emulator is not installed (pip install '.[test]')")
    return [found]


@contextmanager
def gcs_emulator(workdir: Path) -> Iterator[str]:
    """Start the emulator in memory; yield its endpoint; stop it (and only it) afterwards."""
    port = free_port()
    log = (workdir / "gcs_emulator.log").open("wb")
    process = subprocess.Popen(
        [*_emulator_command(), "start", "--host=127.0.0.1", f"--port={port}", "--in-memory"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, process, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@contextmanager
def anonymous_gcs(endpoint: str) -> Iterator[None]:
    """Point Beam and google-cloud-storage at the emulator with anonymous credentials."""
    from apache_beam.internal.gcp import auth

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", endpoint)
        patch.setattr(auth, "get_service_credentials", lambda options: None)
        yield


def storage_client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="wirestream-test", credentials=AnonymousCredentials())
