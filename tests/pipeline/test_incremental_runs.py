"""Scheduled batch runs with --state_location: the second run over unchanged feeds fetches no
article again, and re-running a run_date reproduces that run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.__main__ import run
from tests.pipeline.test_end_to_end import _records

pytestmark = pytest.mark.slow

FEED_DOCUMENTS = ("/rss.xml", "/atom.xml", "/index.rdf", "/feed.xml")


def _article_requests(server) -> dict[str, int]:
    return {
        path: count
        for path, count in server.requests.items()
        if not path.endswith(FEED_DOCUMENTS) and not path.endswith("/robots.txt")
    }


def _run(feeds: Path, out: Path, state: Path, run_date: str) -> dict:
    argv = [
        "--feeds",
        str(feeds),
        "--output",
        str(out),
        "--state_location",
        str(state),
        "--run_date",
        run_date,
        "--allow_private_networks",
        "--per_host_rps",  # one local host serves every feed and page: not a second a request
        "50",
    ]
    assert run(argv) == 0
    return json.loads((out / "_run_report.json").read_text())


def test_second_scheduled_run_fetches_no_article_twice(
    sample_server, sample_feeds: Path, tmp_path: Path
) -> None:
    feeds = sample_server.write_feed_list(sample_feeds, tmp_path / "feeds.yaml")
    out, state = tmp_path / "output", tmp_path / "state"

    first = _run(feeds, out, state, "2026-11-25T10")
    fetched_once = _article_requests(sample_server)
    assert first["invariant"]["entries_read"] == 8 and first["invariant"]["holds"]
    assert fetched_once and set(fetched_once.values()) == {1}
    first_ids = {r["entry_id"] for r in _records(out, "stories")}

    second = _run(feeds, out, state, "2026-11-25T11")
    assert _article_requests(sample_server) == fetched_once  # no article fetched again
    assert second["invariant"]["entries_read"] == 0 and second["invariant"]["holds"]
    assert all(
        sample_server.requests[p] == 2 for p in sample_server.requests if p.endswith(FEED_DOCUMENTS)
    )
    snapshots = sorted(p.name for p in (state / "feeds").iterdir())
    assert snapshots == [
        "feed-state-20261125T100000Z-2026-11-25T10.jsonl",
        "feed-state-20261125T110000Z-2026-11-25T11.jsonl",
    ]

    # Re-running 10:00 (a retry or backfill) starts from the state before it, not its own:
    # the same entries with the same ids, written again under that run's files.
    again_out = tmp_path / "again"
    again = _run(feeds, again_out, state, "2026-11-25T10")
    assert again["invariant"]["entries_read"] == 8
    assert {r["entry_id"] for r in _records(again_out, "stories")} == first_ids
