"""One request on the wire, on urllib3: keep-alive pools pinned to vetted addresses, a hard
deadline, streaming size caps, and bodies refused unless they arrived whole.

What is urllib3's here: connection pools and keep-alive, HTTP/1.1 framing (chunked decoding,
Content-Length accounting), TLS with SNI, proxies (``CONNECT`` tunnels for https). What stays
ours, and why:

* **Pinning.** A pool is keyed by (scheme, host, port, *vetted address*) and connects to the
  address, never to the name; the name goes into ``Host``, SNI (``server_hostname``) and the
  certificate check (``assert_hostname``). A host whose DNS answer changes gets a new pool for
  the new (re-vetted) address, so a kept-alive connection can never be redirected by rebinding.
* **No retries, no redirects in urllib3** (``retries=False``, ``redirect=False``): every hop is
  re-vetted by the guard and counted by the client.
* **Deadline.** urllib3's timeouts bound each connect and read; a watchdog shuts the socket down
  at the per-request deadline, so a server trickling one byte a second cannot hold a worker.
* **Completeness.** A body shorter than its Content-Length, a Content-Length shorter than the
  body sent (``framing.py``), conflicting or invalid Content-Length headers (RFC 9112 section
  6.3) and broken or cut chunked framing are ``incomplete_body``; the body is read raw
  (``decode_content=False``) so the WARC keeps the bytes as received, and decompressed here
  within the cap (``bad_encoding`` when cut).
* **Proxies** (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``): the guard still resolves and vets
  the target host, but the proxy connects by name, so pinning (and the guard's view of what the
  proxy resolves) ends at the proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    HTTPError,
    InvalidHeader,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from transforms.core.records import now_iso
from transforms.fetch.http.body import CHUNK, BoundedDecoder, decode_body
from transforms.fetch.http.errors import (
    CONNECT_ERROR,
    INCOMPLETE_BODY,
    TIMEOUT,
    TOO_LARGE,
    FetchError,
)
from transforms.fetch.http.framing import watch_end
from transforms.fetch.http.guard import Target
from transforms.fetch.http.response import HttpConfig, RawResponse

ERROR_BODY_CAP = 64 * 1024  # bodies of redirects and error answers are read only so far
POOL_CONNECTIONS = 4  # kept-alive connections per (host, address); the pacer uses one

_current = threading.local()


class _Watch:
    """Shuts down the request's socket when the deadline passes.

    It holds the socket itself, not the connection: http.client drops ``conn.sock`` as soon as
    a ``Connection: close`` answer's headers are read, while the body still streams from it.
    """

    def __init__(self) -> None:
        self.expired = threading.Event()
        self._sock: Any = None
        self._lock = threading.Lock()

    def attach(self, sock: Any) -> None:
        if sock is None:
            return
        with self._lock:
            self._sock = sock
        if self.expired.is_set():
            self._shutdown()

    def fire(self) -> None:
        self.expired.set()
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _watch_socket(sock: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch_socket(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_socket(self.sock)  # a kept-alive connection: connect() is not called again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch_socket(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_socket(self.sock)
        super().request(*args, **kwargs)


def environment_proxies() -> dict[str, str]:
    """``{"http": url, "https": url, "no": "hosts"}`` from the usual environment variables."""
    from urllib.request import getproxies_environment

    return {k: v for k, v in getproxies_environment().items() if k in ("http", "https", "no")}


class Transport:
    """Pools per vetted address, proxies when configured; thread-safe, one per client."""

    def __init__(
        self,
        config: HttpConfig,
        *,
        proxies: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._ssl = ssl.create_default_context(cafile=config.ca_file)
        if not config.verify_tls:
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE
        self.proxies = dict(environment_proxies() if proxies is None else proxies)
        self._pools: OrderedDict[tuple[str, str, int, str], Any] = OrderedDict()
        self._proxy_managers: dict[str, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()
        self.connections_opened = 0  # new TCP connections, for the keep-alive benchmark

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
            managers, self._proxy_managers = list(self._proxy_managers.values()), {}
        for pool in pools:
            pool.close()
        for manager in managers:
            manager.clear()

    def proxy_for(self, target: Target) -> str | None:
        """The proxy URL for this target, or None (direct, pinned)."""
        import urllib.request

        proxy = self.proxies.get(target.scheme)
        if not proxy or target.host == "localhost" or _is_loopback(target.host):
            return None  # loopback is this machine: never sent through a proxy
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if bypass(target.authority, self.proxies):
            return None
        return proxy

    # -- pools ---------------------------------------------------------------------------------

    def _pool(self, target: Target, address: str) -> Any:
        key = (target.scheme, target.host, target.port, address)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            if target.scheme == "https":
                verify = self.config.verify_tls
                pool = urllib3.HTTPSConnectionPool(
                    address,
                    target.port,
                    maxsize=POOL_CONNECTIONS,
                    block=False,
                    retries=False,
                    server_hostname=target.host,  # SNI
                    ssl_context=self._ssl,
                    cert_reqs="CERT_REQUIRED" if verify else "CERT_NONE",
                    assert_hostname=target.host if verify else False,  # the certificate check
                )
                pool.ConnectionCls = _WatchedHTTPSConnection
            else:
                pool = urllib3.HTTPConnectionPool(
                    address, target.port, maxsize=POOL_CONNECTIONS, block=False, retries=False
                )
                pool.ConnectionCls = _WatchedHTTPConnection
            self._pools[key] = pool
            evicted = []
            while len(self._pools) > self.config.pool_hosts:
                evicted.append(self._pools.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return pool

    def _proxy_pool(self, target: Target, proxy: str) -> Any:
        with self._lock:
            manager = self._proxy_managers.get(proxy)
            if manager is None:
                manager = self._proxy_managers[proxy] = urllib3.ProxyManager(
                    proxy,
                    num_pools=self.config.pool_hosts,
                    maxsize=POOL_CONNECTIONS,
                    block=False,
                    retries=False,
                    ssl_context=self._ssl,
                    cert_reqs="CERT_REQUIRED" if self.config.verify_tls else "CERT_NONE",
                )
        pool = manager.connection_from_url(target.url)
        pool.ConnectionCls = (
            _WatchedHTTPSConnection if target.scheme == "https" else _WatchedHTTPConnection
        )
        return pool

    # -- one exchange --------------------------------------------------------------------------

    def exchange(
        self,
        target: Target,
        address: str | None,
        request_headers: list[tuple[str, str]],
        limit: int,
        *,
        truncate: bool = False,
    ) -> RawResponse:
        """GET ``target`` over a connection to ``address`` (None: through the proxy).

        ``truncate`` keeps the first ``limit`` bytes of a larger 2xx body (marked
        ``truncated``) instead of failing with ``too_large``.
        """
        config = self.config
        deadline = self._clock() + config.total_timeout
        proxy = self.proxy_for(target) if address is None else None
        if proxy is not None:
            pool = self._proxy_pool(target, proxy)
            path = target.url if target.scheme == "http" else target.path
        else:
            assert address is not None
            pool = self._pool(target, address)
            path = target.path
        headers = {"Host": target.authority, **dict(request_headers)}
        timeout = urllib3.Timeout(
            connect=max(0.01, min(config.connect_timeout, config.total_timeout)),
            read=max(0.01, min(config.read_timeout, config.total_timeout)),
        )
        watch = _Watch()
        timer = threading.Timer(max(0.0, deadline - self._clock()), watch.fire)
        timer.daemon = True
        timer.start()
        _current.watch = watch
        response: Any = None
        reusable = False
        opened_before = pool.num_connections
        try:
            response = self._open(pool, target, path, headers, timeout, watch)
            fetched_at = now_iso()
            raw, reusable = self._read(target, response, limit, truncate, fetched_at, watch)
            return raw
        finally:
            timer.cancel()
            _current.watch = None
            with self._lock:
                self.connections_opened += pool.num_connections - opened_before
            if response is not None:
                if not reusable:
                    response.close()
                response.release_conn()

    @staticmethod
    def _open(
        pool: Any, target: Target, path: str, headers: dict[str, str], timeout: Any, watch: _Watch
    ) -> Any:
        """Send the request and read the response head.

        A kept-alive connection the server closed while it sat in the pool fails before any
        answer; the request then goes once more on a new connection (a GET, so safe to repeat,
        as browsers do). Any other failure is the hop's.
        """
        for attempt in (1, 2):
            opened_before = pool.num_connections
            try:
                return pool.urlopen(
                    "GET",
                    path,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,
                    release_conn=False,
                    assert_same_host=False,
                    timeout=timeout,
                )
            except InvalidHeader as exc:
                raise FetchError(
                    INCOMPLETE_BODY, target.url, f"bad framing: {exc}"[:200], retryable=False
                ) from None
            except Exception as exc:
                reused = pool.num_connections == opened_before
                if attempt == 1 and reused and _closed_by_peer(exc) and not watch.expired.is_set():
                    continue
                raise _connect_failure(target, exc, watch.expired.is_set()) from None
        raise AssertionError("unreachable")

    def _read(
        self,
        target: Target,
        response: Any,
        limit: int,
        truncate: bool,
        fetched_at: str,
        watch: _Watch,
    ) -> tuple[RawResponse, bool]:
        """The hop's answer, and whether its connection may be kept alive."""
        status = int(response.status)
        headers = list(response.headers.items())
        ok = 200 <= status < 300
        cap = limit if ok else min(limit, ERROR_BODY_CAP)
        length = _declared_length(target, headers, chunked=bool(response.chunked))
        if ok and not truncate and length is not None and length > limit:
            raise FetchError(TOO_LARGE, target.url, f"Content-Length {length} > {limit}")
        encoding = response.headers.get("Content-Encoding", "") or ""
        decoder = BoundedDecoder(encoding, limit, target.url, truncate=truncate) if ok else None
        end = watch_end(response, length) if ok and length is not None else None
        raw_parts: list[bytes] = []
        received = 0
        truncated = None
        complete = True
        try:
            for chunk in response.stream(CHUNK, decode_content=False):
                if watch.expired.is_set():
                    break
                if received + len(chunk) > cap:
                    if ok and not truncate:
                        raise FetchError(TOO_LARGE, target.url, f"body exceeds {limit} bytes")
                    chunk = chunk[: cap - received]
                    truncated = "length"
                received += len(chunk)
                raw_parts.append(chunk)
                if decoder is not None:
                    decoder.feed(chunk)
                if truncated or (decoder is not None and decoder.truncated):
                    truncated = "length"
                    break
        except FetchError:
            raise
        except Exception as exc:
            if watch.expired.is_set():
                pass  # reported below as the deadline
            elif isinstance(exc, Urllib3Timeout | TimeoutError):
                raise FetchError(TIMEOUT, target.url, "read timed out") from None
            elif not ok:
                complete = False  # an error answer's status is what counts, not its body
            else:
                raise FetchError(
                    INCOMPLETE_BODY,
                    target.url,
                    f"body cut short after {received} bytes: {_describe(exc)}",
                    retryable=True,
                ) from None
        if watch.expired.is_set():
            raise FetchError(
                TIMEOUT, target.url, "total deadline exceeded while reading", retryable=False
            )
        following = end.following if end is not None else b""
        if following.strip():  # framing.py: the announced length ended mid-body
            raise FetchError(
                INCOMPLETE_BODY,
                target.url,
                f"Content-Length {length} is shorter than the body: more bytes followed it",
                retryable=False,
            )
        raw_body = b"".join(raw_parts)
        if decoder is not None:
            body = decoder.finish()
        else:
            try:
                body = decode_body(encoding, raw_body, ERROR_BODY_CAP, target.url)
            except FetchError:
                body = b""
        raw = RawResponse(
            url=target.url,
            status=status,
            reason=response.reason or "",
            headers=headers,
            body=body,
            raw_body=raw_body,
            fetched_at=fetched_at,
            truncated=truncated,
            close_delimited=ok and length is None and not response.chunked,
        )
        return raw, complete and truncated is None and not following


