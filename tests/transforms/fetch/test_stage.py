"""FetchArticles in real DirectRunner pipelines against the real local server."""

from __future__ import annotations

import itertools
import json
import threading
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from warcio.archiveiterator import ArchiveIterator

from tests.httpserver import LocalServer, serving
from transforms.core.records import FeedEntry, FetchedPage, stable_hash
from transforms.fetch import stage as fetch
from transforms.fetch.http import FetchError, HttpClient, parse_target
from transforms.fetch.stage import FetchArticles, FetchConfig, HostPacer

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "transforms" / "data" / "sample"
LOCAL = FetchConfig(
    allow_private_networks=True,
    connect_timeout=1.0,
    read_timeout=1.0,
    total_timeout=3.0,
    max_bytes=1 << 20,
    max_retries=1,
    backoff_base=0.05,
    max_retry_after=2.0,
    per_host_rps=50.0,
)


def entry(url: str, feed: str = "http://feeds.example/rss") -> FeedEntry:
    return FeedEntry(
        entry_id=stable_hash(feed, url),
        feed_url=feed,
        feed_name="test feed",
        url=url,
        canonical_url=url,
    )


def run_fetch(entries: list[FeedEntry], config: FetchConfig, out: Path) -> tuple[list, list, dict]:
    """Run the stage on the DirectRunner; return (pages, dead letters, counters) as JSON."""
    out.mkdir(parents=True, exist_ok=True)
    pipeline = beam.Pipeline(options=PipelineOptions([], runner="DirectRunner"))
    fetched = (
        pipeline | "Entries" >> beam.Create(entries) | "FetchArticles" >> FetchArticles(config)
    )
    for name in ("ok", "dead"):
        _ = (
            fetched[name]
            | f"Json{name}" >> beam.Map(lambda record: json.dumps(asdict(record), sort_keys=True))
            | f"Write{name}" >> beam.io.WriteToText(str(out / name), shard_name_template="")
        )
    result = pipeline.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter().with_namespace("wirestream"))["counters"]
    }
    read = {
        name: [json.loads(line) for line in sorted((out / name).read_text().splitlines())]
        for name in ("ok", "dead")
    }
    return read["ok"], read["dead"], counters


def by_url(records: list[dict]) -> dict[str, dict]:
    return {(r["entry"]["url"] if "entry" in r else r["url"]): r for r in records}


def test_pages_and_dead_letters_with_reasons(http_server: LocalServer, tmp_path):
    paths = {
        "/page/1": None,
        "/gzip-page": None,
        "/404": "http_4xx",
        "/pdf-as-html": "not_html",
        "/private/report": "robots_disallowed",
        "/gzip-bomb": "too_large",
        "/redirect-to?u=http://169.254.169.254/latest/": "blocked_address",
        "/redirect-to?u=file:///etc/passwd": "bad_url",
    }
    entries = [entry(http_server.url(p)) for p in paths]
    pages, dead, counters = run_fetch(entries, LOCAL, tmp_path)
    got_pages, got_dead = by_url(pages), by_url(dead)
    for path, reason in paths.items():
        url = http_server.url(path)
        if reason is None:
            page = got_pages[url]
            assert "Flood waters recede" in page["html"]
            assert page["status"] == 200 and page["fetched_at"].endswith("Z")
            assert page["entry"]["entry_id"] == stable_hash("http://feeds.example/rss", url)
        else:
            letter = got_dead[url]
            assert (letter["stage"], letter["reason"]) == ("fetch", reason)
            assert letter["entry_id"] and letter["feed_url"] == "http://feeds.example/rss"
            assert len(letter["payload"]) <= 300
    assert len(pages) + len(dead) == len(entries)
    assert counters["fetch_ok"] == 2 and counters["fetch_dead"] == 6
    assert counters["fetch_dead_robots_disallowed"] == 1
    assert http_server.hits_for("/private/report") == []


