"""Accounting starts at the feed: every listed item ends somewhere, and an outage is not green.

Whole runs of ``python -m pipeline`` against a real news site on 127.0.0.1 (tests/news_server.py):
items that share a guid, exact repeats, a feed document cut short, pages that fail, feeds that
cannot be reached. The run report's invariant must start at ``entries_listed``, its per-feed
table must say which feed did what, and the failure gate must turn an outage into exit 3.
"""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest

from pipeline.__main__ import run
from pipeline.report_tables import HEALTH_KEYS
from tests.news_server import HTML_TYPE, RSS_TYPE, NewsServer, article_html, rss

pytestmark = pytest.mark.slow


def _records(root: Path, output: str) -> list[dict]:
    found = []
    for path in sorted((root / output).rglob("*.jsonl.gz")):
        found += [json.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]
    return found


def _feeds_yaml(tmp: Path, urls: list[tuple[str, str]]) -> Path:
    path = tmp / "feeds.yaml"
    path.write_text("feeds:\n" + "".join(f"  - url: {u}\n    name: {n}\n" for u, n in urls))
    return path


def _run(feeds: Path, out: Path, *extra: str) -> int:
    return run(
        [
            "--feeds",
            str(feeds),
            "--output",
            str(out),
            "--run_id",
            "acct",
            "--allow_private_networks",
            "--per_host_rps",
            "1000",
            "--max_retries",
            "0",
            *extra,
        ]
    )


