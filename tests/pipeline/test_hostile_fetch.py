"""Hostile servers end to end, through the CLI: one run, every misbehaviour at once.

Real servers on 127.0.0.0/8 (``tests/httpserver.py``) cut bodies short, reset connections,
drip bytes, stall every request, loop redirects or send them to private and metadata
addresses, inflate into bombs, serve binaries as pages, label East Asian pages in every way
real sites do (and wrongly), answer 429/503 with Retry-After, 304 to an unconditional request,
and serve robots.txt that is huge, slow, 5xx or redirected. ``python -m pipeline``'s ``run``
reads feeds listing all of them, with the SSRF guard on except for 127.0.0.0/8. Every entry
must end in exactly the outcome named here, the report's accounting must hold, the exit code
must be 0, and no story may arrive with mojibake or cut short.
"""

from __future__ import annotations

import gzip
import json
import re
from contextlib import ExitStack
from pathlib import Path

import pytest

from pipeline.__main__ import run
from tests.httpserver import HOSTILE_CHARSETS, LocalServer, rss_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STORY = ("stories", "duplicates")  # a kept page: canonical, or a copy of an identical one

# path on the main server -> the outcomes allowed: ("errors", reason) or a story/duplicate
PAGES: dict[str, set[tuple[str, str]]] = {
    "/long/ok": {("stories", "")},
    # cut bodies: a named dead letter, never a shorter story
    "/raw/short-body": {("errors", "incomplete_body")},
    "/raw/cut-in-chunk": {("errors", "incomplete_body")},
    "/raw/no-last-chunk": {("errors", "incomplete_body")},
    "/raw/cut-gzip": {("errors", "bad_encoding")},
    "/raw/gzip-short-transfer": {("errors", "incomplete_body")},
    "/raw/body-longer-than-length": {("errors", "incomplete_body")},
    "/reset-mid-body": {("errors", "incomplete_body")},
    "/close-mid-body": {("errors", "incomplete_body")},
    "/trickle": {("errors", "timeout")},
    # redirects
    "/loop/a": {("errors", "too_many_redirects")},
    "/redirect/30": {("errors", "too_many_redirects")},
    "/redirect-to?u=http://169.254.169.254/latest/meta-data/": {("errors", "blocked_address")},
    "/redirect-to?u=http://10.0.0.1/": {("errors", "blocked_address")},
    "/redirect-to?u=http://[::ffff:192.168.0.1]/": {("errors", "blocked_address")},
    "/redirect-to?u=file:///etc/passwd": {("errors", "bad_url")},
    # size and type
    "/huge": {("errors", "too_large")},
    "/huge-chunked": {("errors", "too_large")},
    "/gzip-bomb": {("errors", "too_large")},
    "/brotli-bomb": {("errors", "too_large")},
    "/pdf": {("errors", "not_html")},
    "/pdf-as-html": {("errors", "not_html")},
    "/png-as-html": {("errors", "not_html")},
    "/octet-stream": {("errors", "not_html")},
    "/jpeg": {("errors", "not_html")},
    # status codes
    "/retry-after/s": {("stories", "")},
    "/retry-after/date": {("stories", "")},
    "/retry-after/huge": {("errors", "http_5xx")},
    "/429-forever": {("errors", "http_4xx")},
    "/host-429/a": {("stories", "")},  # the host's 429 pauses both; both arrive
    "/host-429/b": {("stories", "")},
    "/304": {("errors", "http_4xx")},
    "/always-500": {("errors", "http_5xx")},
}
PAGES.update(
    {
        f"/hostile-charset/{name}": (
            {("stories", "")} if text is not None else {("errors", "bad_charset")}
        )
        for name, (text, _, _) in HOSTILE_CHARSETS.items()
    }
)
STALLED_PAGES = 6  # pages of a host that stalls every request
# robots.txt variant -> (path, outcome): the page is allowed unless robots.txt says otherwise
DISALLOWED = {("errors", "robots_disallowed")}
ROBOTS_CASES: dict[str, list[tuple[str, set[tuple[str, str]]]]] = {
    "!huge": [("/long/r-huge", {("stories", "")}), ("/private/x", DISALLOWED)],
    "!slow": [("/long/r-slow", {("errors", "timeout"), ("errors", "host_unresponsive")})],
    "!500": [("/long/r-500", {("errors", "robots_disallowed")})],
    "!redirect": [
        ("/long/r-redirect", {("stories", "")}),
        ("/private/y", {("errors", "robots_disallowed")}),
    ],
}  # fmt: skip


def _records(out: Path, output: str) -> list[dict]:
    found = []
    for path in sorted((out / output).rglob("*.jsonl.gz")):
        found += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return found


