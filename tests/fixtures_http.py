"""Pytest fixtures for HTTP tests: the local server and a record of every outgoing connect.

Loaded from ``tests/conftest.py`` with ``pytest_plugins = ["tests.fixtures_http"]``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.httpserver import LocalServer

_recorders: list[list[tuple[str, int]]] = []
_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple) -> None:
    # "socket.connect" is raised by CPython before every connect(): the ground truth for
    # "the guard stopped it before any connection attempt".
    if event == "socket.connect" and _recorders:
        address = args[1]
        if isinstance(address, tuple) and len(address) >= 2:
            with _lock:
                for seen in _recorders:
                    seen.append((str(address[0]), int(address[1])))


@contextmanager
def recording_connects() -> Iterator[list[tuple[str, int]]]:
    """Collect, live, the (address, port) of every socket connect made inside the block."""
    global _hook_installed
    with _lock:
        if not _hook_installed:
            sys.addaudithook(_audit)  # cannot be removed; it is idle when nothing records
            _hook_installed = True
        seen: list[tuple[str, int]] = []
        _recorders.append(seen)
    try:
        yield seen
    finally:
        with _lock:
            _recorders.remove(seen)


@pytest.fixture(scope="session")
def http_server() -> Iterator[LocalServer]:
    """One real threaded server on 127.0.0.1 for the whole session (routes: tests/httpserver)."""
    server = LocalServer().start()
    yield server
    server.stop()


@pytest.fixture()
def connects() -> Iterator[list[tuple[str, int]]]:
    with recording_connects() as seen:
        yield seen