def _refused_url() -> str:
    """A loopback port nobody listens on: connection refused, at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


def test_every_listed_item_ends_somewhere_and_each_feed_is_accounted(tmp_path: Path) -> None:
    with NewsServer() as site:
        shared = [("one-guid", site.url(f"/a/{i}"), f"Section story {i}") for i in range(1, 6)]
        repeated = [("g7", site.url("/a/7"), "Repeated story")] * 3
        site.routes["/shared.xml"] = (200, RSS_TYPE, rss(shared + repeated))
        whole = rss([(f"b{i}", site.url(f"/b/{i}"), f"Good {i}") for i in (1, 2)])
        site.routes["/good.xml"] = (200, RSS_TYPE, whole)
        # The same kind of document, cut in the middle of its second item.
        cut = rss([(f"c{i}", site.url(f"/c/{i}"), f"Cut {i}") for i in (1, 2, 3)])
        site.routes["/cut.xml"] = (200, RSS_TYPE, cut[: cut.index(b"Cut 2")])
        for seed, path in enumerate(["/a/1", "/a/2", "/a/3", "/a/4", "/a/5", "/a/7", "/b/1"]):
            site.routes[path] = (200, HTML_TYPE, article_html(seed, f"Story {path}"))
        # /b/2 is not served: a 404, an entry-level dead letter.
        feeds = _feeds_yaml(
            tmp_path,
            [
                (site.url("/shared.xml"), "Shared"),
                (site.url("/good.xml"), "Good"),
                (site.url("/cut.xml"), "Cut"),
            ],
        )
        out = tmp_path / "out"
        code = _run(feeds, out)
    report = json.loads((out / "_run_report.json").read_text())
    invariant = report["invariant"]
    assert code == 0, report  # one feed of three failed: under the default gate of 0.5
    assert invariant["holds"] is True
    assert invariant["entries_listed"] == 10  # 5 shared-guid + 3 repeated + 2 good
    stories, duplicates = _records(out, "stories"), _records(out, "duplicates")
    errors = _records(out, "errors")
    # Five pages behind one guid are five stories; the repeats are same_url duplicates.
    assert sorted(s["url"].rsplit("/", 2)[-2:][1] for s in stories if "/a/" in s["url"]) == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "7",
    ]
    assert len({s["entry_id"] for s in stories}) == len(stories) == 7
    assert [d["duplicate_reason"] for d in duplicates] == ["same_url", "same_url"]
    assert len({d["entry_id"] for d in duplicates}) == 2
    # The cut document is one feed-level dead letter; none of its entries pass as the feed.
    (cut_letter,) = [e for e in errors if e["reason"] == "truncated_feed"]
    assert cut_letter["entry_id"] is None and "cut short" in cut_letter["error"]
    assert not any("/c/" in s["url"] for s in stories)
    assert [e["reason"] for e in errors if e["entry_id"]] == ["http_4xx"]

    table = {row["name"]: row for row in report["feeds"]}
    assert all(tuple(sorted(row)) == tuple(sorted(HEALTH_KEYS)) for row in report["feeds"])
    assert table["Shared"]["entries_listed"] == 8 and table["Shared"]["stories"] == 6
    assert table["Shared"]["duplicates"] == 2 and table["Shared"]["last_error"] is None
    assert table["Good"]["stories"] == 1 and table["Good"]["dead_letters"] == 1
    assert table["Cut"]["entries_listed"] == 0 and table["Cut"]["dead_letters"] == 1
    assert "cut short" in table["Cut"]["last_error"] and table["Cut"]["last_success"] is None
    assert report["gate"]["feeds_failed"] == 1 and report["gate"]["feeds_due"] == 3


def test_all_feeds_down_writes_everything_then_exits_3(tmp_path: Path, capsys) -> None:
    feeds = _feeds_yaml(tmp_path, [(_refused_url(), "Down 1"), (_refused_url(), "Down 2")])
    out = tmp_path / "out"
    code = _run(feeds, out)
    captured = capsys.readouterr()
    assert code == 3
    report = json.loads((out / "_run_report.json").read_text())
    assert report["exit_code"] == 3 and report["invariant"]["holds"] is True
    assert report["gate"]["feeds_failed"] == 2 and report["gate"]["feed_failure_ratio"] == 1.0
    assert "--max_feed_failure_ratio" in report["gate"]["failures"][0]
    assert "too much failed" in captured.err and "TOO MUCH FAILED" in captured.out
    assert len(_records(out, "errors")) == 2  # the dead letters are written all the same
    assert all(row["last_error"] for row in report["feeds"])
    # The gate can be switched off: the same outage then exits 0.
    assert _run(feeds, out, "--max_feed_failure_ratio", "off") == 0


def test_dead_letter_ratio_gate(tmp_path: Path) -> None:
    with NewsServer() as site:
        items = [(f"d{i}", site.url(f"/gone/{i}"), f"Gone {i}") for i in range(3)]
        items.append(("ok", site.url("/here"), "Here"))
        site.routes["/feed.xml"] = (200, RSS_TYPE, rss(items))
        site.routes["/here"] = (200, HTML_TYPE, article_html(1, "Here"))
        feeds = _feeds_yaml(tmp_path, [(site.url("/feed.xml"), "Mostly gone")])
        out = tmp_path / "out"
        assert _run(feeds, out) == 0  # off by default
        assert _run(feeds, out, "--max_dead_letter_ratio", "0.5") == 3
    report = json.loads((out / "_run_report.json").read_text())
    assert report["gate"]["dead_letter_ratio"] == 0.75
    assert "--max_dead_letter_ratio" in report["gate"]["failures"][0]


def _outcomes(out: Path, run_id: str) -> dict[str, list[str]]:
    """entry id -> the outputs it ended in (stories, duplicates, rejected, errors) for one run."""
    found: dict[str, list[str]] = {}
    for output in ("stories", "duplicates", "rejected", "errors"):
        for path in sorted((out / output).rglob(f"*{run_id}*.jsonl.gz")):
            for line in gzip.decompress(path.read_bytes()).splitlines():
                record = json.loads(line)
                if record.get("entry_id"):
                    found.setdefault(record["entry_id"], []).append(output)
    return found


def test_guids_shared_across_feeds_links_and_runs_end_once_each(tmp_path: Path) -> None:
    """One guid in two feeds, one link under two guids, an item with neither link nor guid, then
    a scheduled run where a guid changed: every entry ends in exactly one output, each run."""
    with NewsServer() as site:
        first = [
            ("g1", site.url("/x/1"), "One"),
            ("g2", site.url("/x/2"), "Two"),
            ("g3", site.url("/x/2"), "Two under another guid"),
            ("", "", "Neither link nor guid"),
        ]
        site.routes["/a.xml"] = (200, RSS_TYPE, rss(first))
        site.routes["/b.xml"] = (
            200,
            RSS_TYPE,
            rss([("g1", site.url("/x/1"), "One"), ("g4", site.url("/x/3"), "Three")]),
        )
        for seed, path in enumerate(["/x/1", "/x/2", "/x/3", "/x/4"]):
            site.routes[path] = (200, HTML_TYPE, article_html(seed + 20, f"Story {path}"))
        feeds = _feeds_yaml(tmp_path, [(site.url("/a.xml"), "A"), (site.url("/b.xml"), "B")])
        out, state = tmp_path / "out", tmp_path / "state"
        argv = ["--feeds", str(feeds), "--output", str(out), "--state_location", str(state)]
        argv += ["--allow_private_networks", "--per_host_rps", "1000", "--max_retries", "0"]
        assert run([*argv, "--run_date", "2026-11-24T10"]) == 0
        one = json.loads((out / "_run_report.json").read_text())
        # The publisher changes g2's guid; a new item arrives.
        second = [first[0], ("g2-edited", site.url("/x/2"), "Two"), *first[2:]]
        second.append(("g5", site.url("/x/4"), "Four"))
        site.routes["/a.xml"] = (200, RSS_TYPE, rss(second))
        assert run([*argv, "--run_date", "2026-11-24T11"]) == 0
        two = json.loads((out / "_run_report.json").read_text())

    outcomes = _outcomes(out, "2026-11-24T10")
    assert all(len(places) == 1 for places in outcomes.values()), outcomes
    assert len(outcomes) == one["invariant"]["entries_read"] == 6 and one["invariant"]["holds"]
    ended = sorted(places[0] for places in outcomes.values())
    # /x/1, /x/2, /x/3 once each; g1 of feed B and g3 (same link) copies; the link-less item.
    assert ended == ["duplicates", "duplicates", "errors", "stories", "stories", "stories"]

    later = _outcomes(out, "2026-11-24T11")
    assert all(len(places) == 1 for places in later.values()), later
    invariant = two["invariant"]
    assert invariant["holds"] and invariant["entries_read"] == 2 == len(later)
    assert invariant["skipped"]["seen_before"] == 5  # g1, g3, the link-less item; all of B
    # The re-guided item is a new entry whose page was stored already; g5 is the one new story.
    assert sorted(places[0] for places in later.values()) == ["rejected", "stories"]
    (rejected,) = _records(out, "rejected")
    assert rejected["reason"] == "already_stored"
