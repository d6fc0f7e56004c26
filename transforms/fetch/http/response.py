"""The client's knobs and its records: one ``Response`` for every caller (pages and feeds), and
the per-hop ``RawResponse`` that capture and replay exchange."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from transforms.fetch.http.body import MAX_BAD_CHAR_RATIO
from transforms.fetch.http.errors import FetchError
from transforms.fetch.http.robots import ROBOTS_MAX_BYTES

DEFAULT_USER_AGENT = "wirestream/0.1 (+https://github.com/wirestream/wirestream#crawler)"


@dataclass(frozen=True)
class HttpConfig:
    """Knobs of the client; one frozen value so DoFns pickle it and runs can record it."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # per attempt, covering DNS, connect, headers and body
    max_bytes: int = 10 * 1024 * 1024  # cap on the body as received and once decompressed
    max_redirects: int = 5  # HTTP redirects and followed meta refreshes together
    max_retries: int = 2
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 60.0  # a longer Retry-After ends the fetch instead of waiting
    allow_private_networks: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDRs exempt from the guard (never metadata)
    respect_robots: bool = True
    max_crawl_delay: float = 60.0  # a longer robots.txt crawl-delay counts as a disallow
    robots_max_bytes: int = ROBOTS_MAX_BYTES  # parsed prefix of a larger robots.txt
    robots_cache_size: int = 10_000
    robots_ttl: float = 86_400.0  # RFC 9309: a cached robots.txt is good for at most 24 hours
    robots_failure_ttl: float = 300.0  # how long an unreachable host fails fast
    host_max_timeouts: int = 3  # timed-out requests in a row after which a host is given up
    host_giveup_ttl: float = 300.0  # how long a given-up host fails fast (then one probe)
    verify_tls: bool = True
    ca_file: str | None = None  # extra CA bundle (corporate proxies, tests); system CAs otherwise
    max_bad_char_ratio: float = MAX_BAD_CHAR_RATIO  # undecodable bytes tolerated (mixed encodings)
    follow_meta_refresh: bool = True  # <meta http-equiv=refresh> under 10 s is one more hop
    pool_hosts: int = 256  # keep-alive pools kept per client (least recently used dropped)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.host_max_timeouts < 1:
            raise ValueError("host_max_timeouts must be at least 1")
        if self.max_bytes <= 0 or self.max_redirects < 0 or self.max_retries < 0:
            raise ValueError("max_bytes must be positive, max_redirects/max_retries >= 0")
        if "+http" not in self.user_agent and "@" not in self.user_agent:
            raise ValueError(
                "user_agent must carry a contact URL or address, e.g. "
                "'acme-news/1.0 (+https://acme.example/bot)'"
            )
        for net in self.allowed_networks:
            ipaddress.ip_network(net, strict=False)


@dataclass(frozen=True)
class Response:
    """A usable response (2xx, or 304 to a conditional GET) after all redirects: what pages and
    feed documents alike come back as."""

    url: str  # as requested
    final_url: str  # after redirects and meta refreshes
    status: int
    headers: tuple[tuple[str, str], ...]  # lower-case names, in order, Set-Cookie removed
    body: bytes  # content-decoded (gzip/deflate/br undone), at most max_bytes
    content_type: str  # media type only, lower case ("text/html")
    text: str  # decoded; control characters removed; "" for 304
    encoding: str  # the codec actually used for ``text``
    fetched_at: str  # ISO 8601 UTC; the WARC-Date in replay mode
    etag: str | None = None
    last_modified: str | None = None
    redirects: tuple[str, ...] = ()  # every hop before final_url, meta refreshes included
    from_archive: bool = False
    charset_source: str = ""  # bom | header | meta | xml | detected | default

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def header_map(self) -> dict[str, str]:
        """Headers as a dict (the first value of a repeated header wins)."""
        mapping: dict[str, str] = {}
        for key, value in self.headers:
            mapping.setdefault(key, value)
        return mapping


@dataclass
class RawResponse:
    """One hop's answer as it came off the wire (or out of the archive)."""

    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]  # as received, original case
    body: bytes  # content-decoded
    raw_body: bytes  # as received (still content-encoded), for capture
    fetched_at: str
    truncated: str | None = None  # "length" when the body was cut at the cap
    from_archive: bool = False
    # Framed only by the connection closing (no Content-Length, not chunked): its length is
    # whatever arrived, so a drop mid-body is invisible to HTTP (RFC 9112 section 6.3).
    close_delimited: bool = False

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class Recorder(Protocol):
    """Receives every raw exchange and every hop failure (capture to WARC)."""

    def record_response(
        self, raw: RawResponse, request_headers: Sequence[tuple[str, str]]
    ) -> None: ...

    def record_error(self, url: str, error: FetchError) -> None: ...


class Replayer(Protocol):
    """Answers hops from an archive instead of the network."""

    def exchange(self, url: str, max_bytes: int) -> RawResponse: ...
