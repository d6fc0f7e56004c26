"""The HTTP client against a real local server: each hostile or awkward case ends where it should,
with its reason, in bounded time and memory, and the SSRF guard stops before any connect."""

from __future__ import annotations

import threading
import tracemalloc
from dataclasses import replace

import pytest

from tests.httpserver import LocalServer, serving
from transforms.fetch import http as h
from transforms.fetch.http import FetchError, HttpClient, HttpConfig

pytestmark = pytest.mark.timeout(60)

LOCAL = HttpConfig(
    allow_private_networks=True,
    connect_timeout=1.0,
    read_timeout=1.0,
    total_timeout=3.0,
    max_bytes=1 << 20,
    max_retries=2,
    backoff_base=0.02,
    backoff_max=0.1,
    max_retry_after=2.0,
)
# Guard on, with only the test server's own address exempt: everything else must be refused.
GUARDED = replace(LOCAL, allow_private_networks=False, allowed_networks=("127.0.0.1/32",))


def fetch_error(client: HttpClient, url: str, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        client.get(url, **kwargs)
    return info.value


@pytest.fixture()
def client():
    c = HttpClient(LOCAL)
    yield c
    c.close()


# --- ordinary pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/page", "/gzip-page", "/deflate-page", "/no-type", "/utf16-bom"])
def test_pages_decode_to_the_same_article(client, http_server, path):
    result = client.get(http_server.url(path))
    assert result.status == 200
    assert "Flood waters recede in Zürich" in result.text
    assert result.final_url == http_server.url(path)
    assert result.fetched_at.endswith("Z")


def test_sends_user_agent_and_no_cookies(client, http_server):
    result = client.get(http_server.url("/set-cookie"))
    assert result.final_url == http_server.url("/echo")
    assert f"User-Agent: {LOCAL.user_agent}" in result.text
    assert "Cookie" not in result.text
    assert result.header("set-cookie") is None


def test_user_agent_needs_a_contact():
    with pytest.raises(ValueError, match="contact"):
        HttpConfig(user_agent="bot/1.0")


# --- redirects and URLs --------------------------------------------------------------------------


def test_redirect_chain_is_followed_and_reported(client, http_server):
    result = client.get(http_server.url("/redirect/3"))
    assert result.final_url == http_server.url("/page/redirected")
    assert len(result.redirects) == 3


def test_redirect_loop_stops_at_once(client, http_server):
    error = fetch_error(client, http_server.url("/loop/a"))
    assert error.reason == h.TOO_MANY_REDIRECTS
    assert not error.retryable


def test_too_many_redirects_stops_at_the_limit(client, http_server):
    before = len(http_server.hits_for("/redirect/"))
    error = fetch_error(client, http_server.url("/redirect/9"))
    assert error.reason == h.TOO_MANY_REDIRECTS
    assert len(http_server.hits_for("/redirect/")) - before == LOCAL.max_redirects + 1


@pytest.mark.parametrize("target", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x"])
def test_cross_scheme_redirects_are_refused(client, http_server, connects, target):
    error = fetch_error(client, http_server.url(f"/redirect-to?u={target}"))
    assert error.reason == h.BAD_URL
    assert all(port != 70 for _, port in connects)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "javascript:alert(1)", "http://", "http://a b/", "http://x:99999/"],
)
def test_bad_urls_fail_before_the_network(client, connects, url):
    assert fetch_error(client, url).reason == h.BAD_URL
    assert connects == []


def test_credentials_never_reach_errors_or_logs(client, caplog):
    error = fetch_error(client, "http://alice:hunter2@127.0.0.1:9/x?token=abc123&id=7")
    assert error.reason == h.BAD_URL
    assert "hunter2" not in str(error) and "abc123" not in str(error)
    assert "id=7" in str(error)
    assert "hunter2" not in caplog.text


# --- SSRF guard ----------------------------------------------------------------------------------


