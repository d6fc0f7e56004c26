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


class SampleRuns:
    """Runs of the bundled sample, each distinct command run once per session.

    Many tests start from the same first run (the sample replayed at one ``--run_date``, with or
    without a state location) and only then do what they are about: run again, damage the state,
    change the feeds. A run costs seconds of Beam start-up and graph building, so each distinct
    command runs once and every test that needs its result gets a private copy (``copy``) or,
    when it only reads, the shared folder itself (``shared``). The run is the real CLI run in
    process, its exit code checked, exactly what each test did before on its own.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._done: dict[tuple[str, ...], Path] = {}

    def shared(self, *flags: str, state: bool = False) -> Path:
        """The folder holding ``output`` (and ``state`` if asked) of that run; read only."""
        key = (*flags, "--state" if state else "")
        if key not in self._done:
            from pipeline.__main__ import run

            base = self._root / f"run{len(self._done)}"
            argv = ["--output", str(base / "output"), *flags]
            if state:
                argv += ["--state_location", str(base / "state")]
            assert run(argv) == 0, argv
            self._done[key] = base
        return self._done[key]

    def copy(self, dest: Path, *flags: str, state: bool = False) -> tuple[Path, Path]:
        """A private copy of that run's ``output`` and ``state`` under ``dest``."""
        import shutil

        base = self.shared(*flags, state=state)
        for name in ("output", "state"):
            if (base / name).exists():
                shutil.copytree(base / name, dest / name)
        return dest / "output", dest / "state"


@pytest.fixture(scope="session")
def sample_runs(tmp_path_factory) -> SampleRuns:
    return SampleRuns(tmp_path_factory.mktemp("sample-runs"))
