"""A safe, polite HTTP client for feeds and article pages, built once per worker.

Public API (what other stages use)::

    from transforms.fetch.http import HttpClient, HttpConfig, FetchError

    client = HttpClient(HttpConfig(user_agent="acme-news/1.0 (+https://acme.example/bot)"))
    result = client.get(url, kind="page")          # or kind="feed"
    result = client.get(url, kind="feed", etag=old_etag, last_modified=old_lm)
    if result.not_modified: ...                    # 304 to a conditional GET
    result.text, result.body, result.encoding, result.final_url, result.etag, result.fetched_at
    client.crawl_delay(url)                        # robots.txt crawl-delay for the host, or None
    client.close()

``get`` returns an :class:`HttpResult` or raises :class:`FetchError` whose ``reason`` is one of
the constants below (the dead-letter vocabulary). ``kind="feed"`` accepts XML and JSON bodies and
never raises ``bad_charset`` (feed parsers do their own encoding sniffing from ``body``);
``kind="page"`` accepts HTML only and checks robots.txt. Build the client in ``DoFn.setup`` and
call ``close`` in ``teardown``; it is thread-safe.

Why it looks like this:

* SSRF: a feed is third-party input, and a redirect from it must never reach the worker's
  metadata server or the user's private network. Every hop's host is resolved here, every address
  is checked, and the TCP connection goes to the very address that was checked (the socket is
  created by us and handed to ``http.client``; TLS still verifies the certificate against the host
  name via SNI), so DNS rebinding between check and connect is impossible. Cloud metadata
  endpoints stay blocked even with ``allow_private_networks``.
* Bounded cost per URL: connect/read timeouts, a total deadline enforced by a watchdog that shuts
  the socket down (so one byte per second cannot keep us forever), a body cap enforced while
  streaming, a decompressed-size cap (gzip bombs), a bounded number of redirects and retries.
* Retries only where they can help (timeouts, connection failures, 408/429/5xx), with
  exponential backoff and jitter seeded per URL so a replayed schedule is reproducible; a 429's
  Retry-After is honoured when it is reasonable and otherwise ends the attempt.
* Nothing secret leaves the client: URLs are redacted (user info, credential-like query values)
  before they reach logs or errors; cookies are neither sent, stored nor logged; bodies appear
  only as bounded excerpts.
"""

from __future__ import annotations

import codecs
import contextlib
import http.client
import ipaddress
import logging
import random
import re
import socket
import ssl
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

from transforms.core.records import now_iso, stable_hash
from transforms.core.redact import redact_url

logger = logging.getLogger(__name__)

# --- Dead-letter reasons: a fixed vocabulary -------------------------------------------------
# Transient reasons are retried (bounded) before they become dead letters; permanent ones go
# straight to the dead letters.
DNS_ERROR = "dns_error"  # host name did not resolve (permanent; resolver timeouts are retried)
CONNECT_ERROR = "connect_error"  # refused/reset/TLS failure (transient)
TIMEOUT = "timeout"  # connect/read timeout (transient) or total deadline (not retried)
HTTP_4XX = "http_4xx"  # client error status (permanent, except 408/429 which are retried)
HTTP_5XX = "http_5xx"  # server error status (transient)
TOO_MANY_REDIRECTS = "too_many_redirects"  # more than max_redirects hops, or a loop (permanent)
TOO_LARGE = "too_large"  # body or decompressed body above max_bytes (permanent)
NOT_HTML = "not_html"  # a page that is not HTML (PDF, image, binary, wrong type) (permanent)
NOT_FEED = "not_feed"  # a feed document that is neither XML nor JSON (permanent)
BAD_CHARSET = "bad_charset"  # text that cannot be decoded with any plausible charset (permanent)
BAD_ENCODING = "bad_encoding"  # corrupt or unsupported Content-Encoding (permanent)
ROBOTS_DISALLOWED = "robots_disallowed"  # robots.txt forbids it, or crawl-delay too long
BLOCKED_ADDRESS = "blocked_address"  # SSRF guard: private/loopback/link-local/metadata target
BAD_URL = "bad_url"  # not http(s), malformed, credentials in URL, unsupported redirect scheme
NOT_IN_ARCHIVE = "not_in_archive"  # replay mode: the URL was never captured (permanent)

