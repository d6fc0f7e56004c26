"""A body that did not arrive whole is a dead letter, never a shorter page or a feed missing its
last entries: real misbehaving answers, byte for byte, from a server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace

import pytest

from tests.httpserver import ARTICLE_HTML, LocalServer
from transforms.core.records import FeedSource
from transforms.fetch import http as h
from transforms.fetch.config import FetchConfig
from transforms.fetch.http import FetchError, HttpClient, HttpConfig
from transforms.sources.read_feeds import FeedsConfig, ReadFeedFn

pytestmark = pytest.mark.timeout(60)

CONFIG = HttpConfig(
    allow_private_networks=True,
    respect_robots=False,
    connect_timeout=1.0,
    read_timeout=1.0,
    total_timeout=3.0,
    max_retries=1,
    backoff_base=0.01,
    backoff_max=0.02,
)


@pytest.fixture()
def client():
    slept: list[float] = []
    c = HttpClient(CONFIG, sleep=slept.append)
    c.slept = slept  # type: ignore[attr-defined]
    yield c
    c.close()


def failure(client: HttpClient, url: str, kind: str = "page") -> FetchError:
    with pytest.raises(FetchError) as info:
        client.get(url, kind=kind)
    return info.value


@pytest.mark.parametrize(
    ("name", "reason", "retried"),
    [
        ("short-body", h.INCOMPLETE_BODY, True),  # server closed before Content-Length
        ("gzip-short-transfer", h.INCOMPLETE_BODY, True),
        ("cut-in-chunk", h.INCOMPLETE_BODY, True),
        ("no-last-chunk", h.INCOMPLETE_BODY, True),
        ("bad-chunk-size", h.INCOMPLETE_BODY, True),
        ("conflicting-length", h.INCOMPLETE_BODY, False),  # RFC 9112 6.3: unrecoverable
        ("invalid-length", h.INCOMPLETE_BODY, False),
        ("body-longer-than-length", h.INCOMPLETE_BODY, False),  # accepted cut, before
        ("length-in-characters", h.INCOMPLETE_BODY, False),
        ("cut-gzip", h.BAD_ENCODING, False),  # framing whole, compressed stream cut
        ("cut-deflate", h.BAD_ENCODING, False),
        ("cut-br", h.BAD_ENCODING, False),
    ],
)
def test_incomplete_pages_are_dead_letters(client, http_server: LocalServer, name, reason, retried):
    path = f"/raw/{name}"
    before = len(http_server.hits_for(path))
    error = failure(client, http_server.url(path))
    assert error.reason == reason, error
    attempts = len(http_server.hits_for(path)) - before
    assert attempts == (CONFIG.max_retries + 1 if retried else 1)
    assert len(client.slept) == (CONFIG.max_retries if retried else 0)


@pytest.mark.parametrize("name", ["whole-chunked", "whole-br", "crlf-after-body"])
def test_whole_bodies_in_the_same_framings_are_accepted(client, http_server, name):
    result = client.get(http_server.url(f"/raw/{name}"))
    assert result.text == ARTICLE_HTML


@pytest.mark.parametrize(
    "name", ["feed-short", "feed-cut-gzip", "feed-no-last-chunk", "feed-longer-than-length"]
)
def test_incomplete_feed_documents_are_dead_letters(client, http_server, name):
    error = failure(client, http_server.url(f"/feed-raw/{name}"), kind="feed")
    assert error.reason in (h.INCOMPLETE_BODY, h.BAD_ENCODING)


def test_feed_reader_turns_a_cut_feed_into_one_dead_letter_and_no_entries(http_server):
    config = FeedsConfig(
        fetch=FetchConfig(
            allow_private_networks=True,
            max_retries=0,
            connect_timeout=1.0,
            read_timeout=1.0,
            total_timeout=3.0,
            per_host_rps=1000.0,
        )
    )
    fn = ReadFeedFn(config)
    fn.setup()
    try:
        source = FeedSource(url=http_server.url("/feed-raw/feed-short"))
        outputs = list(fn.process((source, None)))
    finally:
        fn.teardown()
    entries = [o for o in outputs if not hasattr(o, "tag")]
    dead = [o.value for o in outputs if getattr(o, "tag", None) == ReadFeedFn.DEAD]
    assert entries == []
    assert [(d.stage, d.reason) for d in dead] == [("feeds", h.INCOMPLETE_BODY)]


def test_a_cut_connection_is_not_reused(http_server):
    """After a cut body the next request on the host still gets a whole page (new connection)."""
    client = HttpClient(replace(CONFIG, max_retries=0))
    try:
        with pytest.raises(FetchError):
            client.get(http_server.url("/raw/short-body"))
        assert client.get(http_server.url("/page/after-cut")).text == ARTICLE_HTML
    finally:
        client.close()


def test_bytes_after_an_answer_without_a_body_are_not_a_cut_body(client, http_server):
    # 204 has no body whatever its Content-Length says: nothing was cut short
    assert failure(client, http_server.url("/raw/no-content-with-body")).reason == h.NOT_HTML


def test_a_malformed_header_block_logs_no_traceback(client, http_server, caplog):
    # urllib3 logged it as a warning with a full traceback: a healthy run looked like a crash
    with caplog.at_level(logging.WARNING, logger="urllib3"), contextlib.suppress(FetchError):
        client.get(http_server.url("/raw/header-without-colon"))
    records = [r for r in caplog.records if r.name.startswith("urllib3")]
    assert records and not any(r.exc_info or r.exc_text for r in records)
