"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures_http"]

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "transforms" / "data" / "sample"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The evaluation data beside the clone; tests that need it skip cleanly without it."""
    path = REPO.parent / "shared"
    if not (path / "data").is_dir():
        pytest.skip("../shared is not present")
    return path


@pytest.fixture(scope="session")
def sample_feeds() -> Path:
    return SAMPLE / "feeds.yaml"


@pytest.fixture(scope="session")
def sample_archive() -> Path:
    return SAMPLE / "sample.warc"


@pytest.fixture()
def sample_server(sample_archive):
    from tests.sample_server import SampleServer

    with SampleServer(sample_archive) as server:
        yield server