REASONS: dict[str, tuple[bool, str]] = {
    DNS_ERROR: (False, "the host name did not resolve"),
    CONNECT_ERROR: (True, "connection refused or reset, or the TLS handshake failed"),
    TIMEOUT: (True, "connect, read or total deadline exceeded"),
    HTTP_4XX: (False, "the server answered 4xx (408 and 429 are retried first)"),
    HTTP_5XX: (True, "the server answered 5xx"),
    TOO_MANY_REDIRECTS: (False, "more redirects than allowed, or a redirect loop"),
    TOO_LARGE: (False, "body or decompressed body larger than max_bytes"),
    NOT_HTML: (False, "page is not HTML (wrong content type or binary content)"),
    NOT_FEED: (False, "feed document is neither XML nor JSON"),
    BAD_CHARSET: (False, "text could not be decoded with any plausible charset"),
    BAD_ENCODING: (False, "corrupt or unsupported Content-Encoding"),
    ROBOTS_DISALLOWED: (False, "robots.txt disallows the URL or asks for too long a delay"),
    BLOCKED_ADDRESS: (False, "the host resolves to a non-public or metadata address"),
    BAD_URL: (False, "not an http(s) URL, malformed, or carries credentials"),
    NOT_IN_ARCHIVE: (False, "replay mode: the URL is not in the WARC archive"),
}
TRANSIENT_REASONS = frozenset(reason for reason, (transient, _) in REASONS.items() if transient)

KIND_PAGE = "page"
KIND_FEED = "feed"
KIND_ROBOTS = "robots"
KINDS = (KIND_PAGE, KIND_FEED, KIND_ROBOTS)

