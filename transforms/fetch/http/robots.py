"""robots.txt per origin (RFC 9309): fetched once, cached with a TTL, shared by threads.

* 4xx means no rules; 5xx (after retries) or a damaged file means assume complete disallow
  (counted, ``robots_disallow_all``) until robots.txt is asked again after
  ``robots_failure_ttl``; a host that cannot be reached at all fails its pages with the same
  reason for as long, instead of each page retrying again.
* A file larger than ``robots_max_bytes`` (500 KiB, the RFC's minimum) is not "no rules": its
  first 500 KiB are parsed, cut at the last complete line, and the cut is counted
  (``robots_truncated``), so a long file's ``Disallow`` lines still hold.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transforms.fetch.http.errors import (
    BAD_CHARSET,
    BAD_ENCODING,
    BAD_URL,
    BLOCKED_ADDRESS,
    CONNECT_ERROR,
    DNS_ERROR,
    HOST_UNRESPONSIVE,
    HTTP_4XX,
    INCOMPLETE_BODY,
    NOT_FEED,
    NOT_HTML,
    ROBOTS_DISALLOWED,
    TIMEOUT,
    TOO_LARGE,
    FetchError,
)
from transforms.fetch.http.guard import Target

logger = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 500 * 1024


@dataclass
class RobotsRules:
    parser: Any = None  # protego.Protego, or None for allow-all / disallow-all
    disallow_all: bool = False
    note: str = ""
    expires: float = 0.0  # clock reading after which robots.txt is fetched again
    unreachable: tuple[str, str] | None = None  # (reason, detail) when the host is unreachable
    failed: bool = False  # disallow-all because robots.txt answered 5xx or arrived damaged

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.disallow_all:
            return False
        return True if self.parser is None else bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None


def parse_robots(text: str, truncated: bool) -> RobotsRules:
    """Rules from robots.txt text; a cut file loses only its partial last line."""
    from protego import Protego

    if truncated and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    try:
        return RobotsRules(parser=Protego.parse(text))
    except Exception as exc:  # protego raises assorted errors on garbage; no rules then
        logger.warning("unparsable robots.txt: %s", type(exc).__name__)
        return RobotsRules()


# fetch(origin) -> (robots.txt text, whether it was cut at the size limit); raises FetchError
RobotsFetch = Callable[[str], tuple[str, bool]]


class RobotsCache:
    """LRU of origins' rules; one fetch per origin even when threads race."""

    def __init__(
        self,
        fetch: RobotsFetch,
        *,
        user_agent: str,
        max_crawl_delay: float,
        size: int,
        ttl: float,
        failure_ttl: float,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[str], None] = lambda name: None,
    ) -> None:
        self._fetch = fetch
        self.user_agent = user_agent
        self.max_crawl_delay = max_crawl_delay
        self.size = size
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self._clock = clock
        self._on_event = on_event
        self._rules: OrderedDict[str, RobotsRules] = OrderedDict()
        self._lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}

    def check(self, target: Target) -> None:
        """Raise ``robots_disallowed`` (or the host's failure) unless the page may be fetched."""
        try:
            rules = self.rules(target)
        except FetchError as exc:  # the host itself is unusable: report it for the page
            # robots.txt was already retried; retrying the page too would multiply attempts
            raise FetchError(exc.reason, target.url, exc.detail, retryable=False) from None
        if rules.unreachable is not None:  # already retried: fail fast for a while
            reason, detail = rules.unreachable
            raise FetchError(reason, target.url, f"host unreachable: {detail}", retryable=False)
        if not rules.allowed(target.url, self.user_agent):
            raise FetchError(
                ROBOTS_DISALLOWED, target.url, rules.note or "disallowed by robots.txt"
            )
        delay = rules.crawl_delay(self.user_agent)
        if delay is not None and delay > self.max_crawl_delay:
            raise FetchError(
                ROBOTS_DISALLOWED,
                target.url,
                f"crawl-delay {delay:g}s exceeds max_crawl_delay {self.max_crawl_delay:g}s",
            )

    def known(self, origin: str) -> RobotsRules | None:
        with self._lock:
            return self._rules.get(origin)

    def rules(self, target: Target) -> RobotsRules:
        origin = target.origin
        with self._lock:
            cached = self._rules.get(origin)
            if cached is not None and cached.expires > self._clock():
                self._rules.move_to_end(origin)
                return cached
            lock = self._origin_locks.setdefault(origin, threading.Lock())
        with lock:
            with self._lock:
                cached = self._rules.get(origin)
            if cached is not None and cached.expires > self._clock():
                return cached
            rules = self._load(origin)
            # RFC 9309 2.4: rules are cached for up to 24 hours, "unless the robots.txt file is
            # unreachable": an unreachable host and a 5xx/damaged file (complete disallow) are
            # asked again after failure_ttl, so a host that recovers is crawled again.
            failed = rules.unreachable is not None or rules.failed
            rules.expires = self._clock() + (self.failure_ttl if failed else self.ttl)
            with self._lock:
                self._rules[origin] = rules
                while len(self._rules) > self.size:
                    evicted, _ = self._rules.popitem(last=False)
                    self._origin_locks.pop(evicted, None)
            return rules

    def _load(self, origin: str) -> RobotsRules:
        try:
            text, truncated = self._fetch(origin)
        except FetchError as exc:
            if exc.reason == HTTP_4XX and exc.status != 429:
                return RobotsRules()
            unreachable = (
                DNS_ERROR,
                BLOCKED_ADDRESS,
                BAD_URL,
                CONNECT_ERROR,
                TIMEOUT,
                HOST_UNRESPONSIVE,
            )
            if exc.reason in unreachable:
                return RobotsRules(unreachable=(exc.reason, exc.detail))
            if exc.reason in (TOO_LARGE, NOT_FEED, NOT_HTML, BAD_CHARSET):
                return RobotsRules(note=f"robots.txt unusable ({exc.reason}); no rules")
            if exc.reason in (BAD_ENCODING, INCOMPLETE_BODY):
                # A damaged file may have lost exactly its Disallow lines: assume the worst.
                self._on_event("robots_disallow_all")
                return RobotsRules(
                    disallow_all=True,
                    note=f"robots.txt damaged ({exc.reason}): disallow all",
                    failed=True,
                )
            self._on_event("robots_disallow_all")
            return RobotsRules(
                disallow_all=True,
                note=f"robots.txt unreachable ({exc.reason}): disallow all",
                failed=True,
            )
        if truncated:
            self._on_event("robots_truncated")
            logger.warning(
                "robots.txt of %s is over %d bytes: parsing its first %d",
                origin,
                ROBOTS_MAX_BYTES,
                ROBOTS_MAX_BYTES,
            )
        return parse_robots(text, truncated)