def test_guard_on_refuses_loopback_before_connecting(http_server, connects):
    client = HttpClient(replace(LOCAL, allow_private_networks=False))
    error = fetch_error(client, http_server.url("/page"))
    assert error.reason == h.BLOCKED_ADDRESS
    assert "loopback" in error.detail
    assert connects == []


def test_guard_off_reaches_loopback(http_server, connects):
    client = HttpClient(LOCAL)
    assert client.get(http_server.url("/page")).status == 200
    assert ("127.0.0.1", http_server.port) in connects


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://10.1.2.3/admin",
        "http://192.168.0.1/",
        "http://[fd00::1]/",
        "http://0.0.0.0/",
        "http://127.0.0.2/page",
    ],
)
def test_guard_blocks_redirects_to_non_public_addresses(http_server, connects, target):
    client = HttpClient(GUARDED)
    error = fetch_error(client, http_server.url(f"/redirect-to?u={target}"))
    assert error.reason == h.BLOCKED_ADDRESS
    assert error.url.startswith(target.split("/latest")[0].rstrip("/"))
    assert {address for address, _ in connects} <= {"127.0.0.1"}


def test_a_redirect_to_a_malformed_url_is_bad_url(http_server):
    # urljoin raises on "http://[::1": it used to surface as "connect_error: unexpected
    # ValueError" with a logged traceback
    client = HttpClient(LOCAL)
    error = fetch_error(client, http_server.url("/redirect-to?u=http://%5B::1"))
    assert error.reason == h.BAD_URL and "malformed" in error.detail


def test_metadata_stays_blocked_even_with_private_networks_allowed(http_server, connects):
    client = HttpClient(LOCAL)
    for url in (
        http_server.url("/redirect-to?u=http://169.254.169.254/computeMetadata/v1/"),
        "http://metadata.google.internal/computeMetadata/v1/",
    ):
        assert fetch_error(client, url).reason == h.BLOCKED_ADDRESS
    assert all(address != "169.254.169.254" for address, _ in connects)


def test_metadata_host_names_are_refused_without_resolving():
    calls: list[str] = []
    client = HttpClient(LOCAL, resolver=lambda host, port: calls.append(host) or ["127.0.0.1"])
    error = fetch_error(client, "http://metadata.google.internal/computeMetadata/v1/")
    assert error.reason == h.BLOCKED_ADDRESS
    assert calls == []


def test_connects_to_the_checked_address_and_keeps_the_host_name(http_server, connects):
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    client = HttpClient(GUARDED, resolver=resolver)
    result = client.get(f"http://news.test:{http_server.port}/echo")
    assert f"Host: news.test:{http_server.port}" in result.text
    # one resolution per hop (robots.txt, then the page); every connect (one, kept alive, or
    # two) to the vetted address
    assert calls == ["news.test", "news.test"]
    assert set(connects) == {("127.0.0.1", http_server.port)} and len(connects) <= 2


def test_dns_rebinding_between_hops_is_caught(http_server, connects):
    answers = iter([["127.0.0.1"], ["10.9.8.7"]])
    client = HttpClient(GUARDED, resolver=lambda host, port: next(answers))
    error = fetch_error(client, f"http://rebind.test:{http_server.port}/page")
    assert error.reason == h.BLOCKED_ADDRESS
    assert "10.9.8.7" in error.detail
    assert all(address == "127.0.0.1" for address, _ in connects)


def test_any_bad_address_among_several_blocks_the_host(http_server, connects):
    client = HttpClient(GUARDED, resolver=lambda host, port: ["127.0.0.1", "192.168.1.1"])
    assert fetch_error(client, f"http://mixed.test:{http_server.port}/page").reason == (
        h.BLOCKED_ADDRESS
    )
    assert connects == []


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("2002:7f00:1::", True),  # 6to4 wrapping 127.0.0.1
        ("100.64.0.1", True),  # carrier-grade NAT
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("fe80::1", True),
    ],
)
def test_address_policy(address, blocked):
    assert (h.address_block_reason(address) is not None) is blocked