def test_per_host_spacing_holds_and_hosts_overlap(tmp_path):
    interval = 0.25
    with serving("127.0.0.1") as one, serving("127.0.0.2") as two:
        entries = [entry(server.url(f"/page/{i}")) for server in (one, two) for i in range(4)]
        pages, dead, _ = run_fetch(entries, replace(LOCAL, per_host_rps=1 / interval), tmp_path)
        assert len(pages) == 8 and dead == []
        for server in (one, two):
            times = sorted(hit.at for hit in server.hits)  # robots.txt + 4 pages
            assert len(times) == 5
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert min(gaps) >= interval * 0.95, gaps
        first_two = min(h.at for h in two.hits)
        last_one = max(h.at for h in one.hits)
        assert first_two < last_one  # the two hosts were fetched at the same time


def test_crawl_delay_is_honoured(tmp_path):
    with serving(robots="User-agent: *\nCrawl-delay: 0.6\n") as server:
        entries = [entry(server.url(f"/page/{i}")) for i in range(3)]
        pages, _, _ = run_fetch(entries, replace(LOCAL, per_host_rps=100.0), tmp_path)
        assert len(pages) == 3
        page_times = sorted(hit.at for hit in server.hits)
        gaps = [b - a for a, b in itertools.pairwise(page_times)]
        assert min(gaps) >= 0.57, gaps


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_capture_then_replay_gives_identical_outputs(http_server: LocalServer, tmp_path):
    paths = ["/page/a", "/redirect/2", "/404", "/pdf-as-html", "/private/x", "/500-then-200/f"]
    entries = [entry(http_server.url(p)) for p in paths] + [
        entry(http_server.url("/page/a"), feed="http://other.example/atom")
    ]
    capture = tmp_path / "warc"
    live = run_fetch(entries, replace(LOCAL, capture_warc=str(capture)), tmp_path / "live")
    assert list(capture.glob("*.warc.gz")) and not list(capture.glob("*.inprogress"))
    replayed = run_fetch(entries, replace(LOCAL, replay=str(capture)), tmp_path / "replay")
    assert replayed[0] == live[0] and replayed[1] == live[1]
    assert len(live[0]) == 4 and len(live[1]) == 3


def test_replay_of_the_bundled_sample(tmp_path, connects):
    from transforms.fetch.warc import WarcArchive, find_warc_files

    if not SAMPLE.is_dir() or not find_warc_files(str(SAMPLE)):
        pytest.skip("bundled sample not present")
    archive = WarcArchive(str(SAMPLE))
    urls = [u for u in archive.urls() if not u.endswith((".xml", ".rdf"))]
    entries = [entry(u) for u in urls] + [entry("https://missing.example/story")]
    pages, dead, _ = run_fetch(entries, replace(FetchConfig(), replay=str(SAMPLE)), tmp_path)
    assert len(pages) >= 5
    with open(archive.paths[0], "rb") as handle:
        dates = {
            record.rec_headers.get_header("WARC-Target-URI"): record.rec_headers.get_header(
                "WARC-Date"
            )
            for record in ArchiveIterator(handle)
        }
    for page in pages:
        assert page["fetched_at"] == dates[page["final_url"]]  # the archive's date, not now
    missing = by_url(dead)["https://missing.example/story"]
    assert missing["reason"] == "not_in_archive" and missing["at"] == archive.archived_at
    assert connects == []


