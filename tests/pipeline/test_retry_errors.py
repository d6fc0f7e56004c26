"""--retry_errors through the CLI: a run whose page and feed failed, the cause fixed, and a retry
run that takes only the dead letters, writes what they become into the same output, and links
each retried entry to its original dead letter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.__main__ import run
from tests.pipeline.test_end_to_end import _records

pytestmark = pytest.mark.slow

FAILING_PAGE = "/eastwire.example/world/2020/11/07/lukashenko-us-elections"
FAILING_FEED = "/newsfarm.example/index.rdf"


def test_dead_letters_are_retried_into_the_same_output(
    sample_server, sample_feeds: Path, tmp_path: Path, capsys
) -> None:
    feeds = sample_server.write_feed_list(sample_feeds, tmp_path / "feeds.yaml")
    out = tmp_path / "output"
    common = ["--feeds", str(feeds), "--output", str(out), "--allow_private_networks"]
    common += ["--per_host_rps", "50"]  # one local host serves all: not a second a request

    sample_server.missing = {FAILING_PAGE, FAILING_FEED}
    # Every run here is in process: the same ``run`` that ``python -m pipeline`` calls, without
    # a Python and Beam start-up per run (what the CLI does as a process is tested in test_cli).
    assert run([*common, "--run_id", "first"]) == 0
    capsys.readouterr()
    errors = _records(out, "errors")
    page_error = next(e for e in errors if e["url"].endswith(FAILING_PAGE))
    assert page_error["entry_id"] and page_error["reason"] == "http_4xx"
    feed_error = next(e for e in errors if e["entry_id"] is None)
    assert feed_error["feed_url"].endswith(FAILING_FEED)

    # Only one reason, and not the one that failed: nothing to do, nothing written.
    retry_timeouts = [*common, "--retry_errors", str(out / "errors"), "--retry_reasons", "timeout"]
    assert run([*retry_timeouts, "--run_id", "idle"]) == 0
    assert "nothing to retry" in capsys.readouterr().out
    assert not list(out.rglob("part-idle-*"))

    assert run([*common, "--retry_errors", str(tmp_path / "nowhere")]) == 2
    assert "no dead-letter files" in capsys.readouterr().err

    sample_server.missing = set()  # the cause is fixed
    before = dict(sample_server.requests)
    assert run([*common, "--run_id", "retry", "--retry_errors", str(out / "errors")]) == 0
    report = json.loads((out / "_run_report.json").read_text())
    assert report["invariant"]["holds"], report["invariant"]
    asked = {p for p, n in sample_server.requests.items() if n > before.get(p, 0)}
    assert FAILING_PAGE in asked and FAILING_FEED in asked  # the failed page, the failed feed
    assert not any(p.endswith(("/rss.xml", "/atom.xml", "/feed.xml")) for p in asked)

    retried = {item["entry_id"]: item for item in report["retried"]}
    assert set(retried) == {page_error["entry_id"]}
    link = retried[page_error["entry_id"]]
    assert link["outcome"] == "story"
    assert link["original"]["reason"] == "http_4xx" and link["original"]["stage"] == "fetch"
    assert "part-first-" in link["original"]["file"]
    story = next(s for s in _records(out, "stories") if s["entry_id"] == page_error["entry_id"])
    assert story["url"].endswith(FAILING_PAGE)
    assert list(out.rglob("part-first-*")) and list(out.rglob("part-retry-*"))  # both runs kept
    assert report["settings"]["retry"]["entries_retried"] == 1
    assert report["settings"]["retry"]["feeds_read_again"] == [feed_error["feed_url"]]
    page = (out / "_run_report.html").read_text()
    assert "Retried dead letters" in page and "part-first-" in page