# --- status codes, retries, conditional GET -----------------------------------------------------


def test_conditional_get_gives_304(client, http_server):
    first = client.get(http_server.url("/etag"), kind="feed")
    assert first.status == 200 and first.etag == '"v1"'
    again = client.get(http_server.url("/etag"), kind="feed", etag=first.etag)
    assert again.not_modified and again.body == b""
    by_date = client.get(http_server.url("/etag"), kind="feed", last_modified=first.last_modified)
    assert by_date.not_modified


def test_429_honours_retry_after(http_server):
    slept: list[float] = []
    result = HttpClient(LOCAL, sleep=slept.append).get(http_server.url("/429/a"))
    assert result.status == 200
    assert len(slept) == 1 and slept[0] >= 1.0  # Retry-After: 1 beats the shorter backoff
    assert len(http_server.hits_for("/429/a")) == 2


def test_429_with_a_long_retry_after_gives_up_at_once(http_server):
    slept: list[float] = []
    error = fetch_error(HttpClient(LOCAL, sleep=slept.append), http_server.url("/429-forever"))
    assert (error.reason, error.status) == (h.HTTP_4XX, 429)
    assert slept == []  # no waiting at all
    assert len(http_server.hits_for("/429-forever")) == 1


def test_500_then_200_is_retried(client, http_server):
    assert client.get(http_server.url("/500-then-200/a")).status == 200
    assert len(http_server.hits_for("/500-then-200/a")) == 2


def test_persistent_5xx_ends_after_bounded_retries(client, http_server):
    before = len(http_server.hits_for("/always-500"))
    error = fetch_error(client, http_server.url("/always-500"))
    assert (error.reason, error.status) == (h.HTTP_5XX, 500)
    assert len(http_server.hits_for("/always-500")) - before == LOCAL.max_retries + 1
    assert len(error.excerpt) <= 300


@pytest.mark.parametrize("path", ["/404", "/410"])
def test_permanent_4xx_is_not_retried(client, http_server, path):
    before = len(http_server.hits_for(path))
    assert fetch_error(client, http_server.url(path)).reason == h.HTTP_4XX
    assert len(http_server.hits_for(path)) - before == 1


def test_connection_reset(client, http_server):
    assert fetch_error(client, http_server.url("/reset")).reason == h.CONNECT_ERROR


def test_refused_connection(client):
    with serving() as server:
        url = server.url("/page")
    assert fetch_error(client, url).reason == h.CONNECT_ERROR


def test_backoff_is_seeded_bounded_and_growing():
    config = HttpConfig(backoff_base=1.0, backoff_max=8.0)
    delays = [h.backoff_delay(config, "http://a.example/x", n) for n in range(6)]
    assert delays == [h.backoff_delay(config, "http://a.example/x", n) for n in range(6)]
    assert delays != [h.backoff_delay(config, "http://b.example/x", n) for n in range(6)]
    for n, delay in enumerate(delays):
        step = min(8.0, 2**n)
        assert step / 2 <= delay <= step


# --- slow and oversized answers -------------------------------------------------------------------


def test_stall_ends_at_the_read_timeout(http_server):
    client = HttpClient(replace(LOCAL, read_timeout=0.5, max_retries=0, total_timeout=20.0))
    error = fetch_error(client, http_server.url("/stall"))
    # the read timeout ended it, long before the (here generous) total deadline
    assert (error.reason, error.detail) == (h.TIMEOUT, "read timed out")


