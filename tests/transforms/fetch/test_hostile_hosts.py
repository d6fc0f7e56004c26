"""Hosts that misbehave across requests, and pages whose labels lie: a real server on 127.0.0.1.

A host that stalls every request is given up after ``host_max_timeouts`` timeouts in a row
(its remaining pages are ``host_unresponsive`` without a request); a Retry-After past the cap
is a counted dead letter, an HTTP-date one is waited for; a close-delimited page that stops
before its HTML ends is ``incomplete_body``; a robots.txt 5xx disallows only until it is asked
again; and East Asian pages decode to their real text under every label real sites send, or
end as ``bad_charset``. The end-to-end run of all of these is ``tests/pipeline/
test_hostile_fetch.py``.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import replace

import pytest

from tests.httpserver import HOSTILE_CHARSETS, serving
from transforms.fetch import http as h
from transforms.fetch.http import FetchError, HttpClient, HttpConfig
from transforms.fetch.http.body import decode_text, media_type

pytestmark = pytest.mark.timeout(60)

LOCAL = HttpConfig(
    allow_private_networks=True,
    connect_timeout=1.0,
    read_timeout=0.3,
    total_timeout=3.0,
    max_retries=2,
    backoff_base=0.01,
    backoff_max=0.02,
    max_retry_after=5.0,
)


def failure(client: HttpClient, url: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        client.get(url)
    return info.value


# --- a host that times out on every request ------------------------------------------------------


def test_a_host_that_stalls_every_request_is_given_up_after_two_pages():
    with serving(robots=None) as server:
        client = HttpClient(LOCAL, sleep=lambda s: None)
        errors = [failure(client, server.url(f"/stall?n={i}")) for i in range(6)]
        # the first page's three attempts, then the second page's first: its own timeout
        assert [e.reason for e in errors[:2]] == [h.TIMEOUT, h.TIMEOUT]
        assert {e.reason for e in errors[2:]} == {h.HOST_UNRESPONSIVE}
        assert "last 4 requests timed out" in errors[2].detail
        assert len(server.hits_for("/stall")) == LOCAL.max_retries + 2  # nothing for the rest
        # the second page's retry was skipped (the host failing on two URLs), then given up
        assert client.take_events() == {"host_gave_up": 1, "retries_skipped_failing_host": 1}


def test_one_page_that_always_stalls_does_not_give_up_its_host():
    with serving(robots=None) as server:
        client = HttpClient(LOCAL, sleep=lambda s: None)
        assert failure(client, server.url("/stall")).reason == h.TIMEOUT  # three timeouts
        assert client.get(server.url("/page")).status == 200
        assert client.take_events() == {}


def test_an_answer_between_timeouts_keeps_the_host():
    with serving(robots=None) as server:
        client = HttpClient(replace(LOCAL, max_retries=0), sleep=lambda s: None)
        for _ in range(3):
            assert failure(client, server.url("/stall")).reason == h.TIMEOUT
            assert failure(client, server.url("/stall")).reason == h.TIMEOUT
            assert client.get(server.url("/page")).status == 200
        assert client.take_events() == {}


def test_a_given_up_host_is_probed_again_after_its_ttl():
    offset = [0.0]  # the client's clock, moved on by hand instead of waiting five minutes
    with serving(robots=None) as server:
        config = replace(LOCAL, max_retries=0, host_max_timeouts=2, host_giveup_ttl=300.0)
        client = HttpClient(
            config, sleep=lambda s: None, clock=lambda: time.monotonic() + offset[0]
        )
        for key in ("a", "b"):
            assert failure(client, server.url(f"/stall?{key}")).reason == h.TIMEOUT
        assert failure(client, server.url("/page")).reason == h.HOST_UNRESPONSIVE
        offset[0] += 301.0
        assert client.get(server.url("/page")).status == 200  # the probe: the host is back
        assert client.get(server.url("/page/2")).status == 200  # and kept


def test_a_host_failing_every_request_gets_one_request_per_page_once_it_is_clear():
    """A host in a 5xx (or 429) storm: each page still gets its own request and its own
    outcome, but after the failures span two of its URLs no page waits for retries."""
    with serving(robots=None) as server:
        slept: list[float] = []
        client = HttpClient(LOCAL, sleep=slept.append)
        errors = [failure(client, server.url(f"/always-500?n={i}")) for i in range(6)]
        assert {(e.reason, e.status) for e in errors} == {(h.HTTP_5XX, 500)}
        assert [len(server.hits_for(f"/always-500?n={i}")) for i in range(6)] == [3] + [1] * 5
        assert len(slept) == LOCAL.max_retries  # the first page's backoffs only
        assert "not retried: the host's last 4 requests failed" in errors[1].detail
        assert client.take_events() == {"retries_skipped_failing_host": 5}
        # an answer ends the storm: the next failing page is retried again
        assert client.get(server.url("/page")).status == 200
        failure(client, server.url("/always-500?n=last"))
        assert len(server.hits_for("/always-500?n=last")) == LOCAL.max_retries + 1


def test_host_max_timeouts_must_be_positive():
    with pytest.raises(ValueError, match="host_max_timeouts"):
        HttpConfig(host_max_timeouts=0)


# --- Retry-After ---------------------------------------------------------------------------------


def test_retry_after_as_an_http_date_is_waited_for(http_server):
    slept: list[float] = []
    result = HttpClient(LOCAL, sleep=slept.append).get(http_server.url("/retry-after/date"))
    assert result.status == 200
    assert len(slept) == 1 and 0.5 <= slept[0] <= 3.0  # the date, not the 10 ms backoff


def test_a_retry_after_over_the_cap_is_a_counted_dead_letter(http_server):
    slept: list[float] = []
    client = HttpClient(LOCAL, sleep=slept.append)
    error = failure(client, http_server.url("/retry-after/huge"))
    assert (error.reason, error.status) == (h.HTTP_5XX, 503)
    assert "Retry-After 86400s is over max_retry_after 5s" in str(error)
    assert slept == [] and not error.retryable
    assert client.take_events() == {"retry_after_over_cap": 1}


# --- bodies delimited by the connection closing --------------------------------------------------


def test_a_close_delimited_page_cut_mid_html_is_incomplete(http_server):
    client = HttpClient(replace(LOCAL, max_retries=0))
    error = failure(client, http_server.url("/close-mid-body"))
    assert error.reason == h.INCOMPLETE_BODY and "connection closing" in error.detail


def test_a_whole_close_delimited_page_is_accepted(http_server):
    result = HttpClient(LOCAL).get(http_server.url("/close-whole"))
    assert result.text.count("Paragraph") == 6


def test_a_cut_close_delimited_page_replays_as_the_same_dead_letter(http_server, tmp_path):
    """The WARC record carries a Content-Length of its own: the framing the live run judged
    by is kept beside it, so the replay does not turn the dead letter into a half story."""
    from transforms.fetch.warc import WarcArchive, WarcRecorder

    config = replace(LOCAL, respect_robots=False, max_retries=0)
    recorder = WarcRecorder(str(tmp_path))
    live = HttpClient(config, recorder=recorder)
    assert failure(live, http_server.url("/close-mid-body")).reason == h.INCOMPLETE_BODY
    whole = live.get(http_server.url("/close-whole"))
    recorder.close()
    replay = HttpClient(config, replayer=WarcArchive(str(tmp_path)))
    assert failure(replay, http_server.url("/close-mid-body")).reason == h.INCOMPLETE_BODY
    assert replay.get(http_server.url("/close-whole")).text == whole.text


def test_a_reset_mid_body_is_incomplete(http_server):
    error = failure(HttpClient(replace(LOCAL, max_retries=0)), http_server.url("/reset-mid-body"))
    assert error.reason == h.INCOMPLETE_BODY


# --- robots.txt that fails -----------------------------------------------------------------------


@pytest.mark.parametrize("robots", ["!500", "!redirect", "!huge"])
def test_robots_txt_variants(robots):
    with serving(robots=robots) as server:
        client = HttpClient(LOCAL, sleep=lambda s: None)
        private = failure(client, server.url("/private/x"))
        assert private.reason == h.ROBOTS_DISALLOWED
        if robots == "!500":
            assert failure(client, server.url("/page")).reason == h.ROBOTS_DISALLOWED
            rules = client.robots.known(h.parse_target(server.url("/")).origin)
            assert rules is not None and rules.failed
            # RFC 9309 2.4: not cached for a day like real rules, asked again after failure_ttl
            assert rules.expires - client.robots._clock() <= LOCAL.robots_failure_ttl
            assert client.take_events() == {"robots_disallow_all": 1}
        else:
            assert client.get(server.url("/page")).status == 200
        assert server.hits_for("/private/") == []


def test_a_slow_robots_txt_fails_the_host_fast():
    with serving(robots="!slow") as server:
        client = HttpClient(LOCAL, sleep=lambda s: None)
        errors = [failure(client, server.url(f"/page/{i}")) for i in range(4)]
        assert {e.reason for e in errors} == {h.TIMEOUT}
        assert server.hits_for("/page") == []
        assert len(server.hits_for("/robots.txt")) == LOCAL.max_retries + 1


# --- charsets: labels, lies, BOMs ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE_CHARSETS))
def test_east_asian_pages_decode_to_their_text_or_fail_by_name(name):
    text, body, content_type = HOSTILE_CHARSETS[name]
    decode = lambda: decode_text(  # noqa: E731
        body, media_type(content_type)[1], kind="page", url="u", max_bad_ratio=0.01
    )
    if text is None:
        with pytest.raises(FetchError) as info:
            decode()
        assert info.value.reason == h.BAD_CHARSET
        return
    decoded, _, _ = decode()
    for sentence in re.split("(?<=[。.])\\s*", text):
        assert sentence in decoded, (name, decoded[:200])
    assert not re.search("[\ufffd\ue000-\uf8ff\x1b]", decoded)


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("b-utf8-bom-sjis-header", "bom"),  # WHATWG decode: the BOM beats the header
        ("b-utf16-bom-gbk-header", "bom"),
        ("h-gb2312", "header"),
        ("m-euc-kr", "meta"),
        ("n-iso-2022-jp", "detected"),  # escapes, no label at all
        ("x-gb2312-on-big5", "detected"),  # GBK decodes Big5 bytes without error: not trusted
    ],
)
def test_where_the_charset_came_from(http_server, name, source):
    result = HttpClient(LOCAL).get(http_server.url(f"/hostile-charset/{name}"))
    assert result.charset_source == source


def test_iso_2022_jp_reads_halfwidth_katakana_as_browsers_do():
    body = b"<html><body><p>\x1b$B%F%9%H\x1b(B \x1b(I12\x1b(B</p></body></html>"
    text, codec, _ = decode_text(body, "iso-2022-jp", kind="page", url="u", max_bad_ratio=0.01)
    assert "テスト ｱｲ" in text and codec == "iso2022_jp_ext"


# --- flags ---------------------------------------------------------------------------------------


def test_allowed_networks_flag_keeps_the_guard_on_for_everything_else():
    from apache_beam.options.pipeline_options import PipelineOptions

    from transforms.fetch.config import add_arguments, config_from_options

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_options(
        PipelineOptions(["--allowed_networks", "127.0.0.0/8, 10.1.0.0/16"])
    )
    assert config.http_config().allowed_networks == ("127.0.0.0/8", "10.1.0.0/16")
    assert not config.allow_private_networks
    with pytest.raises(ValueError, match="not a CIDR"):
        config_from_options(PipelineOptions(["--allowed_networks", "localhost"]))


def test_a_replacement_label_is_no_text_even_where_the_bytes_would_decode():
    """ISO-2022-KR and HZ bytes are 7-bit: with the label skipped they read as ASCII mojibake."""
    _, body, content_type = HOSTILE_CHARSETS["r-iso-2022-kr-meta"]
    assert body.decode("iso2022_kr")  # real bytes, decodable by Python, yet refused
    with pytest.raises(FetchError) as info:
        decode_text(body, media_type(content_type)[1], kind="page", url="u", max_bad_ratio=0.01)
    assert info.value.reason == h.BAD_CHARSET and "replacement" in info.value.detail
    # a BOM decides before any label
    text, codec, _ = decode_text(
        b"\xef\xbb\xbf<p>ok</p>", "iso-2022-kr", kind="page", url="u", max_bad_ratio=0.01
    )
    assert (text, codec) == ("<p>ok</p>", "utf-8-sig")


def test_iso_2022_shifts_and_escapes_are_text_not_binary(http_server):
    """Korean in ISO-2022-KR is a shift (SO/SI) every few characters: once counted as binary."""
    error = failure(HttpClient(LOCAL), http_server.url("/hostile-charset/r-iso-2022-kr-meta"))
    assert error.reason == h.BAD_CHARSET  # its label, not "binary data" (not_html)
