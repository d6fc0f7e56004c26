"""HttpClient: the fetch policy (redirects, meta refresh, retries, robots.txt, content checks)
over the transport. One per worker, thread-safe; see the package docstring for the API."""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urljoin

from transforms.core.records import now_iso, stable_hash
from transforms.fetch.http.body import (
    ACCEPT_ENCODING,
    KIND_FEED,
    KIND_PAGE,
    KIND_ROBOTS,
    KINDS,
    MAX_REFRESH_DELAY,
    check_feed_type,
    check_page_type,
    decode_text,
    excerpt,
    media_type,
    meta_refresh,
)
from transforms.fetch.http.errors import (
    BAD_CHARSET,
    BAD_ENCODING,
    BAD_URL,
    CONNECT_ERROR,
    HOST_UNRESPONSIVE,
    HTTP_4XX,
    HTTP_5XX,
    INCOMPLETE_BODY,
    NOT_FEED,
    NOT_HTML,
    TIMEOUT,
    TOO_LARGE,
    TOO_MANY_REDIRECTS,
    FetchError,
)
from transforms.fetch.http.guard import AddressGuard, Resolver, Target, parse_target
from transforms.fetch.http.response import (
    HttpConfig,
    RawResponse,
    Recorder,
    Replayer,
    Response,
)
from transforms.fetch.http.robots import RobotsCache
from transforms.fetch.http.transport import Transport

logger = logging.getLogger(__name__)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The host itself failing (no answer, an overloaded or rate-limiting answer), as opposed to an
# answer about one page (_ANSWERED: the host is up), or no request at all (robots.txt, guard).
_HOST_FAILURES = frozenset({TIMEOUT, CONNECT_ERROR, HTTP_5XX})
_ANSWERED = frozenset(
    {
        HTTP_4XX,  # 429 aside, checked first
        TOO_LARGE,
        INCOMPLETE_BODY,
        NOT_HTML,
        NOT_FEED,
        BAD_CHARSET,
        BAD_ENCODING,
        TOO_MANY_REDIRECTS,
    }
)
_RETRYABLE_4XX = frozenset({408, 429})
_ACCEPT = {
    KIND_PAGE: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    KIND_FEED: (
        "application/rss+xml,application/atom+xml,application/rdf+xml,"
        "application/feed+json,application/xml;q=0.9,text/xml;q=0.9,"
        "application/json;q=0.8,*/*;q=0.1"
    ),
    KIND_ROBOTS: "text/plain,*/*;q=0.1",
}