@pytest.fixture(scope="module")
def hostile_fetch_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile_fetch")
    with ExitStack() as stack:
        main = stack.enter_context(_started(LocalServer()))
        stalled = stack.enter_context(_started(LocalServer(host="127.0.0.2", robots=None)))
        robots = {
            kind: stack.enter_context(_started(LocalServer(robots=kind))) for kind in ROBOTS_CASES
        }
        expected: dict[str, set[tuple[str, str]]] = {main.url(p): o for p, o in PAGES.items()}
        expected.update(
            {
                stalled.url(f"/stall?n={i}"): {
                    ("errors", "timeout"),
                    ("errors", "host_unresponsive"),
                }
                for i in range(STALLED_PAGES)
            }
        )
        for kind, cases in ROBOTS_CASES.items():
            expected.update({robots[kind].url(path): outcome for path, outcome in cases})
        main.listings["pages"] = rss_of([u for u in expected if u.startswith(main.base)])
        main.listings["others"] = rss_of([u for u in expected if not u.startswith(main.base)])
        feeds = tmp / "feeds.yaml"
        feeds.write_text(
            "feeds:\n"
            f"  - url: {main.url('/listing/pages')}\n"
            f"  - url: {main.url('/listing/others')}\n"
        )
        out = tmp / "out"
        code = run(
            [
                "--feeds", str(feeds),
                "--output", str(out),
                "--run_id", "hostile-fetch",
                "--allowed_networks", "127.0.0.0/8",
                "--per_host_rps", "1000",
                "--connect_timeout", "1",
                "--read_timeout", "1",
                "--fetch_deadline", "4",
                "--max_bytes", "2000000",
                "--max_retry_after", "10",
                "--max_redirects", "5",
            ]
        )  # fmt: skip
        stall_requests = len(stalled.hits_for("/stall"))
    return code, out, expected, stall_requests


def _started(server: LocalServer):
    from contextlib import contextmanager

    @contextmanager
    def serving():
        server.start()
        try:
            yield server
        finally:
            server.stop()

    return serving()


def _outcomes(out: Path) -> dict[str, list[tuple[str, str, dict]]]:
    found: dict[str, list[tuple[str, str, dict]]] = {}
    for output in ("stories", "duplicates", "rejected", "errors"):
        for record in _records(out, output):
            reason = record.get("reason", "") if output in ("errors", "rejected") else ""
            found.setdefault(record["url"], []).append((output, reason, record))
    return found


def test_the_run_accounts_for_everything_and_exits_0(hostile_fetch_run) -> None:
    code, out, _, _ = hostile_fetch_run
    report = json.loads((out / "_run_report.json").read_text())
    assert report["invariant"]["holds"], report["invariant"]
    assert code == 0


def test_every_entry_ends_in_its_one_named_outcome(hostile_fetch_run) -> None:
    _, out, expected, _ = hostile_fetch_run
    outcomes = _outcomes(out)
    wrong = {}
    for url, allowed in expected.items():
        got = [(o if o not in STORY else "stories", r) for o, r, _ in outcomes.get(url, [])]
        if len(got) != 1 or got[0] not in allowed:
            wrong[url.split("/", 3)[3]] = got
    assert not wrong, wrong


def test_no_story_is_mojibake_or_cut_short(hostile_fetch_run) -> None:
    _, out, _, _ = hostile_fetch_run
    by_url = _outcomes(out)
    for name, (text, _, _) in HOSTILE_CHARSETS.items():
        if text is None:
            continue
        [(_, _, record)] = [
            o for u, found in by_url.items() if u.endswith(f"/{name}") for o in found
        ]
        assert text[:25] in record["text"], (name, record["text"][:80])
        assert not re.search("[\ufffd\ue000-\uf8ff]", record["text"]), name
    for url, found in by_url.items():
        for output, _, record in found:
            if output in STORY and "/long/" in url:
                assert record["text"].count("Paragraph") == 6, url


def test_a_host_that_stalls_every_request_is_given_up(hostile_fetch_run) -> None:
    _, out, _, stall_requests = hostile_fetch_run
    report = json.loads((out / "_run_report.json").read_text())
    reasons = [r for u, found in _outcomes(out).items() if "/stall?" in u for _, r, _ in found]
    assert reasons.count("host_unresponsive") >= STALLED_PAGES - 2, reasons
    # the first page's attempts (1 + --max_retries), the second page's first, then nothing:
    # not timeouts x retries x pages
    assert stall_requests <= 4, stall_requests
    assert report["counters"].get("fetch_host_gave_up", 0) >= 1


def test_every_cap_and_give_up_is_counted(hostile_fetch_run) -> None:
    _, out, _, _ = hostile_fetch_run
    counters = json.loads((out / "_run_report.json").read_text())["counters"]
    assert counters.get("fetch_retry_after_over_cap", 0) >= 1  # /retry-after/huge
    assert counters.get("fetch_robots_disallow_all", 0) >= 1  # robots.txt answering 500
    assert counters.get("fetch_robots_truncated", 0) >= 1  # robots.txt over 500 KiB
    assert counters.get("fetch_dead_host_unresponsive", 0) >= 1
