"""Capture to WARC and replay from it: a captured session replays to identical results, offline."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.httpserver import serving
from transforms.fetch import http as h
from transforms.fetch.http import FetchError, HttpClient, HttpConfig
from transforms.fetch.warc import WarcArchive, WarcRecorder, find_warc_files

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
CONFIG = HttpConfig(
    allow_private_networks=True,
    connect_timeout=1.0,
    read_timeout=0.5,
    total_timeout=2.0,
    max_bytes=1 << 20,
    max_retries=1,
    backoff_base=0.02,
    backoff_max=0.05,
    max_retry_after=2.0,
)
PATHS = [
    "/page",
    "/gzip-page",
    "/redirect/3",
    "/loop/a",
    "/500-then-200/w",
    "/always-500",
    "/404",
    "/stall",
    "/huge-chunked",
    "/gzip-bomb",
    "/pdf-as-html",
    "/latin1-as-utf8",
    "/private/x",
    "/set-cookie",
    "/redirect-to?u=gopher://127.0.0.1:70/",
    "/redirect-to?u=http://169.254.169.254/",
]


def outcomes(client: HttpClient, base: str) -> list[tuple]:
    found = []
    for path in PATHS:
        try:
            r = client.get(base + path)
            found.append(
                (path, r.status, r.final_url, r.redirects, r.text, r.encoding, r.fetched_at)
            )
        except FetchError as e:
            found.append((path, e.reason, e.status, e.detail, e.at, e.url))
    return found


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capture")
    with serving() as server:
        recorder = WarcRecorder(str(folder))
        live = outcomes(HttpClient(CONFIG, recorder=recorder), server.base)
        published = recorder.close()
        base = server.base
    return folder, live, published, base


def test_capture_replays_to_identical_results(captured, connects):
    folder, live, _, base = captured
    archive = WarcArchive(str(folder))
    replayed = outcomes(HttpClient(CONFIG, replayer=archive), base)
    assert replayed == live
    assert connects == []  # replay never touches the network


def test_capture_writes_standard_records_and_no_cookies(captured):
    folder, _, published, base = captured
    assert published is not None and published.endswith(".warc.gz")
    assert not list(folder.glob("*.inprogress"))
    seen = {}
    with open(published, "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                uri = record.rec_headers.get_header("WARC-Target-URI")
                seen[uri] = record.http_headers.get_statuscode()
                assert record.rec_headers.get_header("WARC-Date").endswith("Z")
                assert record.http_headers.get_header("Set-Cookie") is None
    assert seen[base + "/page"] == "200"
    assert seen[base + "/redirect/3"] == "301"
    assert seen[base + "/robots.txt"] == "200"
    assert seen[base + "/set-cookie"] == "302"


def test_gzip_bodies_are_archived_as_received(captured):
    _folder, _, published, base = captured
    with open(published, "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_headers.get_header("WARC-Target-URI") == base + "/gzip-page":
                assert record.http_headers.get_header("Content-Encoding") == "gzip"
                assert gzip.decompress(record.raw_stream.read()).startswith(b"<!doctype")
                return
    pytest.fail("gzip page not captured")


def test_not_in_archive_is_dated_by_the_archive(captured):
    folder, *_ = captured
    archive = WarcArchive(str(folder))
    client = HttpClient(CONFIG, replayer=archive)
    with pytest.raises(FetchError) as info:
        client.get("http://never.example/page")
    assert info.value.reason == h.NOT_IN_ARCHIVE
    assert info.value.at == archive.archived_at


def test_latest_record_wins_and_globs_and_files_work(tmp_path):
    with serving() as server:
        first = WarcRecorder(str(tmp_path), prefix="a")
        client = HttpClient(replace(CONFIG, max_retries=0), recorder=first)
        with pytest.raises(FetchError):
            client.get(server.url("/500-then-200/z"))
        first.close()
        second = WarcRecorder(str(tmp_path), prefix="b")
        HttpClient(CONFIG, recorder=second).get(server.url("/500-then-200/z"))
        path = second.close()
    for location in (str(tmp_path), str(tmp_path / "*.warc.gz"), str(tmp_path) + "/"):
        assert len(find_warc_files(location)) == 2
        replayed = HttpClient(CONFIG, replayer=WarcArchive(location))
        assert replayed.get(server.url("/500-then-200/z")).status == 200
    only_first = WarcArchive(str(next(tmp_path.glob("a-*.warc.gz"))))
    with pytest.raises(FetchError) as info:
        HttpClient(CONFIG, replayer=only_first).get(server.url("/500-then-200/z"))
    assert (info.value.reason, info.value.status) == (h.HTTP_5XX, 500)
    assert path is not None


def test_replay_caps_bodies_like_the_network(captured):
    folder, _, _, base = captured
    small = HttpClient(replace(CONFIG, max_bytes=100), replayer=WarcArchive(str(folder)))
    with pytest.raises(FetchError) as info:
        small.get(base + "/page")
    assert info.value.reason == h.TOO_LARGE


def test_missing_archive_fails_fast(tmp_path):
    with pytest.raises(FileNotFoundError, match="no WARC"):
        WarcArchive(str(tmp_path / "nothing"))


def test_reads_the_bundled_sample():
    sample = REPO / "transforms" / "data" / "sample"
    if not find_warc_files(str(sample)) if sample.is_dir() else True:
        pytest.skip("bundled sample not present")
    archive = WarcArchive(str(sample))
    client = HttpClient(CONFIG, replayer=archive)
    pages = [url for url in archive.urls() if not url.endswith((".xml", ".rdf"))]
    assert len(pages) >= 5
    statuses = []
    for url in pages:
        try:
            result = client.get(url)
            assert result.from_archive and result.fetched_at.endswith("Z")
            assert "<" in result.text
            statuses.append(result.status)
        except FetchError as error:
            statuses.append(error.status)
    assert 200 in statuses


def test_an_archived_304_replays_as_not_modified(tmp_path):
    with serving() as server:
        recorder = WarcRecorder(str(tmp_path))
        live = HttpClient(CONFIG, recorder=recorder).get(
            server.url("/etag"), kind="feed", etag='"v1"'
        )
        recorder.close()
    assert live.not_modified
    replayed = HttpClient(CONFIG, replayer=WarcArchive(str(tmp_path))).get(
        server.url("/etag"), kind="feed"
    )
    assert replayed.not_modified and replayed.fetched_at == live.fetched_at


def test_archive_keys_spell_hosts_in_idna_2008():
    from transforms.fetch.warc import archive_key

    assert archive_key("http://faß.de:8080/a#x") == "http://xn--fa-hia.de:8080/a"
    assert archive_key("https://Faß.de") == archive_key("https://xn--fa-hia.de/")
    assert archive_key("http://Example.COM") == "http://example.com/"