def test_flags_round_trip_and_preflight(tmp_path):
    import argparse

    from pipeline.options import WirestreamOptions  # registers every stage's flags with Beam

    parser = argparse.ArgumentParser()
    fetch.add_arguments(parser)
    for action in parser._actions:
        assert action.help, action.dest
    options = PipelineOptions(
        [
            "--per_host_rps=2.5",
            "--max_bytes=1000",
            "--ignore_robots",
            "--allow_private_networks",
            "--fetch_deadline=7",
            "--http_user_agent=acme-news/1.0 (+https://acme.example/bot)",
            f"--capture_warc={tmp_path}",
        ]
    )
    config = fetch.config_from_options(options.view_as(WirestreamOptions))
    assert (config.per_host_rps, config.max_bytes, config.total_timeout) == (2.5, 1000, 7.0)
    assert not config.respect_robots and config.allow_private_networks
    assert config.capture_warc == str(tmp_path)
    with pytest.raises(ValueError, match=r"no \.warc"):
        fetch.config_from_options(PipelineOptions([f"--replay={tmp_path}"]))
    with pytest.raises(ValueError, match="cannot be used with --replay"):
        FetchConfig(replay="x.warc", capture_warc=str(tmp_path))
    with pytest.raises(ValueError, match="contact"):
        FetchConfig(user_agent="bot")


class FakeClock:
    """Time that passes only when slept through or advanced by the test."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_host_pacer_spaces_one_host_from_the_end_of_its_last_request():
    clock = FakeClock()
    pacer = HostPacer(clock=clock, sleep=clock.sleep)
    with pacer.slot("a", 1.0) as waited:
        assert waited == 0.0
        clock.now += 0.3  # the request itself takes 0.3 s
    with pacer.slot("b", 1.0) as waited:
        assert waited == 0.0  # another host never waits behind host a
    with pacer.slot("a", 1.0) as waited:
        assert waited == pytest.approx(1.0)  # a full interval after the previous one *ended*
    clock.now += 0.4
    with pacer.slot("a", 0.25) as waited:
        assert waited == 0.0  # the interval already passed
    assert clock.slept == [pytest.approx(1.0)]


def test_host_pacer_waits_out_the_pause_an_origin_asked_for():
    clock = FakeClock()
    pacer = HostPacer(clock=clock, sleep=clock.sleep)
    pacer.hold_off("http://a", 2.0)
    pacer.hold_off("http://a", 0.5)  # a shorter, later Retry-After never shortens the pause
    with pacer.slot("a", 0.1, origin="http://b") as waited:
        assert waited == 0.0  # another origin of the host name asked for nothing
    with pacer.slot("a", 0.1, origin="http://a") as waited:
        assert waited == pytest.approx(2.0)
    assert pacer.held_off("http://a") == 0.0  # over once waited out
    with pacer.slot("a", 0.1, origin="http://a") as waited:
        assert waited == pytest.approx(0.1)  # back to the interval


def test_a_retry_after_over_the_cap_pauses_nothing(http_server: LocalServer):
    """That page ends as the named dead letter; the host's other pages still get their answer."""
    held: list[float] = []
    client = HttpClient(
        replace(LOCAL, max_retry_after=2.0).http_config(),
        sleep=lambda s: None,
        hold_off=lambda target, seconds: held.append(seconds),
    )
    with pytest.raises(FetchError):
        client.get(http_server.url("/429-forever"))
    assert held == [] and client.take_events() == {"retry_after_over_cap": 1}
    client.get(http_server.url("/429/over-cap-then"))
    assert held == [1.0]