DEFAULT_USER_AGENT = "wirestream/0.1 (+https://github.com/wirestream/wirestream#crawler)"
# Always blocked, whatever allow_private_networks says: these answer with cloud credentials.
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.platformequinix.com",
    }
)
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("169.254.169.254/32", "169.254.170.2/32", "fd00:ec2::254/128", "100.100.100.200/32")
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRYABLE_4XX = frozenset({408, 429})
_CHUNK = 64 * 1024
_ERROR_BODY_CAP = (
    64 * 1024
)  # bodies of redirects and error answers are read (for capture) only so far
_SNIFF = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]{1,40})""", re.IGNORECASE
)
_XML_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:\-]{1,40})"""
)
# C0 controls (except tab, LF, CR), DEL and NUL: never meaningful in HTML text. A compiled class
# removes them in well under a millisecond per page; str.translate with a dict took ~7 ms.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BINARY_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"RIFF", "audio/video/webp"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x7fELF", "application/x-executable"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_TYPES_REJECTED_PREFIXES = ("image/", "audio/", "video/", "font/")
_FEED_TYPES_REJECTED = frozenset({"application/pdf", "application/zip", "application/gzip"})
_LATIN1_LABELS = frozenset(
    {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii"}
)


class FetchError(Exception):
    """A fetch that ended without a usable response; ``reason`` is from the fixed vocabulary.

    The message never holds a body or credentials: the URL is redacted and ``excerpt`` is at most
    a few hundred printable characters, so it can go into logs and dead letters as is.
    """

    def __init__(
        self,
        reason: str,
        url: str,
        detail: str = "",
        *,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        excerpt: str = "",
        at: str | None = None,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown fetch reason {reason!r}")
        self.reason = reason
        self.url = redact_url(url)
        self.detail = detail[:300]
        self.status = status
        self.retryable = reason in TRANSIENT_REASONS if retryable is None else retryable
        self.retry_after = retry_after
        self.excerpt = excerpt[:300]
        # When it happened: the archive's WARC-Date in replay, set by the client otherwise.
        self.at = at
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions are pickled by Beam (dead-letter handling, bundle failures); the default
        # reduce would call __init__ with the message only.
        return (
            _rebuild_fetch_error,
            (
                self.reason,
                self.url,
                self.detail,
                self.status,
                self.retryable,
                self.retry_after,
                self.excerpt,
                self.at,
            ),
        )

    @property
    def message(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.reason}{status}: {self.detail} [{self.url}]"

    @property
    def transient(self) -> bool:
        return self.reason in TRANSIENT_REASONS


def _rebuild_fetch_error(
    reason: str,
    url: str,
    detail: str,
    status: int | None,
    retryable: bool,
    retry_after: float | None,
    excerpt: str,
    at: str | None,
) -> FetchError:
    return FetchError(
        reason,
        url,
        detail,
        status=status,
        retryable=retryable,
        retry_after=retry_after,
        excerpt=excerpt,
        at=at,
    )


@dataclass(frozen=True)
class HttpConfig:
    """Knobs of the client; one frozen value so DoFns pickle it and runs can record it."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # per attempt, covering DNS, connect, headers and body
    max_bytes: int = 10 * 1024 * 1024  # cap on the body as received and once decompressed
    max_redirects: int = 5
    max_retries: int = 2
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 60.0  # a longer Retry-After ends the fetch instead of waiting
    allow_private_networks: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDRs exempt from the guard (never metadata)
    respect_robots: bool = True
    max_crawl_delay: float = 60.0  # a longer robots.txt crawl-delay counts as a disallow
    robots_max_bytes: int = 512 * 1024
    robots_cache_size: int = 10_000
    robots_ttl: float = 86_400.0  # RFC 9309: a cached robots.txt is good for at most 24 hours
    robots_failure_ttl: float = 300.0  # how long an unreachable host fails fast
    verify_tls: bool = True
    ca_file: str | None = None  # extra CA bundle (corporate proxies, tests); system CAs otherwise
    max_bad_char_ratio: float = 0.01  # share of undecodable bytes tolerated (mixed encodings)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
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
class HttpResult:
    """A usable response (2xx, or 304 to a conditional GET) after all redirects."""

    url: str
    final_url: str
    status: int
    headers: tuple[tuple[str, str], ...]  # lower-case names, in order, Set-Cookie removed
    body: bytes  # content-decoded (gzip/deflate undone), at most max_bytes
    content_type: str  # media type only, lower case ("text/html")
    text: str  # decoded; control characters removed; "" for 304
    encoding: str  # the charset actually used for ``text``
    fetched_at: str  # ISO 8601 UTC; the WARC-Date in replay mode
    etag: str | None = None
    last_modified: str | None = None
    redirects: tuple[str, ...] = ()
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


Resolver = Callable[[str, int], list[str]]


# --- URL and address policy -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A validated hop: what to connect to and what to say in the request line."""

    url: str
    scheme: str
    host: str  # IDNA-encoded, lower case, no brackets
    port: int
    path: str  # path + query, never empty

    @property
    def origin(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def parse_target(url: str) -> Target:
    """Validate a URL for fetching; anything odd is a ``bad_url`` before any network activity."""
    if len(url) > 4096 or any(ch in url for ch in "\r\n\t\x00 "):
        raise FetchError(BAD_URL, url, "URL too long or contains whitespace/control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(BAD_URL, url, f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(BAD_URL, url, f"unsupported scheme {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise FetchError(BAD_URL, url, "credentials in URLs are not supported")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchError(BAD_URL, url, "no host")
    try:
        host = host.encode("idna").decode("ascii").lower() if not _is_ip(host) else host
    except UnicodeError:
        raise FetchError(BAD_URL, url, "host name is not valid IDNA") from None
    port = port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    clean = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
    return Target(url=clean, scheme=scheme, host=host, port=port, path=path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_block_reason(
    address: str,
    *,
    allow_private_networks: bool = False,
    allowed_networks: Sequence[str] = (),
) -> str | None:
    """Why connecting to ``address`` is refused, or None when it is allowed.

    Cloud metadata addresses are refused in every mode. IPv4-mapped, 6to4 and Teredo IPv6
    addresses are judged by the IPv4 address they embed, so they cannot smuggle a private one.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        for embedded in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if embedded is not None:
                candidates.append(embedded)
    for candidate in candidates:
        if any(candidate in net for net in METADATA_NETWORKS if net.version == candidate.version):
            return f"{candidate} is a cloud metadata address"
    if allow_private_networks:
        return None
    for net in allowed_networks:
        network = ipaddress.ip_network(net, strict=False)
        if network.version == ip.version and ip in network:
            return None
    for candidate in candidates:
        for label, flag in (
            ("unspecified", candidate.is_unspecified),
            ("loopback", candidate.is_loopback),
            ("link-local", candidate.is_link_local),
            ("multicast", candidate.is_multicast),
            ("private", candidate.is_private),
            ("reserved", candidate.is_reserved),
            ("non-global", not candidate.is_global),
        ):
            if flag:
                return f"{candidate} is a {label} address"
    return None


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


# --- Body decoding ------------------------------------------------------------------------------


class _BoundedDecoder:
    """Undo Content-Encoding chunk by chunk without ever holding more than ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self.encoding = encoding.strip().lower()
        self.limit = limit
        self.url = url
        self.size = 0
        self.parts: list[bytes] = []
        self._first = True
        if self.encoding in ("", "identity", "none"):
            self._obj = None
        elif self.encoding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise FetchError(BAD_ENCODING, url, f"unsupported Content-Encoding {encoding[:40]!r}")
        self._done = False

    def _append(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchError(TOO_LARGE, self.url, f"decoded body exceeds {self.limit} bytes")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._obj is None:
            self._append(chunk)
            return
        data = chunk
        while data and not self._done:
            try:
                out = self._obj.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                if self._first and self.encoding == "deflate":
                    # Some servers send raw deflate without the zlib header.
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise FetchError(
                    BAD_ENCODING, self.url, f"corrupt {self.encoding} body: {exc}"
                ) from None
            self._first = False
            self._append(out)
            if self._obj.eof:
                rest = self._obj.unused_data
                if rest[:2] == b"\x1f\x8b" and self.encoding in ("gzip", "x-gzip"):
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
                    data = rest
                else:
                    self._done = True  # trailing garbage is ignored, as browsers do
                    data = b""
            else:
                data = self._obj.unconsumed_tail

    def finish(self) -> bytes:
        if self._obj is not None and not self._done:
            try:
                self._append(self._obj.flush())
            except zlib.error as exc:
                raise FetchError(
                    BAD_ENCODING, self.url, f"truncated {self.encoding} body: {exc}"
                ) from None
        return b"".join(self.parts)


def decode_body(encoding: str, raw: bytes, limit: int, url: str) -> bytes:
    decoder = _BoundedDecoder(encoding, limit, url)
    for start in range(0, len(raw), _CHUNK):
        decoder.feed(raw[start : start + _CHUNK])
    return decoder.finish()


def media_type(content_type: str | None) -> tuple[str, str | None]:
    """('text/html', 'utf-8') from 'text/html; charset="UTF-8"'."""
    if not content_type:
        return "", None
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").strip() or None
    return mime.strip().lower(), charset


def _known_codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _LATIN1_LABELS:
        return "cp1252"  # what browsers do (WHATWG encoding standard)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _sniff_binary(body: bytes, allow_nul: bool = False) -> str | None:
    head = body[:16].lstrip(b"\xef\xbb\xbf")
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    sample = body[:_SNIFF]
    if sample and not allow_nul and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if controls > len(sample) // 10:
            return "binary data"
    return None


def decode_text(
    body: bytes, header_charset: str | None, *, kind: str, url: str, max_bad_ratio: float
) -> tuple[str, str, str]:
    """Decode to text: BOM, then header, then <meta>/XML declaration, then detection.

    A declared charset that does not fit (mixed encodings) is tolerated when only a small share
    of bytes are undecodable; otherwise detection decides, and a page that still does not decode
    is ``bad_charset``. Returns (text, codec, where the charset came from).
    """
    candidates: list[tuple[str, str]] = []
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            candidates.append((name, "bom"))
            break
    if (codec := _known_codec(header_charset)) is not None:
        candidates.append((codec, "header"))
    head = body[:_SNIFF]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if match and (codec := _known_codec(match.group(1).decode("ascii", "replace"))) is not None:
        if codec.startswith("utf-16") and not candidates:
            codec = "utf-8"  # an ASCII-readable meta cannot be UTF-16: the page lied
        candidates.append((codec, "meta" if match.re is _META_CHARSET else "xml"))
    candidates.append(("utf-8", "default"))
    tried: list[str] = []
    best: tuple[str, str, str] | None = None
    for codec, source in candidates:
        if codec in tried:
            continue
        tried.append(codec)
        try:
            return _clean_text(body.decode(codec)), codec, source
        except UnicodeDecodeError:
            text = body.decode(codec, errors="replace")
            bad = text.count("\ufffd") - body.decode(codec, errors="ignore").count("\ufffd")
            if best is None and bad <= max(1, int(len(body) * max_bad_ratio)):
                best = (_clean_text(text), codec, source)
    if best is not None and best[2] != "default":
        return best
    detected = _detect_charset(body)
    if detected is not None and detected not in tried:
        try:
            return _clean_text(body.decode(detected)), detected, "detected"
        except UnicodeDecodeError:
            pass
    if best is not None:
        return best
    if kind == KIND_PAGE:
        raise FetchError(BAD_CHARSET, url, f"undecodable text (tried {', '.join(tried)})")
    return _clean_text(body.decode("utf-8", errors="replace")), "utf-8", "default"


def _detect_charset(body: bytes) -> str | None:
    """Last-resort detection. Noise that only "decodes" as a language-less multibyte soup is
    refused (None), and windows-1252 wins near-ties because it is the web's legacy default."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset_normalizer ships with requests
        return None
    matches = list(from_bytes(body[:200_000]))
    if not matches or matches[0].coherence <= 0.0:
        return None
    best = matches[0]
    for match in matches:
        if (
            _known_codec(match.encoding) == "cp1252"
            and match.chaos <= best.chaos + 0.1
            and match.coherence >= best.coherence - 0.05
        ):
            return "cp1252"
    return _known_codec(best.encoding)


def _clean_text(text: str) -> str:
    return _CONTROL_CHARS.sub("", text)


# --- The client ---------------------------------------------------------------------------------


@dataclass
class _RobotsRules:
    parser: Any = None  # protego.Protego, or None for allow-all / disallow-all
    disallow_all: bool = False
    note: str = ""
    expires: float = 0.0  # time.monotonic() after which robots.txt is fetched again
    unreachable: tuple[str, str] | None = None  # (reason, detail) when the host is unreachable

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.disallow_all:
            return False
        return True if self.parser is None else bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None


class HttpClient:
    """See the module docstring. One instance per worker; safe to share between threads."""

    def __init__(
        self,
        config: HttpConfig | None = None,
        *,
        recorder: Recorder | None = None,
        replayer: Replayer | None = None,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pace: Callable[[Target], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.config = config or HttpConfig()
        # Entered around every exchange that goes on the wire (robots.txt, redirects and retries
        # included), so a per-host rate limit cannot be bypassed by any of them.
        self._pace = pace
        self.recorder = recorder
        self.replayer = replayer
        self._resolver = resolver or _system_resolver
        self._sleep = sleep
        self._dns_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wirestream-dns")
        self._robots: OrderedDict[str, _RobotsRules] = OrderedDict()
        self._robots_lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}
        self._ssl = ssl.create_default_context(cafile=self.config.ca_file)
        if not self.config.verify_tls:
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE

    def close(self) -> None:
        self._dns_pool.shutdown(wait=False, cancel_futures=True)

    # -- public --------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        kind: str = KIND_PAGE,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> HttpResult:
        """Fetch ``url`` following redirects, retrying transient failures; see module docs."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        attempt = 0
        while True:
            try:
                return self._get_once(url, kind=kind, etag=etag, last_modified=last_modified)
            except FetchError as exc:
                self._stamp(exc)
                if self.replayer is not None or not exc.retryable:
                    raise
                if attempt >= self.config.max_retries:
                    raise
                delay = self._backoff(url, attempt)
                if exc.retry_after is not None:
                    if exc.retry_after > self.config.max_retry_after:
                        exc.retryable = False
                        raise
                    delay = max(delay, exc.retry_after)
                attempt += 1
                logger.info(
                    "retry %d/%d in %.2fs after %s", attempt, self.config.max_retries, delay, exc
                )
                self._sleep(delay)

    def known_crawl_delay(self, target: Target) -> float | None:
        """The crawl-delay of an origin whose robots.txt is already cached (no network)."""
        with self._robots_lock:
            rules = self._robots.get(target.origin)
        return rules.crawl_delay(self.config.user_agent) if rules is not None else None

    def crawl_delay(self, url: str) -> float | None:
        """robots.txt crawl-delay for this URL's host (fetching robots.txt if needed)."""
        if self.replayer is not None or not self.config.respect_robots:
            return None
        try:
            rules = self._robots_rules(parse_target(url))
        except FetchError:
            return None
        return rules.crawl_delay(self.config.user_agent)

    # -- internals -----------------------------------------------------------------------------

    def _stamp(self, error: FetchError) -> None:
        """Date an error that has none: now when live, the archive's own date in replay."""
        if error.at is None:
            archived = getattr(self.replayer, "archived_at", None)
            error.at = archived if self.replayer is not None and archived else now_iso()

    def _backoff(self, url: str, attempt: int) -> float:
        return backoff_delay(self.config, url, attempt)

    def _request_headers(
        self, kind: str, etag: str | None, last_modified: str | None
    ) -> list[tuple[str, str]]:
        accept = {
            KIND_PAGE: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            KIND_FEED: (
                "application/rss+xml,application/atom+xml,application/rdf+xml,"
                "application/feed+json,application/xml;q=0.9,text/xml;q=0.9,"
                "application/json;q=0.8,*/*;q=0.1"
            ),
            KIND_ROBOTS: "text/plain,*/*;q=0.1",
        }[kind]
        headers = [
            ("User-Agent", self.config.user_agent),
            ("Accept", accept),
            ("Accept-Encoding", "gzip, deflate"),
            ("Connection", "close"),
        ]
        if etag:
            headers.append(("If-None-Match", etag))
        if last_modified:
            headers.append(("If-Modified-Since", last_modified))
        return headers

    def _get_once(
        self, url: str, *, kind: str, etag: str | None, last_modified: str | None
    ) -> HttpResult:
        request_headers = self._request_headers(kind, etag, last_modified)
        limit = self.config.robots_max_bytes if kind == KIND_ROBOTS else self.config.max_bytes
        chain: list[str] = []
        current = url
        last_at: str | None = None  # errors after a hop carry that hop's date (replayable)
        while True:
            try:
                target = parse_target(current)
                if target.url in chain:
                    raise FetchError(
                        TOO_MANY_REDIRECTS, url, f"redirect loop after {len(chain)} hops"
                    )
            except FetchError as exc:
                exc.at = exc.at or last_at
                raise
            chain.append(target.url)
            raw = self._hop(target, kind, request_headers, limit)
            last_at = raw.fetched_at
            location = raw.header("Location")
            if raw.status in _REDIRECT_STATUSES and location:
                if len(chain) > self.config.max_redirects:
                    raise FetchError(
                        TOO_MANY_REDIRECTS,
                        url,
                        f"more than {self.config.max_redirects} redirects",
                        at=last_at,
                    )
                current = urljoin(target.url, location.strip())
                continue
            return self._finish(url, target, raw, kind, tuple(chain[:-1]), etag or last_modified)

    def _hop(
        self, target: Target, kind: str, request_headers: list[tuple[str, str]], limit: int
    ) -> RawResponse:
        """One request/response; failures are recorded (capture) before they propagate."""
        try:
            if self.replayer is not None:
                return self.replayer.exchange(target.url, limit)
            if kind == KIND_PAGE and self.config.respect_robots:
                self._check_robots(target)
            raw = self._exchange(target, request_headers, limit)
        except FetchError as exc:
            self._stamp(exc)
            if self.recorder is not None and self.replayer is None:
                self.recorder.record_error(target.url, exc)
            raise
        if self.recorder is not None:
            self.recorder.record_response(raw, request_headers)
        return raw

    def _finish(
        self,
        url: str,
        target: Target,
        raw: RawResponse,
        kind: str,
        redirects: tuple[str, ...],
        conditional: str | None,
    ) -> HttpResult:
        status = raw.status
        snippet = _excerpt(raw.body)
        if raw.truncated:
            raise FetchError(
                TOO_LARGE,
                target.url,
                f"body exceeds {self.config.max_bytes} bytes",
                at=raw.fetched_at,
            )
        if status == 304:
            # An archived 304 answered the capture run's conditional GET: it stays not-modified.
            if not conditional and not raw.from_archive:
                raise FetchError(
                    HTTP_4XX, target.url, "304 to an unconditional request", status=304
                )
            return self._result(url, target, raw, kind, redirects, b"", "", "", "none")
        if 300 <= status < 400:  # 300/305/306, or a redirect without Location: nothing to follow
            raise FetchError(
                HTTP_4XX, target.url, "unusable redirect", status=status, at=raw.fetched_at
            )
        if 400 <= status < 500:
            retry_after = _retry_after(raw.header("Retry-After")) if status in (429, 503) else None
            raise FetchError(
                HTTP_4XX,
                target.url,
                raw.reason or "client error",
                status=status,
                retryable=status in _RETRYABLE_4XX,
                retry_after=retry_after,
                excerpt=snippet,
                at=raw.fetched_at,
            )
        if not 200 <= status < 300:
            retry_after = _retry_after(raw.header("Retry-After")) if status == 503 else None
            raise FetchError(
                HTTP_5XX,
                target.url,
                raw.reason or "server error",
                status=status,
                retryable=status in (500, 502, 503, 504) or status < 200,
                retry_after=retry_after,
                excerpt=snippet,
                at=raw.fetched_at,
            )
        mime, charset = media_type(raw.header("Content-Type"))
        body = raw.body
        if kind == KIND_PAGE:
            self._check_page_type(target.url, mime, body, raw.fetched_at, charset)
        elif kind == KIND_FEED:
            self._check_feed_type(target.url, mime, body, raw.fetched_at)
        try:
            text, codec, source = decode_text(
                body,
                charset,
                kind=kind,
                url=target.url,
                max_bad_ratio=self.config.max_bad_char_ratio,
            )
        except FetchError as exc:
            exc.at = raw.fetched_at
            raise
        return self._result(url, target, raw, kind, redirects, body, mime, text, codec, source)

    def _result(
        self,
        url: str,
        target: Target,
        raw: RawResponse,
        kind: str,
        redirects: tuple[str, ...],
        body: bytes,
        mime: str,
        text: str,
        codec: str,
        source: str = "",
    ) -> HttpResult:
        headers = tuple(
            (k.lower(), v) for k, v in raw.headers if k.lower() not in ("set-cookie", "set-cookie2")
        )
        return HttpResult(
            url=url,
            final_url=target.url,
            status=raw.status,
            headers=headers,
            body=body,
            content_type=mime,
            text=text,
            encoding=codec,
            fetched_at=raw.fetched_at,
            etag=raw.header("ETag"),
            last_modified=raw.header("Last-Modified"),
            redirects=redirects,
            from_archive=raw.from_archive,
            charset_source=source,
        )

    @staticmethod
    def _check_page_type(
        url: str, mime: str, body: bytes, at: str, charset: str | None = None
    ) -> None:
        if mime and mime not in _HTML_TYPES:
            raise FetchError(NOT_HTML, url, f"content type {mime[:60]!r} is not HTML", at=at)
        if not body.strip():
            raise FetchError(NOT_HTML, url, "empty body", at=at)
        wide = (charset or "").lower().replace("_", "-").startswith(("utf-16", "utf-32"))
        binary = _sniff_binary(body, allow_nul=wide)
        if binary is not None:
            raise FetchError(NOT_HTML, url, f"body is {binary} despite {mime or 'no type'}", at=at)
        if not mime and b"<" not in body[:_SNIFF] and not wide:
            raise FetchError(NOT_HTML, url, "no content type and no markup", at=at)

    @staticmethod
    def _check_feed_type(url: str, mime: str, body: bytes, at: str) -> None:
        if mime in _FEED_TYPES_REJECTED or mime.startswith(_FEED_TYPES_REJECTED_PREFIXES):
            raise FetchError(NOT_FEED, url, f"content type {mime[:60]!r} is not a feed", at=at)
        binary = _sniff_binary(body)
        if binary is not None:
            raise FetchError(NOT_FEED, url, f"body is {binary}", at=at)
        if not body.strip():
            raise FetchError(NOT_FEED, url, "empty body", at=at)

    # -- network -------------------------------------------------------------------------------

    def _resolve(self, target: Target, deadline: float) -> str:
        """Resolve and vet every address; return the one we will connect to."""
        config = self.config
        if target.host.lower() in METADATA_HOSTNAMES or target.host.endswith(".internal"):
            raise FetchError(BLOCKED_ADDRESS, target.url, f"metadata host {target.host!r}")
        if _is_ip(target.host):
            addresses = [target.host]
        else:
            budget = max(0.01, min(config.connect_timeout, deadline - time.monotonic()))
            future = self._dns_pool.submit(self._resolver, target.host, target.port)
            try:
                addresses = list(future.result(timeout=budget))
            except FutureTimeout:
                raise FetchError(
                    DNS_ERROR, target.url, "name resolution timed out", retryable=True
                ) from None
            except socket.gaierror as exc:
                transient = exc.errno == socket.EAI_AGAIN
                raise FetchError(
                    DNS_ERROR, target.url, f"cannot resolve: {exc.strerror}", retryable=transient
                ) from None
            except (OSError, UnicodeError) as exc:
                raise FetchError(DNS_ERROR, target.url, f"cannot resolve: {exc}") from None
        if not addresses:
            raise FetchError(DNS_ERROR, target.url, "no addresses")
        for address in addresses:
            why = address_block_reason(
                address,
                allow_private_networks=config.allow_private_networks,
                allowed_networks=config.allowed_networks,
            )
            if why is not None:
                raise FetchError(BLOCKED_ADDRESS, target.url, why)
        return addresses[0]

    def _exchange(
        self, target: Target, request_headers: list[tuple[str, str]], limit: int
    ) -> RawResponse:
        address = self._resolve(target, time.monotonic() + self.config.total_timeout)
        # Paced after the guard (refusals cost no wait) and around the whole exchange, so a
        # host's next request can only start once this one has ended.
        with self._pace(target) if self._pace is not None else contextlib.nullcontext():
            return self._transfer(target, address, request_headers, limit)

    def _transfer(
        self, target: Target, address: str, request_headers: list[tuple[str, str]], limit: int
    ) -> RawResponse:
        config = self.config
        deadline = time.monotonic() + config.total_timeout
        connect_timeout = max(0.01, min(config.connect_timeout, deadline - time.monotonic()))
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = http.client.HTTPSConnection(
                target.host, target.port, timeout=connect_timeout, context=self._ssl
            )
        else:
            conn = http.client.HTTPConnection(target.host, target.port, timeout=connect_timeout)

        def pinned(_addr: Any, timeout: Any, source: Any = None) -> socket.socket:
            # The only place a socket is opened: to the address that passed the guard.
            return socket.create_connection((address, target.port), timeout, source)

        conn._create_connection = pinned  # type: ignore[attr-defined]
        expired = threading.Event()

        def watchdog() -> None:
            expired.set()
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(max(0.0, deadline - time.monotonic()), watchdog)
        timer.daemon = True
        timer.start()
        try:
            try:
                conn.connect()
            except TimeoutError:
                raise FetchError(TIMEOUT, target.url, "connect timed out") from None
            except ssl.SSLError as exc:
                raise FetchError(
                    CONNECT_ERROR, target.url, f"TLS: {exc.reason}", retryable=False
                ) from None
            except OSError as exc:
                if expired.is_set():
                    raise FetchError(TIMEOUT, target.url, "total deadline exceeded") from None
                raise FetchError(CONNECT_ERROR, target.url, f"connect: {exc.strerror}") from None
            assert conn.sock is not None
            conn.sock.settimeout(max(0.01, min(config.read_timeout, deadline - time.monotonic())))
            try:
                conn.putrequest("GET", target.path, skip_accept_encoding=True)
                for name, value in request_headers:
                    conn.putheader(name, value)
                conn.endheaders()
                response = conn.getresponse()
                fetched_at = now_iso()
                return self._read_response(target, response, limit, fetched_at, expired)
            except FetchError:
                raise
            except TimeoutError:
                raise FetchError(TIMEOUT, target.url, "read timed out") from None
            except (OSError, http.client.HTTPException) as exc:
                if expired.is_set():
                    raise FetchError(
                        TIMEOUT, target.url, "total deadline exceeded", retryable=False
                    ) from None
                name = type(exc).__name__
                raise FetchError(CONNECT_ERROR, target.url, f"connection failed: {name}") from None
        finally:
            timer.cancel()
            conn.close()

    def _read_response(
        self,
        target: Target,
        response: http.client.HTTPResponse,
        limit: int,
        fetched_at: str,
        expired: threading.Event,
    ) -> RawResponse:
        status = response.status
        headers = list(response.getheaders())
        ok = 200 <= status < 300
        cap = limit if ok else min(limit, _ERROR_BODY_CAP)
        length = response.getheader("Content-Length")
        if ok and length and length.strip().isdigit() and int(length) > limit:
            raise FetchError(TOO_LARGE, target.url, f"Content-Length {length.strip()} > {limit}")
        encoding = response.getheader("Content-Encoding", "") or ""
        decoder = _BoundedDecoder(encoding, limit, target.url) if ok else None
        raw_parts: list[bytes] = []
        received = 0
        truncated = None
        while True:
            chunk = response.read1(_CHUNK)
            if expired.is_set():
                raise FetchError(
                    TIMEOUT, target.url, "total deadline exceeded while reading", retryable=False
                )
            if not chunk:
                break
            received += len(chunk)
            if received > cap:
                if ok:
                    raise FetchError(TOO_LARGE, target.url, f"body exceeds {limit} bytes")
                truncated = "length"
                break
            raw_parts.append(chunk)
            if decoder is not None:
                decoder.feed(chunk)
        raw_body = b"".join(raw_parts)
        if decoder is not None:
            body = decoder.finish()
        else:
            try:
                body = decode_body(encoding, raw_body, _ERROR_BODY_CAP, target.url)
            except FetchError:
                body = b""
        return RawResponse(
            url=target.url,
            status=status,
            reason=response.reason or "",
            headers=headers,
            body=body,
            raw_body=raw_body,
            fetched_at=fetched_at,
            truncated=truncated if ok else None,
        )

    # -- robots.txt ----------------------------------------------------------------------------

    def _check_robots(self, target: Target) -> None:
        try:
            rules = self._robots_rules(target)
        except FetchError as exc:  # the host itself is unusable: report it for the page
            # robots.txt was already retried; retrying the page too would multiply attempts
            raise FetchError(exc.reason, target.url, exc.detail, retryable=False) from None
        if rules.unreachable is not None:  # already retried: fail fast for a while
            reason, detail = rules.unreachable
            raise FetchError(reason, target.url, f"host unreachable: {detail}", retryable=False)
        agent = self.config.user_agent
        if not rules.allowed(target.url, agent):
            raise FetchError(
                ROBOTS_DISALLOWED, target.url, rules.note or "disallowed by robots.txt"
            )
        delay = rules.crawl_delay(agent)
        if delay is not None and delay > self.config.max_crawl_delay:
            raise FetchError(
                ROBOTS_DISALLOWED,
                target.url,
                f"crawl-delay {delay:g}s exceeds max_crawl_delay {self.config.max_crawl_delay:g}s",
            )

    def _robots_rules(self, target: Target) -> _RobotsRules:
        origin = target.origin
        with self._robots_lock:
            cached = self._robots.get(origin)
            if cached is not None and cached.expires > time.monotonic():
                self._robots.move_to_end(origin)
                return cached
            lock = self._origin_locks.setdefault(origin, threading.Lock())
        with lock:  # one fetch per origin even when threads race
            with self._robots_lock:
                cached = self._robots.get(origin)
            if cached is not None and cached.expires > time.monotonic():
                return cached
            rules = self._fetch_robots(origin)
            ttl = self.config.robots_failure_ttl if rules.unreachable else self.config.robots_ttl
            rules.expires = time.monotonic() + ttl
            with self._robots_lock:
                self._robots[origin] = rules
                while len(self._robots) > self.config.robots_cache_size:
                    evicted, _ = self._robots.popitem(last=False)
                    self._origin_locks.pop(evicted, None)
            return rules

    def _fetch_robots(self, origin: str) -> _RobotsRules:
        """RFC 9309: 4xx means no rules; 5xx means assume complete disallow (cached).

        A host that cannot be reached at all fails its pages with the same reason instead.
        """
        from protego import Protego

        try:
            result = self.get(f"{origin}/robots.txt", kind=KIND_ROBOTS)
        except FetchError as exc:
            if exc.reason in (HTTP_4XX,) and exc.status not in (429,):
                return _RobotsRules()
            if exc.reason in (DNS_ERROR, BLOCKED_ADDRESS, BAD_URL, CONNECT_ERROR, TIMEOUT):
                # The host is unreachable (after retries): its pages would fail the same way,
                # so they fail at once for robots_failure_ttl instead of each retrying again.
                return _RobotsRules(unreachable=(exc.reason, exc.detail))
            if exc.reason in (TOO_LARGE, NOT_FEED, NOT_HTML, BAD_ENCODING, BAD_CHARSET):
                return _RobotsRules(note=f"robots.txt unusable ({exc.reason}); no rules")
            return _RobotsRules(
                disallow_all=True, note=f"robots.txt unreachable ({exc.reason}): disallow all"
            )
        try:
            return _RobotsRules(parser=Protego.parse(result.text))
        except Exception as exc:  # protego raises assorted errors on garbage; no rules then
            logger.warning("unparsable robots.txt at %s: %s", origin, type(exc).__name__)
            return _RobotsRules()


def backoff_delay(config: HttpConfig, url: str, attempt: int) -> float:
    """Exponential backoff with jitter in [50%, 100%] of the step, seeded by URL and attempt so
    the schedule is the same on every run and worker (no shared RNG, no wall clock)."""
    rng = random.Random(stable_hash(url, str(attempt)))
    ceiling = min(config.backoff_max, config.backoff_base * (2**attempt))
    return ceiling * (0.5 + 0.5 * rng.random())


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _excerpt(body: bytes, limit: int = 300) -> str:
    text = body[: limit * 4].decode("utf-8", errors="replace")[:limit]
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)