def _declared_length(target: Target, headers: list[tuple[str, str]], chunked: bool) -> int | None:
    """The body length the headers announce; unusable framing is ``incomplete_body``."""
    values = [v for k, v in headers if k.lower() == "content-length"]
    if chunked or not values:
        return None
    numbers = set()
    for value in ",".join(values).split(","):
        value = value.strip()
        if not value.isdigit():
            raise FetchError(
                INCOMPLETE_BODY, target.url, f"invalid Content-Length {value[:40]!r}",
                retryable=False,
            )  # fmt: skip
        numbers.add(int(value))
    if len(numbers) > 1:
        raise FetchError(
            INCOMPLETE_BODY,
            target.url,
            f"conflicting Content-Length headers {sorted(numbers)[:4]}",
            retryable=False,
        )
    return numbers.pop()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _closed_by_peer(exc: BaseException) -> bool:
    """Whether the connection was closed or reset by the other side before any answer."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(
            seen, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
        ):
            return True
        nested = [arg for arg in seen.args if isinstance(arg, BaseException)]
        seen = nested[0] if nested else seen.__context__
    return False


def _describe(exc: BaseException) -> str:
    inner = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Exception) else exc
    return type(inner).__name__


def _connect_failure(target: Target, exc: Exception, expired: bool) -> FetchError:
    """Map a failure before the response headers arrived onto the vocabulary."""
    if expired:
        return FetchError(TIMEOUT, target.url, "total deadline exceeded", retryable=False)
    if isinstance(exc, Urllib3SSLError | ssl.SSLError):
        inner = exc.args[0] if exc.args else exc
        why = getattr(inner, "reason", None) or type(inner).__name__
        return FetchError(CONNECT_ERROR, target.url, f"TLS: {why}"[:200], retryable=False)
    if isinstance(exc, ProxyError):
        return FetchError(CONNECT_ERROR, target.url, "proxy failed")
    if isinstance(exc, NewConnectionError):
        return FetchError(CONNECT_ERROR, target.url, "connect: connection failed")
    if isinstance(exc, ReadTimeoutError):
        return FetchError(TIMEOUT, target.url, "read timed out")
    if isinstance(exc, Urllib3Timeout | TimeoutError):
        return FetchError(TIMEOUT, target.url, "connect timed out")
    if isinstance(exc, HTTPError | OSError | http.client.HTTPException):
        return FetchError(CONNECT_ERROR, target.url, f"connection failed: {_describe(exc)}")
    raise exc
