"""A live run over real local HTTP, captured to WARC, replays to byte-identical outputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.__main__ import run

pytestmark = pytest.mark.slow


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("part-*"))
    }


def test_captured_run_replays_identically(sample_server, sample_feeds: Path, tmp_path: Path):
    feeds = sample_server.write_feed_list(sample_feeds, tmp_path / "feeds.yaml")
    capture = tmp_path / "warc"
    common = ["--feeds", str(feeds), "--run_id", "capture-test", "--per_host_rps", "50"]
    live_args = [*common, "--output", str(tmp_path / "live"), "--allow_private_networks"]
    assert run([*live_args, "--capture_warc", str(capture)]) == 0
    assert list(capture.glob("*.warc.gz")) and not list(capture.glob("*.inprogress"))
    requests_after_live = sum(sample_server.requests.values())
    assert run([*common, "--output", str(tmp_path / "replayed"), "--replay", str(capture)]) == 0
    assert sum(sample_server.requests.values()) == requests_after_live  # offline
    live, replayed = _digests(tmp_path / "live"), _digests(tmp_path / "replayed")
    assert live and live == replayed