class HttpClient:
    """One instance per worker; safe to share between threads."""

    def __init__(
        self,
        config: HttpConfig | None = None,
        *,
        recorder: Recorder | None = None,
        replayer: Replayer | None = None,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        pace: Callable[[Target], AbstractContextManager[Any]] | None = None,
        hold_off: Callable[[Target, float], None] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config = config or HttpConfig()
        # Entered around every exchange that goes on the wire (robots.txt, redirects and retries
        # included), so a per-host rate limit cannot be bypassed by any of them.
        self._pace = pace
        # Told of every Retry-After waited for, so the pacing keeps the host's *other* requests
        # off the wire until then too (the retry of the page itself sleeps here, as before).
        self._hold_off = hold_off
        self.recorder = recorder
        self.replayer = replayer
        self._sleep = sleep
        self._clock = clock
        self.guard = AddressGuard(
            allow_private_networks=config.allow_private_networks,
            allowed_networks=config.allowed_networks,
            connect_timeout=config.connect_timeout,
            resolver=resolver,
            clock=clock,
        )
        self.transport = Transport(config, proxies=proxies, clock=clock)
        self.robots = RobotsCache(
            self._robots_text,
            user_agent=config.user_agent,
            max_crawl_delay=config.max_crawl_delay,
            size=config.robots_cache_size,
            ttl=config.robots_ttl,
            failure_ttl=config.robots_failure_ttl,
            clock=clock,
            on_event=self._event,
        )
        self._events: Counter[str] = Counter()
        self._events_lock = threading.Lock()
        # origin -> (requests timed out in a row, clock reading when the host was given up,
        # up to two of the URLs that timed out)
        self._timeouts: dict[str, tuple[int, float, frozenset[str]]] = {}
        # origin -> (transient failures in a row, up to two of their URLs): retries stop there
        self._failures: dict[str, tuple[int, frozenset[str]]] = {}

    def close(self) -> None:
        self.guard.close()
        self.transport.close()

    # -- public --------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        kind: str = KIND_PAGE,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
        """Fetch ``url`` following redirects, retrying transient failures; see package docs."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        attempt = 0
        previous: FetchError | None = None
        while True:
            try:
                result = self._get_once(url, kind=kind, etag=etag, last_modified=last_modified)
            except FetchError as exc:
                self._stamp(exc)
                if exc.reason == HOST_UNRESPONSIVE and previous is not None:
                    raise previous from None  # this URL's own timeouts gave the host up
                previous = exc
                self._note_outcome(url, exc)
                if self.replayer is not None or not exc.retryable:
                    raise
                failing = self._failing_streak(url)
                if not failing:
                    # a host in a storm gets no Retry-After waits (below), for other pages neither
                    self._hold_host(exc)
                if attempt >= self.config.max_retries:
                    raise
                if failing:
                    # Every request to the host has failed lately, on more than one of its
                    # URLs: each page still gets its own request (its own outcome), but no
                    # retries and no Retry-After waits, which a host in a 429/503 storm would
                    # otherwise cost every one of its pages, one after another.
                    self._event("retries_skipped_failing_host")
                    raise exc.not_retried(
                        f"not retried: the host's last {failing} requests failed"
                    ) from None
                delay = backoff_delay(self.config, url, attempt)
                if exc.retry_after is not None:
                    if exc.retry_after > self.config.max_retry_after:
                        # Not waited for (a worker would sit idle for hours): one dead letter
                        # naming the wait, and a counter, so the cap never passes silently.
                        self._event("retry_after_over_cap")
                        raise exc.not_retried(
                            f"Retry-After {exc.retry_after:.0f}s is over "
                            f"max_retry_after {self.config.max_retry_after:g}s: not waited for"
                        ) from None
                    delay = max(delay, exc.retry_after)
                attempt += 1
                logger.info(
                    "retry %d/%d in %.2fs after %s", attempt, self.config.max_retries, delay, exc
                )
                self._sleep(delay)
            else:
                self._note_outcome(url, None)
                return result

    def known_crawl_delay(self, target: Target) -> float | None:
        """The crawl-delay of an origin whose robots.txt is already cached (no network)."""
        rules = self.robots.known(target.origin)
        return rules.crawl_delay(self.config.user_agent) if rules is not None else None

    def crawl_delay(self, url: str) -> float | None:
        """robots.txt crawl-delay for this URL's host (fetching robots.txt if needed)."""
        if self.replayer is not None or not self.config.respect_robots:
            return None
        try:
            rules = self.robots.rules(parse_target(url))
        except FetchError:
            return None
        return rules.crawl_delay(self.config.user_agent)

    def take_events(self) -> dict[str, int]:
        """Counts of noteworthy outcomes since the last call (robots_truncated, meta_refresh),
        for the stage to turn into Beam counters on its own thread."""
        with self._events_lock:
            events, self._events = dict(self._events), Counter()
        return events

    # -- internals -----------------------------------------------------------------------------

    def _hold_host(self, error: FetchError) -> None:
        """Pass a live Retry-After within ``max_retry_after`` to the pacing, for the origin that
        answered (after redirects). One over the cap is not passed on: that page ends with the
        wait named (``retry_after_over_cap``) and the host's other pages are still asked, each
        for its own answer, so no request ever waits past the cap for a pause."""
        seconds = error.retry_after
        if self._hold_off is None or self.replayer is not None or seconds is None:
            return
        if seconds > self.config.max_retry_after:
            return
        try:
            target = parse_target(error.url)
        except FetchError:
            return
        self._hold_off(target, seconds)

    def _event(self, name: str) -> None:
        with self._events_lock:
            self._events[name] += 1

    def _stamp(self, error: FetchError) -> None:
        """Date an error that has none: now when live, the archive's own date in replay."""
        if error.at is None:
            archived = getattr(self.replayer, "archived_at", None)
            error.at = archived if self.replayer is not None and archived else now_iso()

    def _request_headers(
        self, kind: str, etag: str | None, last_modified: str | None
    ) -> list[tuple[str, str]]:
        headers = [
            ("User-Agent", self.config.user_agent),
            ("Accept", _ACCEPT[kind]),
            ("Accept-Encoding", ACCEPT_ENCODING),
        ]
        if etag:
            headers.append(("If-None-Match", etag))
        if last_modified:
            headers.append(("If-Modified-Since", last_modified))
        return headers

    def _robots_text(self, origin: str) -> tuple[str, bool]:
        result = self.get(f"{origin}/robots.txt", kind=KIND_ROBOTS)
        return result.text, len(result.body) >= self.config.robots_max_bytes

    def _get_once(
        self, url: str, *, kind: str, etag: str | None, last_modified: str | None
    ) -> Response:
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
                if len(chain) > self.config.max_redirects:
                    raise FetchError(
                        TOO_MANY_REDIRECTS, url, f"more than {self.config.max_redirects} redirects"
                    )
            except FetchError as exc:
                exc.at = exc.at or last_at
                raise
            chain.append(target.url)
            raw = self._hop(target, kind, request_headers, limit)
            last_at = raw.fetched_at
            location = raw.header("Location")
            if raw.status in _REDIRECT_STATUSES and location:
                try:
                    current = urljoin(target.url, location.strip())
                except ValueError as exc:  # "http://[::1": the redirect names no usable URL
                    raise FetchError(
                        BAD_URL, url, f"redirect to a malformed URL: {exc}", at=raw.fetched_at
                    ) from None
                continue
            result = self._finish(url, target, raw, kind, tuple(chain[:-1]), etag or last_modified)
            refresh = self._refresh_target(result, kind)
            if refresh is None:
                return result
            self._event("meta_refresh")
            current = refresh

    def _refresh_target(self, result: Response, kind: str) -> str | None:
        """Where a ``<meta http-equiv=refresh>`` page sends us, when that is a redirect: under
        ``MAX_REFRESH_DELAY`` seconds, to another http(s) URL. The hop that follows is vetted,
        paced, recorded and counted against ``max_redirects`` like any redirect."""
        if kind != KIND_PAGE or not self.config.follow_meta_refresh or result.status != 200:
            return None
        found = meta_refresh(result.text, result.final_url)
        if found is None:
            return None
        delay, url = found
        if delay >= MAX_REFRESH_DELAY or not url.lower().startswith(("http://", "https://")):
            return None
        if url.split("#", 1)[0] == result.final_url.split("#", 1)[0]:
            return None  # a reload of the same page
        return url

    def _hop(
        self, target: Target, kind: str, request_headers: list[tuple[str, str]], limit: int
    ) -> RawResponse:
        """One request/response; failures are recorded (capture) before they propagate."""
        try:
            if self.replayer is not None:
                return self.replayer.exchange(target.url, limit)
            if kind == KIND_PAGE and self.config.respect_robots:
                self.robots.check(target)
            raw = self._exchange(target, kind, request_headers, limit)
        except FetchError as exc:
            self._stamp(exc)
            if self.recorder is not None and self.replayer is None:
                self.recorder.record_error(target.url, exc)
            raise
        if self.recorder is not None:
            self.recorder.record_response(raw, request_headers)
        return raw

    def _exchange(
        self, target: Target, kind: str, request_headers: list[tuple[str, str]], limit: int
    ) -> RawResponse:
        self._check_responsive(target)
        address = self.guard.vet(target, self._clock() + self.config.total_timeout)
        if self.transport.proxy_for(target) is not None:
            address = None  # vetted, but the proxy connects by name
        # Paced after the guard (refusals cost no wait) and around the whole exchange, so a
        # host's next request can only start once this one has ended.
        try:
            with self._pace(target) if self._pace is not None else contextlib.nullcontext():
                raw = self.transport.exchange(
                    target, address, request_headers, limit, truncate=kind == KIND_ROBOTS
                )
        except FetchError as exc:
            if exc.reason == TIMEOUT:
                self._timed_out(target)
            raise
        with self._events_lock:
            self._timeouts.pop(target.origin, None)  # it answered: the streak is over
        return raw

    def _note_outcome(self, url: str, error: FetchError | None) -> None:
        """Track, per origin, the host's own failures in a row (timeouts, resets, 5xx, 429) and
        up to two of their URLs. A response, or an answer about one page (404, a cut or
        oversized body, a PDF), shows the host is up and ends the run; errors with no request
        behind them (robots.txt rules, the guard) change nothing."""
        try:
            origin = parse_target(url).origin
        except FetchError:
            return
        with self._events_lock:
            if error is None or (error.reason in _ANSWERED and error.status != 429):
                self._failures.pop(origin, None)
            elif error.reason in _HOST_FAILURES or error.status == 429:
                streak, urls = self._failures.get(origin, (0, frozenset()))
                urls = urls if len(urls) >= 2 else urls | {url}
                self._failures[origin] = (streak + 1, urls)

    def _failing_streak(self, url: str) -> int:
        """The host's transient failures in a row when they reach ``host_max_timeouts`` on two
        or more of its URLs, else 0."""
        try:
            origin = parse_target(url).origin
        except FetchError:
            return 0
        with self._events_lock:
            streak, urls = self._failures.get(origin, (0, frozenset()))
        return streak if streak >= self.config.host_max_timeouts and len(urls) >= 2 else 0

    def _check_responsive(self, target: Target) -> None:
        """Refuse, without a request, a host given up: ``host_max_timeouts`` timeouts in a row,
        on at least two of its URLs. A host that stalls every request would otherwise cost each
        of its pages its timeouts and retries, one page after another on the worker that holds
        its group. Two URLs, because one page whose backend hangs (its own retries are three
        timeouts in a row) says nothing about the host's other pages. After
        ``host_giveup_ttl`` one request probes the host again."""
        with self._events_lock:
            streak, since, urls = self._timeouts.get(target.origin, (0, 0.0, frozenset()))
        if self._given_up(streak, urls) and self._clock() - since < self.config.host_giveup_ttl:
            raise FetchError(
                HOST_UNRESPONSIVE,
                target.url,
                f"not requested: {target.origin}'s last {streak} requests timed out",
                retryable=False,
            )

    def _given_up(self, streak: int, urls: frozenset[str]) -> bool:
        return streak >= self.config.host_max_timeouts and len(urls) >= 2

    def _timed_out(self, target: Target) -> None:
        with self._events_lock:
            streak, since, urls = self._timeouts.get(target.origin, (0, 0.0, frozenset()))
            was = self._given_up(streak, urls)
            streak += 1
            urls = urls if len(urls) >= 2 else urls | {target.url}
            if self._given_up(streak, urls):
                since = self._clock()
                if not was:
                    self._events["host_gave_up"] += 1
            self._timeouts[target.origin] = (streak, since, urls)

    def _finish(
        self,
        url: str,
        target: Target,
        raw: RawResponse,
        kind: str,
        redirects: tuple[str, ...],
        conditional: str | None,
    ) -> Response:
        status = raw.status
        if raw.truncated and kind != KIND_ROBOTS:
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
            return _response(url, target, raw, redirects, b"", "", "", "none")
        _raise_for_status(target, raw)
        mime, charset = media_type(raw.header("Content-Type"))
        body = raw.body
        if kind == KIND_PAGE:
            check_page_type(target.url, mime, body, raw.fetched_at, charset)
        elif kind == KIND_FEED:
            check_feed_type(target.url, mime, body, raw.fetched_at, charset)
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
        if kind == KIND_PAGE and _cut_at_close(raw, text):
            raise FetchError(
                INCOMPLETE_BODY,
                target.url,
                "body delimited only by the connection closing, and its HTML never ends "
                "(no </body> or </html>): cut short",
                retryable=True,
                at=raw.fetched_at,
            )
        return _response(url, target, raw, redirects, body, mime, text, codec, source)


_HTML_END = re.compile(r"</(?:body|html)\s*>", re.IGNORECASE)


def _cut_at_close(raw: RawResponse, text: str) -> bool:
    """A close-delimited page (no Content-Length, not chunked, not compressed) that stops
    before its HTML ends. Such a body's length is "whatever arrived before the connection
    closed" (RFC 9112 section 6.3), so a connection dropped mid-page looks complete to HTTP;
    the missing end of the document is the only sign left. A compressed body proves itself
    by its stream's end marker, a framed one by its length or last chunk. The framing is the
    transport's finding (kept in the WARC record, so a replay decides the same)."""
    if not raw.close_delimited:
        return False
    encoding = (raw.header("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("", "identity"):
        return False
    return _HTML_END.search(text) is None


def _raise_for_status(target: Target, raw: RawResponse) -> None:
    status = raw.status
    if 200 <= status < 300:
        return
    if 300 <= status < 400:  # 300/305/306, or a redirect without Location: nothing to follow
        raise FetchError(
            HTTP_4XX, target.url, "unusable redirect", status=status, at=raw.fetched_at
        )
    snippet = excerpt(raw.body)
    if 400 <= status < 500:
        retry_after = retry_after_seconds(raw.header("Retry-After")) if status == 429 else None
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
    retry_after = retry_after_seconds(raw.header("Retry-After")) if status == 503 else None
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


def _response(
    url: str,
    target: Target,
    raw: RawResponse,
    redirects: tuple[str, ...],
    body: bytes,
    mime: str,
    text: str,
    codec: str,
    source: str = "",
) -> Response:
    headers = tuple(
        (k.lower(), v) for k, v in raw.headers if k.lower() not in ("set-cookie", "set-cookie2")
    )
    return Response(
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


def backoff_delay(config: HttpConfig, url: str, attempt: int) -> float:
    """Exponential backoff with jitter in [50%, 100%] of the step, seeded by URL and attempt so
    the schedule is the same on every run and worker (no shared RNG, no wall clock)."""
    rng = random.Random(stable_hash(url, str(attempt)))
    ceiling = min(config.backoff_max, config.backoff_base * (2**attempt))
    return ceiling * (0.5 + 0.5 * rng.random())


def retry_after_seconds(value: str | None) -> float | None:
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
