"""Crash safety shown: a scheduled run SIGKILLed at several points, re-run, ends as a clean run.

``python -m pipeline`` runs in a child process against a real news site on 127.0.0.1. The kill
points are real moments of the run, observed from outside, with no hook in the pipeline:

* during fetch: one article page stalls until the test lets it go, so the run is surely inside
  its fetch stage when it is killed;
* during the writes: the moment the writer's temporary folder appears under the output root;
* between the writes and the state commit: the moment the run's final files are on disk while
  its feed-state snapshot is not.

Each kill is followed by the next attempt of the *same* ``--run_date`` (the scheduler's retry),
and the last one is allowed to finish. Its outcome must equal a clean run's: the same story ids,
no entry written twice, no temporary file or folder left in the output or the state, and state
that the next scheduled run reads without complaint.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.__main__ import run
from tests.conftest import REPO
from tests.news_server import HTML_TYPE, RSS_TYPE, NewsServer, article_html, rss
from transforms.core import statefile

pytestmark = pytest.mark.slow

RUN_DATE = "2026-11-24T10"
PAGES = 4


def _site(site: NewsServer) -> None:
    items = [(f"g{i}", site.url(f"/p/{i}"), f"Story {i}") for i in range(PAGES)]
    site.routes["/feed.xml"] = (200, RSS_TYPE, rss(items))
    for i in range(PAGES):
        site.routes[f"/p/{i}"] = (200, HTML_TYPE, article_html(i, f"Story {i}"))


def _command(feeds: Path, out: Path, state: Path, run_date: str = RUN_DATE) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline",
        "--feeds",
        str(feeds),
        "--output",
        str(out),
        "--state_location",
        str(state),
        "--run_date",
        run_date,
        "--allow_private_networks",
        "--per_host_rps",
        "1000",
        "--max_retries",
        "0",
    ]


def _start(command: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _kill_when(process: subprocess.Popen, moment: Callable[[], bool], limit: float = 300) -> str:
    """SIGKILL ``process`` as soon as ``moment()`` is true; "finished" if it ended first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if moment():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return "killed"
        if process.poll() is not None:
            return "finished"
        time.sleep(0.002)
    process.kill()
    raise AssertionError("the kill point never came")


def _records(root: Path, output: str) -> list[dict]:
    found = []
    for path in sorted((root / output).rglob("*.jsonl.gz")):
        found += [json.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]
    return found


def _temporaries(*roots: Path) -> list[str]:
    return [
        str(p)
        for root in roots
        for p in root.rglob("*")
        if p.name.startswith((".temp", ".tmp")) or "quarantine" in p.parts
    ]


def _final_files(out: Path) -> bool:
    return any(out.glob("stories/*/*/part-*"))


def test_killed_runs_rerun_to_the_clean_result(tmp_path: Path) -> None:
    with NewsServer() as site:
        _site(site)
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {site.url('/feed.xml')}\n    name: Wire\n")

        clean_out, clean_state = tmp_path / "clean", tmp_path / "clean-state"
        assert run(_command(feeds, clean_out, clean_state)[3:]) == 0  # in-process: no crash

        out, state = tmp_path / "out", tmp_path / "state"
        command = _command(feeds, out, state)
        points = []

        # 1. During fetch: the third article stalls; kill while the run waits for it.
        gate = site.stalls["/p/2"] = threading.Event()
        process = _start(command, tmp_path)
        points.append(_kill_when(process, site.stalled.is_set))
        gate.set()
        del site.stalls["/p/2"]

        # 2. During the writes: the writer's temporary folder has appeared.
        process = _start(command, tmp_path)
        points.append(_kill_when(process, lambda: any(out.glob(".temp-*"))))

        # 3. Between the writes and the state commit: final files, no snapshot yet.
        process = _start(command, tmp_path)
        points.append(
            _kill_when(
                process, lambda: _final_files(out) and not any(state.glob("feeds/feed-state-*"))
            )
        )

        # The retry that is allowed to finish: never killed, so it runs in process (the same
        # ``run`` that ``python -m pipeline`` calls) and saves a Python and Beam start-up.
        assert run(command[3:]) == 0

        assert points[0] == "killed", "the fetch kill point is a stall: it cannot be missed"
        report = json.loads((out / "_run_report.json").read_text())
        assert report["invariant"]["holds"] is True

        def story_ids(root: Path) -> list[str]:
            return sorted(r["story_id"] for r in _records(root, "stories"))

        assert story_ids(out) == story_ids(clean_out) and len(story_ids(out)) == PAGES
        entries = Counter(
            r["entry_id"] for o in ("stories", "duplicates", "rejected") for r in _records(out, o)
        )
        assert entries and max(entries.values()) == 1, "an entry was written twice"
        assert not _temporaries(out, state), _temporaries(out, state)
        # State readable: every file verifies, and the next scheduled run finds nothing new.
        for path in [*state.rglob("*.jsonl")]:
            statefile.read(str(path), "feed-state" if "feeds" in path.parts else "fingerprints")
        assert run(_command(feeds, tmp_path / "next", state, "2026-11-24T11")[3:]) == 0
        nxt = json.loads((tmp_path / "next" / "_run_report.json").read_text())
        assert nxt["invariant"]["entries_read"] == 0
        print("kill points:", points)
