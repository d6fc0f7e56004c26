"""ReadFeeds on the DirectRunner against a real HTTP server on 127.0.0.1, with and without state."""

from __future__ import annotations

import base64
import itertools
import json
import pickle
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tools.loopback import LoopbackServer, QuietHandler
from transforms.core.records import DeadLetter, FeedEntry, FeedSource
from transforms.core.run import run_key_for
from transforms.fetch.stage import FetchConfig
from transforms.sources.feed_state import CommitFeedState, FeedState, StateConfig
from transforms.sources.read_feeds import FeedsConfig, ReadFeedFn, ReadFeeds


class FeedServer(LoopbackServer):
    """Serves fixed documents by path; answers 304 to a matching If-None-Match; logs requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()
        super().__init__(self._handler())

    def url(self, path: str) -> str:
        return self.base + path

    def _handler(self) -> type[QuietHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                status, headers, body = server.routes[self.path]
                etag = headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    server.conditional[self.path] += 1
                    self.send_not_modified(etag)
                    return
                self.send_body(status, headers, body)

        return Handler


@pytest.fixture()
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def _rss(base: str, items: list[str]) -> bytes:
    body = "".join(
        f"<item><title>Story {i}</title><link>{base}/story/{i}?utm_source=rss</link>"
        f"<guid isPermaLink='false'>g{i}</guid></item>"
        for i in items
    )
    return f'<rss version="2.0"><channel><title>F</title>{body}</channel></rss>'.encode()


_RUNS = itertools.count()
XML = {"Content-Type": "application/rss+xml; charset=utf-8"}


def _run(sources: list[FeedSource], config: FeedsConfig, tmp: Path) -> dict[str, list]:
    """Run ReadFeeds (committing state when enabled) and read back what each output held."""
    folder = tmp / f"out-{next(_RUNS)}"
    with beam.Pipeline(options=PipelineOptions(runner="DirectRunner")) as p:
        outputs = p | beam.Create(sources) | "ReadFeeds" >> ReadFeeds(config)
        for name, pcoll in outputs.items():
            _ = (
                pcoll
                | f"Encode{name}" >> beam.Map(lambda r: base64.b64encode(pickle.dumps(r)).decode())
                | f"Write{name}" >> beam.io.WriteToText(str(folder / name), shard_name_template="")
            )
        if config.state.enabled:
            _ = outputs["state"] | "Commit" >> CommitFeedState(config.state)
    return {
        name: [pickle.loads(base64.b64decode(line)) for line in (folder / name).read_text().split()]
        for name in ("ok", "dead", "state")
    }


def _config(state_dir: Path | None = None, run_date: str = "2026-11-25T10") -> FeedsConfig:
    return FeedsConfig(
        # every feed is on the one local host: not the polite default's second a request
        fetch=FetchConfig(allow_private_networks=True, per_host_rps=50),
        state=StateConfig(
            location=str(state_dir) if state_dir else None, run_key=run_key_for(run_date)
        ),
    )


def test_formats_and_failures_end_as_entries_or_dead_letters(
    server: FeedServer, tmp_path: Path
) -> None:
    base = server.base
    server.routes["/rss"] = (200, XML, _rss(base, ["1", "2"]))
    server.routes["/json"] = (
        200,
        {"Content-Type": "application/feed+json"},
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "items": [{"id": "j1", "url": f"{base}/story/j1", "title": "<b>J</b>"}],
            }
        ).encode(),
    )
    server.routes["/index.xml"] = (
        200,
        {"Content-Type": "application/xml"},
        (
            "<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<sitemap><loc>{base}/news.xml</loc><lastmod>2026-11-25</lastmod></sitemap>"
            f"<sitemap><loc>{base}/gone.xml</loc><lastmod>2026-11-24</lastmod></sitemap>"
            "</sitemapindex>"
        ).encode(),
    )
    server.routes["/news.xml"] = (
        200,
        {"Content-Type": "application/xml"},
        (
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
            f"<url><loc>{base}/story/s1</loc><news:news><news:title>S1</news:title>"
            "<news:publication_date>2026-11-25T09:00:00Z</news:publication_date></news:news></url>"
            "</urlset>"
        ).encode(),
    )
    server.routes["/html"] = (200, {"Content-Type": "text/xml"}, b"<html><p>hi</p></html>")
    server.routes["/empty"] = (200, XML, b'<rss version="2.0"><channel></channel></rss>')
    server.routes["/broken"] = (500, XML, b"oops")
    sources = [
        FeedSource(url=server.url(path), name=path)
        for path in ("/rss", "/json", "/index.xml", "/html", "/empty", "/broken", "/missing")
    ]
    got = _run(sources, _config(), tmp_path)
    entries: list[FeedEntry] = got["ok"]
    # JSON Feed titles are plain text by the spec: markup-like text stays, with its tags defused.
    assert sorted(e.title for e in entries) == ["< b>J< /b>", "S1", "Story 1", "Story 2"]
    story1 = next(e for e in entries if e.title == "Story 1")
    assert story1.canonical_url == f"{base}/story/1"
    dead: list[DeadLetter] = got["dead"]
    reasons = sorted((d.url.replace(base, ""), d.reason) for d in dead)
    assert reasons == [
        ("/broken", "http_5xx"),
        ("/empty", "empty_feed"),
        ("/gone.xml", "http_4xx"),
        ("/html", "bad_feed"),
        ("/missing", "http_4xx"),
    ]
    assert all(d.stage == "feeds" and d.entry_id is None for d in dead)
    assert got["state"] == []  # no --state_location, no state


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_second_run_emits_only_new_entries(server: FeedServer, tmp_path: Path) -> None:
    base = server.base
    server.routes["/rss"] = (200, XML, _rss(base, ["1", "2"]))
    source = FeedSource(url=server.url("/rss"))
    first = _config(tmp_path, "2026-11-25T10")
    got = _run([source], first, tmp_path)
    assert sorted(e.title for e in got["ok"]) == ["Story 1", "Story 2"]
    (state,) = got["state"]

    server.routes["/rss"] = (200, XML, _rss(base, ["2", "3"]))
    second = _config(tmp_path, "2026-11-25T11")
    got = _run([source], second, tmp_path)
    assert [e.title for e in got["ok"]] == ["Story 3"]
    (after,) = got["state"]
    assert after.seen_ids() == state.seen_ids() | {e.entry_id for e in got["ok"]}

    # Re-running the 10:00 run starts from the same (empty) state: same entries, same ids.
    again = _run([source], _config(tmp_path, "2026-11-25T10"), tmp_path)
    assert {e.entry_id for e in again["ok"]} >= {e.entry_id for e in got["ok"]}
    assert len(again["ok"]) == 2


def _call(config: FeedsConfig, source: FeedSource, state: FeedState | None) -> dict[str, list]:
    """ReadFeedFn called directly (tier 1): its outputs by tag."""
    fn = ReadFeedFn(config)
    fn.setup()
    try:
        outputs: dict[str, list] = {"ok": [], "dead": [], "state": [], "health": []}
        for output in fn.process((source, state)):
            tag = getattr(output, "tag", "ok")
            outputs[tag].append(getattr(output, "value", output))
        return outputs
    finally:
        fn.teardown()


def test_feed_not_due_is_not_fetched(server: FeedServer) -> None:
    server.routes["/rss"] = (200, XML, _rss(server.base, ["1"]))
    source = FeedSource(url=server.url("/rss"), poll_minutes=180)
    (state,) = _call(_config(Path("unused"), "2026-11-25T10"), source, None)["state"]
    got = _call(_config(Path("unused"), "2026-11-25T11"), source, state)
    assert got["ok"] == [] and got["dead"] == []
    assert server.requests["/rss"] == 1
    (carried,) = got["state"]
    assert carried.fetched_run == "20261125T100000Z"  # the 3-hour interval counts from 10:00
    got = _call(_config(Path("unused"), "2026-11-25T13"), source, carried)
    assert server.requests["/rss"] == 2 and got["ok"] == []


def test_failed_fetch_carries_state_and_no_link_letters_are_not_repeated(
    server: FeedServer,
) -> None:
    body = _rss(server.base, ["1"]).replace(
        b"</channel>",
        b"<item><title>orphan</title><guid isPermaLink='false'>o</guid></item></channel>",
    )
    server.routes["/rss"] = (200, XML, body)
    source = FeedSource(url=server.url("/rss"))
    got = _call(_config(Path("unused"), "2026-11-25T10"), source, None)
    assert [d.reason for d in got["dead"]] == ["no_link"] and got["dead"][0].entry_id
    assert len(got["ok"]) == 1
    (state,) = got["state"]

    got = _call(_config(Path("unused"), "2026-11-25T11"), source, state)
    assert got["ok"] == [] and got["dead"] == []  # nothing new, the orphan was reported once
    (state,) = got["state"]

    server.routes["/rss"] = (503, XML, b"down")
    got = _call(_config(Path("unused"), "2026-11-25T12"), source, state)
    assert [d.reason for d in got["dead"]] == ["http_5xx"]
    (carried,) = got["state"]
    assert carried.seen == state.seen and carried.fetched_run == state.fetched_run


def test_conditional_get_ends_at_304(server: FeedServer, tmp_path: Path) -> None:
    """Validators from the state are sent; a 304 keeps the state and emits nothing."""
    pytest.importorskip(
        "transforms.fetch.http", reason="conditional GET needs the shared HTTP client"
    )
    server.routes["/rss"] = (200, {**XML, "ETag": '"v1"'}, _rss(server.base, ["1"]))
    source = FeedSource(url=server.url("/rss"))
    state = FeedState(feed_url=source.url, etag='"v1"', fetched_run="20261125T090000Z")
    fn = ReadFeedFn(_config(tmp_path, "2026-11-25T10"))
    fn.setup()
    try:
        outputs = list(fn.process((source, state)))
    finally:
        fn.teardown()
    assert server.conditional["/rss"] == 1
    tagged, health = outputs
    assert tagged.tag == "state" and tagged.value.etag == '"v1"'
    assert tagged.value.fetched_run == "20261125T100000Z"
    assert health.tag == "health" and health.value.not_modified and not health.value.failed


def test_dofn_with_state_disabled_emits_no_state(server: FeedServer) -> None:
    server.routes["/rss"] = (200, XML, _rss(server.base, ["1"]))
    fn = ReadFeedFn(_config())
    fn.setup()
    try:
        outputs = list(fn.process((FeedSource(url=server.url("/rss")), None)))
    finally:
        fn.teardown()
    assert [type(o).__name__ for o in outputs] == ["FeedEntry", "TaggedOutput"]
    assert outputs[1].tag == "health"  # the per-feed row of the run report, never state


def test_old_urls_of_a_full_sitemap_are_not_news(server: FeedServer) -> None:
    base = server.base
    server.routes["/sitemap.xml"] = (
        200,
        {"Content-Type": "application/xml"},
        (
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<url><loc>{base}/about</loc><lastmod>2019-01-01</lastmod></url>"
            f"<url><loc>{base}/story/new</loc><lastmod>2026-11-25T08:00:00Z</lastmod></url>"
            f"<url><loc>{base}/undated</loc></url>"
            "</urlset>"
        ).encode(),
    )
    fn = ReadFeedFn(_config())
    fn.setup()
    try:
        source = FeedSource(url=server.url("/sitemap.xml"), kind="sitemap")
        outputs = list(fn.process((source, None)))
    finally:
        fn.teardown()
    entries = [o for o in outputs if not hasattr(o, "tag")]
    assert sorted(o.url.replace(base, "") for o in entries) == ["/story/new", "/undated"]
    (health,) = [o.value for o in outputs if getattr(o, "tag", "") == "health"]
    # The old URL is listed and counted by name, not silently dropped.
    assert health.entries_listed == 3 and health.too_old == 1


def _run_counted(
    sources: list[FeedSource], config: FeedsConfig, tmp: Path
) -> tuple[dict[str, list], dict[str, int]]:
    """``_run`` that also returns the run's feed counters (the report's accounting inputs)."""
    from apache_beam.metrics.metric import MetricsFilter

    folder = tmp / f"out-{next(_RUNS)}"
    pipeline = beam.Pipeline(options=PipelineOptions(runner="DirectRunner"))
    outputs = pipeline | beam.Create(sources) | "ReadFeeds" >> ReadFeeds(config)
    for name in ("ok", "dead"):
        _ = (
            outputs[name]
            | f"Encode{name}" >> beam.Map(lambda r: base64.b64encode(pickle.dumps(r)).decode())
            | f"Write{name}" >> beam.io.WriteToText(str(folder / name), shard_name_template="")
        )
    _ = outputs["state"] | "Commit" >> CommitFeedState(config.state)
    result = pipeline.run()
    result.wait_until_finish()
    query = result.metrics().query(MetricsFilter().with_namespace("wirestream"))
    counters = {c.key.metric.name: c.committed for c in query["counters"]}
    got = {
        name: [pickle.loads(base64.b64decode(line)) for line in (folder / name).read_text().split()]
        for name in ("ok", "dead")
    }
    return got, counters


def test_a_backlog_past_the_cap_drains_over_runs(server: FeedServer, tmp_path: Path) -> None:
    """--feed_max_entries caps the unseen entries, so the items past it are read by later runs."""
    server.routes["/rss"] = (200, XML, _rss(server.base, ["1", "2", "3", "4", "5"]))
    source = FeedSource(url=server.url("/rss"))
    state_dir = tmp_path / "state"
    emitted: list[list[str]] = []
    cuts: list[int] = []
    for hour in ("10", "11", "12", "13"):
        config = replace(_config(state_dir, f"2026-11-25T{hour}"), max_entries=2)
        got, c = _run_counted([source], config, tmp_path)
        emitted.append([e.title for e in got["ok"]])
        assert got["dead"] == []
        # Every listed item is emitted, seen before, or cut by the cap: the report's invariant.
        assert c["entries_listed"] == 5
        assert (
            c.get("feeds_entries", 0)
            + c.get("entries_seen_before", 0)
            + c.get("feeds_entries_cut", 0)
            == 5
        )
        cuts.append(c.get("feeds_entries_cut", 0))
    assert [sorted(titles) for titles in emitted] == [
        ["Story 1", "Story 2"],
        ["Story 3", "Story 4"],
        ["Story 5"],
        [],
    ]
    assert cuts == [3, 1, 0, 0]
    # Same input, same state: re-running the 11:00 run picks the same two entries.
    again, _ = _run_counted(
        [source], replace(_config(state_dir, "2026-11-25T11"), max_entries=2), tmp_path
    )
    assert sorted(e.title for e in again["ok"]) == ["Story 3", "Story 4"]


def test_the_cap_takes_unseen_items_in_document_order(server: FeedServer) -> None:
    """Link-less items count towards the cap where they stand; seen items do not count."""
    body = _rss(server.base, ["1", "2", "3"]).replace(
        b"<item><title>Story 2",
        b"<item><title>orphan</title><guid isPermaLink='false'>o</guid></item><item><title>Story 2",
    )
    server.routes["/rss"] = (200, XML, body)
    source = FeedSource(url=server.url("/rss"))
    config = replace(_config(Path("unused"), "2026-11-25T10"), max_entries=1)
    first = _call(config, source, None)
    assert [e.title for e in first["ok"]] == ["Story 1"] and first["dead"] == []
    (state,) = first["state"]
    later = replace(_config(Path("unused"), "2026-11-25T11"), max_entries=2)
    second = _call(later, source, state)
    assert [d.reason for d in second["dead"]] == ["no_link"]
    assert [e.title for e in second["ok"]] == ["Story 2"]
    (health,) = second["health"]
    assert (health.seen_before, health.cut) == (1, 1)