def test_host_pacer_holds_one_host_for_one_thread_at_a_time():
    pacer = HostPacer()
    inside: list[str] = []
    overlaps: list[str] = []
    lock = threading.Lock()

    def hit(host: str) -> None:
        with pacer.slot(host, 0.0):
            with lock:
                if host in inside:
                    overlaps.append(host)
                inside.append(host)
            threading.Event().wait(0.01)
            with lock:
                inside.remove(host)

    threads = [threading.Thread(target=hit, args=(h,)) for h in "aaaab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []


def test_fault_injection_retries_transients_and_loses_nothing(http_server: LocalServer, tmp_path):
    """A server failing ~30% of requests (503, resets, stalls; fixed seed): the run finishes,
    transient failures are retried, what still fails is a dead letter, every entry is accounted
    for exactly once."""
    urls = [http_server.url(f"/flaky/item-{n}?p=0.3") for n in range(30)]
    config = replace(LOCAL, read_timeout=0.4, max_retries=2, backoff_base=0.01)
    pages, dead, counters = run_fetch([entry(u) for u in urls], config, tmp_path)
    assert sorted([p["entry"]["url"] for p in pages] + [d["url"] for d in dead]) == sorted(urls)
    assert {d["reason"] for d in dead} <= {"http_5xx", "connect_error", "timeout"}
    attempts = len(http_server.hits_for("/flaky/"))
    assert attempts > len(urls)  # retries happened
    assert len(pages) >= 24  # three tries at 30% leave ~1 in 37 failing
    assert counters["fetch_ok"] == len(pages) and counters.get("fetch_dead", 0) == len(dead)
    print(
        f"fault injection: {len(urls)} entries, {attempts} requests, {len(pages)} ok, "
        f"{len(dead)} dead {sorted(d['reason'] for d in dead)}"
    )


def test_results_stream_out_with_few_threads(tmp_path):
    """With one fetch thread, finished hosts are emitted from process() (bounded memory)."""
    with ExitStack() as stack:
        servers = [stack.enter_context(serving(f"127.0.0.{i}")) for i in range(1, 6)]
        entries = [entry(server.url("/page/only")) for server in servers]
        pages, dead, counters = run_fetch(entries, replace(LOCAL, fetch_threads=1), tmp_path)
    assert len(pages) == 5 and dead == []
    assert counters["fetch_host_batches"] == 5


def test_streaming_input_is_windowed_for_grouping(http_server: LocalServer):
    """An unbounded, globally windowed input (TestStream) still groups by host and fetches."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.testing.test_stream import TestStream
    from apache_beam.testing.util import assert_that, equal_to

    options = PipelineOptions([], runner="DirectRunner")
    options.view_as(StandardOptions).streaming = True
    urls = [http_server.url(p) for p in ("/page/s1", "/404", "/page/s2")]
    stream = (
        TestStream()
        .add_elements([entry(urls[0]), entry(urls[1])])
        .advance_watermark_to(LOCAL.stream_window_secs + 10)
        .add_elements([entry(urls[2])])
        .advance_watermark_to_infinity()
    )
    with beam.Pipeline(options=options) as pipeline:
        fetched = pipeline | "Stream" >> stream | "FetchArticles" >> FetchArticles(LOCAL)
        ok = fetched["ok"] | "OkUrls" >> beam.Map(lambda page: page.final_url)
        dead = fetched["dead"] | "DeadReasons" >> beam.Map(lambda d: (d.url, d.reason))
        assert_that(ok, equal_to([urls[0], urls[2]]), label="CheckOk")
        assert_that(dead, equal_to([(urls[1], "http_4xx")]), label="CheckDead")


def test_pages_fan_out_after_the_per_host_grouping():
    """Whatever consumes the pages is not fused behind GroupByHost: a Reshuffle with a stable
    label stands between them, so one host's pages are extracted on every worker."""
    pipeline = beam.Pipeline(options=PipelineOptions([], runner="DirectRunner"))
    fetched = (
        pipeline
        | "Entries" >> beam.Create([entry("http://a.example/1")])
        | "FetchArticles" >> FetchArticles(LOCAL)
    )
    producer = fetched["ok"].producer
    assert producer.full_label.startswith("FetchArticles/FanOutPages")
    nodes: dict[str, object] = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node) -> None:
            nodes[node.full_label] = node

        def visit_transform(self, node) -> None:
            nodes[node.full_label] = node

    pipeline.visit(Visitor())
    order = [label for label in nodes if label.count("/") == 1]
    assert order.index("FetchArticles/GroupByHost") < order.index("FetchArticles/FetchPolitely")
    assert order.index("FetchArticles/FetchPolitely") < order.index("FetchArticles/FanOutPages")
    reshuffle = nodes["FetchArticles/FanOutPages/Reshuffle"].transform  # type: ignore[attr-defined]
    assert isinstance(reshuffle, beam.Reshuffle)
    assert producer.full_label == "FetchArticles/FanOutPages/Unpack"