def test_trickle_ends_at_the_total_deadline_and_is_not_retried(http_server):
    client = HttpClient(replace(LOCAL, read_timeout=2.0, total_timeout=1.5))
    before = len(http_server.hits_for("/trickle"))
    error = fetch_error(client, http_server.url("/trickle"))
    assert error.reason == h.TIMEOUT and not error.retryable
    # every read succeeded within read_timeout: only the total deadline can have ended it
    assert "total deadline" in error.detail
    assert len(http_server.hits_for("/trickle")) - before == 1


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked", "/gzip-bomb"])
def test_oversized_bodies_abort_in_bounded_memory(client, http_server, path):
    tracemalloc.start()
    try:
        error = fetch_error(client, http_server.url(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.reason == h.TOO_LARGE
    assert peak < 6 * LOCAL.max_bytes


# --- content types and charsets ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/pdf-as-html", "/png-as-html", "/pdf"])
def test_non_html_pages(client, http_server, path):
    assert fetch_error(client, http_server.url(path)).reason == h.NOT_HTML


def test_feeds_accept_xml_and_json_and_refuse_images(client, http_server):
    assert client.get(http_server.url("/feed.xml"), kind="feed").text.startswith("<?xml")
    assert '"items"' in client.get(http_server.url("/feed.json"), kind="feed").text
    assert fetch_error(client, http_server.url("/feed-as-png"), kind="feed").reason == h.NOT_FEED
    # an RSS document is not an article page
    assert fetch_error(client, http_server.url("/feed.xml")).reason == h.NOT_HTML


def test_charset_from_meta(client, http_server):
    result = client.get(http_server.url("/meta-latin1"))
    assert (result.encoding, result.charset_source) == ("cp1252", "meta")
    assert "Fußgänger überqueren die Straße in Köln" in result.text


def test_wrong_header_charset_falls_back_to_detection(client, http_server):
    result = client.get(http_server.url("/latin1-as-utf8"))
    assert result.charset_source == "detected"
    assert "crème brûlée, naïve façade" in result.text


def test_a_stray_byte_is_tolerated(client, http_server):
    result = client.get(http_server.url("/mixed"))
    assert result.encoding == "utf-8"
    assert "Zürich" in result.text and result.text.count("\ufffd") == 1


def test_undecodable_text_is_bad_charset(client, http_server):
    assert fetch_error(client, http_server.url("/invalid-utf8")).reason == h.BAD_CHARSET


def test_control_characters_are_removed(client, http_server):
    text = client.get(http_server.url("/nul-controls")).text
    assert "Officials" in text
    assert not any(ch in text for ch in "\x00\x07\x1b")


# --- robots.txt ---------------------------------------------------------------------------------


def test_robots_disallow_is_honoured_without_touching_the_path(client, http_server):
    error = fetch_error(client, http_server.url("/private/secret"))
    assert error.reason == h.ROBOTS_DISALLOWED
    assert http_server.hits_for("/private/secret") == []


def test_robots_is_fetched_once_per_host_and_crawl_delay_read():
    with serving(robots="User-agent: *\nCrawl-delay: 2\nDisallow: /private/\n") as server:
        client = HttpClient(LOCAL)
        threads = [
            threading.Thread(target=client.get, args=(server.url(f"/page/{i}"),)) for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client.crawl_delay(server.url("/page")) == 2.0
        assert len(server.hits_for("/robots.txt")) == 1
        assert len(server.hits_for("/page/")) == 8


def test_too_long_crawl_delay_counts_as_disallowed():
    with serving(robots="User-agent: *\nCrawl-delay: 3600\n") as server:
        error = fetch_error(HttpClient(LOCAL), server.url("/page"))
        assert error.reason == h.ROBOTS_DISALLOWED and "crawl-delay" in error.detail
        assert server.hits_for("/page") == []


@pytest.mark.parametrize(("robots", "allowed"), [(None, True), ("!500", False)])
def test_missing_robots_allows_and_broken_robots_disallows(robots, allowed):
    with serving(robots=robots) as server:
        client = HttpClient(replace(LOCAL, max_retries=0))
        if allowed:
            assert client.get(server.url("/page")).status == 200
        else:
            assert fetch_error(client, server.url("/page")).reason == h.ROBOTS_DISALLOWED
            assert server.hits_for("/page") == []


def test_robots_can_be_switched_off(http_server):
    client = HttpClient(replace(LOCAL, respect_robots=False))
    assert client.get(http_server.url("/private/ok")).status == 200


def test_every_reason_is_documented():
    assert set(h.REASONS) >= {
        "dns_error",
        "connect_error",
        "timeout",
        "http_4xx",
        "http_5xx",
        "too_many_redirects",
        "too_large",
        "not_html",
        "bad_charset",
        "robots_disallowed",
        "blocked_address",
        "bad_url",
        "not_in_archive",
    }
    assert {"connect_error", "timeout", "http_5xx"} == h.TRANSIENT_REASONS
    with pytest.raises(ValueError):
        FetchError("made_up", "http://x/")


def test_local_server_refuses_non_loopback():
    with pytest.raises(ValueError):
        LocalServer(host="10.0.0.1")


def test_retry_logs_and_errors_carry_no_secrets(http_server, caplog):
    caplog.set_level("DEBUG", logger="transforms.fetch.http")
    client = HttpClient(LOCAL)
    url = http_server.url("/always-500?api_key=SECRET123&page=2")
    error = fetch_error(client, url)
    assert error.reason == h.HTTP_5XX
    assert "retry" in caplog.text  # the retries were logged...
    assert "SECRET123" not in caplog.text  # ...without the credential
    assert "SECRET123" not in str(error) and "page=2" in str(error)


def test_utf16_declared_in_the_header_is_not_mistaken_for_binary(client, http_server):
    result = client.get(http_server.url("/utf16le-header"))
    assert "Flood waters recede in Zürich" in result.text


def test_untyped_plain_text_is_not_a_page(client, http_server):
    assert fetch_error(client, http_server.url("/text-no-type")).reason == h.NOT_HTML


def test_a_3xx_without_location_is_a_permanent_4xx(client, http_server):
    error = fetch_error(client, http_server.url("/multiple-choices"))
    assert (error.reason, error.status, error.retryable) == (h.HTTP_4XX, 300, False)


def test_fetch_errors_survive_pickling():
    import pickle

    error = FetchError(h.HTTP_5XX, "http://a.example/x?token=t", "boom", status=503, at="2026")
    again = pickle.loads(pickle.dumps(error))
    assert (again.reason, again.status, again.at, str(again)) == (
        h.HTTP_5XX,
        503,
        "2026",
        str(error),
    )


def test_robots_is_refetched_after_its_ttl():
    with serving() as server:
        client = HttpClient(replace(LOCAL, robots_ttl=0.0))
        client.get(server.url("/page/1"))
        client.get(server.url("/page/2"))
        assert len(server.hits_for("/robots.txt")) == 2


def test_unresolvable_host_is_dns_error_and_not_retried():
    import socket

    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    error = fetch_error(HttpClient(LOCAL, resolver=resolver), "http://no-such-host.test/page")
    assert (error.reason, error.retryable) == (h.DNS_ERROR, False)
    assert calls == ["no-such-host.test"]


def test_temporary_dns_failure_is_retried():
    import socket

    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    assert fetch_error(HttpClient(LOCAL, resolver=resolver), "http://flaky.test/").reason == (
        h.DNS_ERROR
    )
    assert len(calls) == LOCAL.max_retries + 1


def test_retry_after_accepts_seconds_and_http_dates():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    assert h.retry_after_seconds("7") == 7.0
    assert h.retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= h.retry_after_seconds(later) <= 30
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert h.retry_after_seconds(past) == 0.0


def test_an_unreachable_host_fails_fast_after_its_first_page(connects):
    with serving() as server:
        urls = [server.url(f"/page/{n}") for n in range(5)]
    slept: list[float] = []
    client = HttpClient(LOCAL, sleep=slept.append)
    reasons = [fetch_error(client, url).reason for url in urls]
    assert reasons == [h.CONNECT_ERROR] * 5
    assert len(connects) == LOCAL.max_retries + 1  # robots.txt tried (with retries) once
    assert len(slept) == LOCAL.max_retries  # and no page waited for a retry of its own
