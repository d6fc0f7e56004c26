"""The bundled sample on other runners gives the same files as the in-process DirectRunner.

Separate worker processes catch what an in-process run hides: DoFns or configs that do not
pickle, module-level state the driver set up but a worker never sees, counters a runner does not
report (the run report would then fail its accounting), and output that depends on bundle order.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pipeline.__main__ import run
from tests.portable_services import PortableServices

pytestmark = pytest.mark.slow


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("part-*"))
    }


def _report(root: Path) -> dict:
    return json.loads((root / "_run_report.json").read_text())


@pytest.fixture(scope="module")
def in_process(sample_runs) -> Path:
    """The in-process DirectRunner's run of the sample (shared: only read here)."""
    return sample_runs.shared() / "output"


def _same_run(out: Path, reference: Path) -> None:
    assert _digests(out) == _digests(reference), "the files differ from the in-process run"
    report, expected = _report(out), _report(reference)
    assert report["invariant"]["holds"] is True, report["invariant"]["problems"]
    assert report["invariant"] == expected["invariant"]
    assert report["counters"] == expected["counters"], "a runner lost or added counters"


def test_multi_process_direct_runner(in_process: Path, tmp_path: Path) -> None:
    out = tmp_path / "output"
    options = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    assert run(["--output", str(out), *options]) == 0
    _same_run(out, in_process)


@pytest.mark.timeout(300)
def test_portable_runner_with_external_workers(in_process: Path, tmp_path: Path) -> None:
    out = tmp_path / "output"
    with PortableServices(tmp_path) as services:
        code = run(["--output", str(out), *services.options])
        assert code == 0, services.log()
        assert "Starting worker" in services.log(), "no SDK worker process was started"
    _same_run(out, in_process)