def test_a_packed_page_unpacks_to_the_same_page():
    """Pages cross the fan-out as compressed pickles: every field comes back, markup in any
    script included, in fewer bytes than its UTF-8 text."""
    html = "<html><body>" + "<p>Émile said “no” 日本語 𝄞 😀</p>\n" * 400 + "</body></html>"
    page = FetchedPage(
        entry=entry("http://a.example/1"),
        final_url="http://a.example/1?x=1",
        status=200,
        content_type="text/html",
        html=html,
        fetched_at="2026-11-24T06:00:00Z",
        encoding="windows-1252",
        etag='"abc"',
        last_modified="Tue, 24 Nov 2026 06:00:00 GMT",
    )
    packed = fetch.pack_page(page)
    assert isinstance(packed, bytes)
    assert len(packed) < len(html.encode("utf-8")) / 4
    assert fetch.unpack_page(packed) == page


def test_unpack_refuses_what_is_not_a_page():
    import pickle
    import zlib

    with pytest.raises(TypeError, match="not a packed page"):
        fetch.unpack_page(zlib.compress(pickle.dumps({"html": "x"})))


def test_streaming_input_keeps_the_fused_form():
    """Unbounded input: no Reshuffle (its regrouping made pages late for event-time windows)."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.testing.test_stream import TestStream

    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(options=options)
    stream = (
        TestStream().add_elements([entry("http://a.example/1")]).advance_watermark_to_infinity()
    )
    fetched = pipeline | "Entries" >> stream | "FetchArticles" >> FetchArticles(LOCAL)
    assert not fetched["ok"].producer.full_label.startswith("FetchArticles/FanOutPages")
    assert fetched["ok"].producer.full_label.startswith("FetchArticles/RestoreWindowsOk")


def test_a_hosts_retry_after_holds_its_other_pages_in_the_worker(http_server: LocalServer):
    """A 429 with Retry-After: 2 pauses the host, not only the page that got it: a second page
    asked meanwhile on another thread of the worker (another host batch, a feed fetch) waits
    until the pause is over, by the server's own clock, and both pages arrive."""
    fetcher = fetch.Fetcher(replace(LOCAL, max_retry_after=5.0))
    first: list[object] = []
    worker = threading.Thread(
        target=lambda: first.append(fetcher.fetch(http_server.url("/host-429/a")))
    )
    try:
        worker.start()
        origin = parse_target(http_server.url("/")).origin
        # b is asked once the 429 has been passed on to the pacing, or at the latest a second
        # after the server saw a's request (so without the pause b would arrive well before 2 s)
        asked = None
        while fetcher.pacer is None or fetcher.pacer.held_off(origin) == 0:
            if asked is None and http_server.hits_for("/host-429/"):
                asked = threading.Event()
                asked.wait(1.0)
                continue
            if asked is not None:
                break
            threading.Event().wait(0.01)
        second = fetcher.fetch(http_server.url("/host-429/b"))
        worker.join(timeout=30)
    finally:
        fetcher.close()
    hits = http_server.hits_for("/host-429/")
    paused_at = hits[0].at  # the request the 429 answered
    assert [hit.path for hit in hits[1:]].count("/host-429/b") == 1
    for hit in hits[1:]:  # the retry of a, and b: both only once the pause is over
        assert hit.at >= paused_at + 2.0 - 0.2, (hit.path, hit.at - paused_at)
    assert second.status == 200 and [getattr(r, "status", None) for r in first] == [200]
    assert fetcher.take_events().get("retry_after_host_waits") == 1  # b; a slept its own
