"""Policy on real local servers: long robots.txt files, meta refresh as a redirect hop,
keep-alive connections, and proxies from the environment with the guard still in front."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.httpserver import ARTICLE_HTML, serving
from transforms.fetch import http as h
from transforms.fetch.http import FetchError, HttpClient, HttpConfig
from transforms.fetch.http.transport import environment_proxies

pytestmark = pytest.mark.timeout(60)

LOCAL = HttpConfig(
    allow_private_networks=True,
    connect_timeout=1.0,
    read_timeout=1.0,
    total_timeout=3.0,
    max_retries=0,
    max_redirects=3,
)
GUARDED = replace(LOCAL, allow_private_networks=False, allowed_networks=("127.0.0.1/32",))
PUBLIC = "93.184.216.34"


def failure(client: HttpClient, url: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        client.get(url)
    return info.value


# --- robots.txt over 500 KiB ----------------------------------------------------------------------


def test_a_long_robots_txt_is_parsed_up_to_500_kib_and_counted():
    filler = "# " + "x" * 98 + "\n"
    robots = (
        "User-agent: *\nDisallow: /private/\n"
        + filler * (600 * 1024 // len(filler))
        + "Disallow: /page/late/\n"
    )
    with serving(robots=robots) as server:
        client = HttpClient(LOCAL)
        assert failure(client, server.url("/private/x")).reason == h.ROBOTS_DISALLOWED
        # the rule past the first 500 KiB is not seen: the cut is counted, not hidden
        assert client.get(server.url("/page/late/x")).status == 200
        assert client.take_events() == {"robots_truncated": 1}
        assert server.hits_for("/private/") == []


def test_a_robots_txt_cut_on_the_wire_disallows(http_server):
    """A robots.txt that arrived incomplete may have lost exactly its Disallow lines."""
    from transforms.fetch.http.robots import RobotsCache

    client = HttpClient(LOCAL)

    def fetch_cut(origin: str) -> tuple[str, bool]:
        result = client.get(http_server.url("/raw/short-body"), kind="robots")
        return result.text, False

    cache = RobotsCache(
        fetch_cut,
        user_agent=LOCAL.user_agent,
        max_crawl_delay=60,
        size=10,
        ttl=60,
        failure_ttl=60,
    )
    target = h.parse_target(http_server.url("/page"))
    rules = cache.rules(target)
    assert not rules.allowed(target.url, LOCAL.user_agent)
    assert "incomplete_body" in rules.note


# --- meta refresh -------------------------------------------------------------------------------


def test_meta_refresh_is_followed_as_a_redirect(http_server):
    client = HttpClient(LOCAL)
    result = client.get(http_server.url("/refresh/2"))
    assert result.final_url == http_server.url("/page/refreshed")
    assert result.redirects == (http_server.url("/refresh/2"), http_server.url("/refresh/1"))
    assert "Flood waters recede" in result.text
    assert client.take_events() == {"meta_refresh": 2}


def test_meta_refresh_counts_against_max_redirects(http_server):
    error = failure(HttpClient(LOCAL), http_server.url("/refresh/5"))
    assert error.reason == h.TOO_MANY_REDIRECTS


def test_meta_refresh_target_is_checked_by_the_guard(http_server, connects):
    client = HttpClient(GUARDED)
    error = failure(client, http_server.url("/refresh-to?u=http://169.254.169.254/latest/"))
    assert error.reason == h.BLOCKED_ADDRESS
    assert {address for address, _ in connects} == {"127.0.0.1"}


@pytest.mark.parametrize(
    "path", ["/refresh-to?u=/page/later&d=30", "/refresh-self", "/refresh-to?u=javascript:x"]
)
def test_slow_self_and_non_http_refreshes_are_not_redirects(http_server, path):
    result = HttpClient(LOCAL).get(http_server.url(path))
    assert result.final_url == http_server.url(path) and result.redirects == ()


def test_meta_refresh_hops_are_captured_and_replay(http_server, tmp_path):
    from transforms.fetch.warc import WarcArchive, WarcRecorder

    recorder = WarcRecorder(str(tmp_path))
    live = HttpClient(replace(LOCAL, respect_robots=False), recorder=recorder).get(
        http_server.url("/refresh/1")
    )
    recorder.close()
    archive = WarcArchive(str(tmp_path))
    assert http_server.url("/refresh/1") in archive and live.final_url in archive
    replayed = HttpClient(LOCAL, replayer=archive).get(http_server.url("/refresh/1"))
    assert (replayed.final_url, replayed.text) == (live.final_url, live.text)


# --- keep-alive -----------------------------------------------------------------------------------


def test_pages_of_one_host_share_a_kept_alive_connection():
    with serving() as server:
        client = HttpClient(LOCAL)
        for n in range(20):
            assert client.get(server.url(f"/page/{n}")).text == ARTICLE_HTML
        # robots.txt and 20 pages: one connection (two if the server closed one in between)
        assert server.connections <= 2
        assert client.transport.connections_opened == server.connections


def test_a_new_dns_answer_gets_a_new_vetted_connection(connects):
    """Pools are per vetted address: rebinding cannot ride on a kept-alive connection."""
    with serving() as first:
        answers = iter([["127.0.0.1"], ["127.0.0.1"], ["10.1.1.1"]])
        client = HttpClient(GUARDED, resolver=lambda host, port: next(answers))
        url = f"http://news.test:{first.port}"
        assert client.get(f"{url}/page/1").status == 200  # robots.txt + page
        assert failure(client, f"{url}/page/2").reason == h.BLOCKED_ADDRESS
        assert {address for address, _ in connects} == {"127.0.0.1"}


def test_a_kept_alive_connection_closed_by_the_server_is_replaced_once():
    with serving() as server:
        client = HttpClient(replace(LOCAL, respect_robots=False, max_retries=0))
        for n in range(3):
            assert client.get(server.url(f"/one-per-connection/{n}")).status == 200
        assert server.connections == 3  # each later request found its connection closed


# --- proxies --------------------------------------------------------------------------------------


def test_proxy_from_the_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.corp.example")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    found = environment_proxies()
    assert found["https"] == "http://proxy.internal:3128"
    assert "corp.example" in found["no"]


def test_requests_go_through_the_proxy_with_the_target_vetted(connects):
    with serving() as proxy:
        client = HttpClient(
            GUARDED, proxies={"http": proxy.base}, resolver=lambda host, port: [PUBLIC]
        )
        result = client.get("http://news.example/page/via-proxy")
        assert result.final_url == "http://news.example/page/via-proxy"
        assert "Flood waters recede" in result.text
        assert [hit.path for hit in proxy.hits] == [
            "http://news.example/robots.txt",
            "http://news.example/page/via-proxy",
        ]
        assert {address for address, _ in connects} == {"127.0.0.1"}  # only the proxy


def test_the_guard_applies_to_proxied_targets(connects):
    with serving() as proxy:
        client = HttpClient(
            GUARDED, proxies={"http": proxy.base}, resolver=lambda host, port: ["10.0.0.5"]
        )
        assert failure(client, "http://intranet.example/page").reason == h.BLOCKED_ADDRESS
        assert proxy.hits == [] and connects == []


def test_no_proxy_hosts_are_fetched_directly(connects):
    with serving() as server:
        client = HttpClient(
            LOCAL,
            proxies={"http": "http://127.0.0.9:9", "no": "news.test"},
            resolver=lambda host, port: ["127.0.0.1"],
        )
        assert client.get(f"http://news.test:{server.port}/page").status == 200
        assert {address for address, _ in connects} == {"127.0.0.1"}


def test_loopback_is_never_proxied(http_server, connects):
    client = HttpClient(LOCAL, proxies={"http": "http://127.0.0.9:9"})
    assert client.get(http_server.url("/page")).status == 200
    assert {address for address, _ in connects} == {"127.0.0.1"}
