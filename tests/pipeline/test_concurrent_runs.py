"""Two runs with different run ids writing to one output at the same time keep all their files.

Both runs are real ``python -m pipeline`` processes against one news site on 127.0.0.1; an
article page holds both of them until each has asked for it, so their writes, their stale-file
cleanup and their temporary-folder cleanup overlap. Each run's cleanup is scoped to its own run
id (transforms/sinks/rerun.py): afterwards both runs' files are complete.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.news_server import HTML_TYPE, RSS_TYPE, NewsServer, article_html, rss
from transforms.sinks.naming import run_file_pattern

pytestmark = pytest.mark.slow

PAGES = 3


def _stories(out: Path, run_id: str) -> list[dict]:
    exact = run_file_pattern(run_id, ".jsonl.gz", windows=False)
    found = []
    for path in sorted(out.glob("stories/*/*/part-*.jsonl.gz")):
        if exact.fullmatch(path.name):
            found += [json.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]
    return found


def test_concurrent_runs_do_not_delete_each_others_files(tmp_path: Path) -> None:
    with NewsServer() as site:
        items = [(f"g{i}", site.url(f"/p/{i}"), f"Story {i}") for i in range(PAGES)]
        site.routes["/feed.xml"] = (200, RSS_TYPE, rss(items))
        for i in range(PAGES):
            site.routes[f"/p/{i}"] = (200, HTML_TYPE, article_html(i, f"Story {i}"))
        gate = site.stalls["/p/0"] = threading.Event()
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {site.url('/feed.xml')}\n")
        out = tmp_path / "out"
        env = {**os.environ, "PYTHONPATH": str(REPO)}

        def start(run_id: str) -> subprocess.Popen:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "--feeds",
                    str(feeds),
                    "--output",
                    str(out),
                    "--run_id",
                    run_id,
                    "--allow_private_networks",
                    "--per_host_rps",
                    "1000",
                ],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )

        # "hourly" is a prefix of "hourly-2": name-based cleanup must still tell them apart.
        runs = {run_id: start(run_id) for run_id in ("hourly", "hourly-2")}
        deadline = time.monotonic() + 300
        while site.requests["/p/0"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        outputs = {run_id: p.communicate(timeout=600)[0].decode() for run_id, p in runs.items()}
        assert site.requests["/p/0"] == 2, "the runs did not overlap"
    for run_id, process in runs.items():
        assert process.returncode == 0, outputs[run_id]
        stories = _stories(out, run_id)
        assert len(stories) == PAGES, (run_id, outputs[run_id])
    assert not [p for p in out.iterdir() if p.name.startswith(".temp")]
    # Each run's stale-file cleanup found nothing of its own to remove, and nothing else.
    assert all("removing" not in text for text in outputs.values())
