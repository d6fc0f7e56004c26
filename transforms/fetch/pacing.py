"""Per-host pacing inside one worker process: the politeness that grouping by host cannot give.

``GroupByKey`` hands one worker all of a host's URLs; ``HostPacer`` then spaces every request
that goes on the wire to that host (robots.txt, redirects and retries included) by the
configured interval, measured from the end of one request to the start of the next, across
DoFn instances and threads. A server that answers 429/503 with Retry-After has asked for a pause,
not just a retry of that one page: ``hold_off`` records a "not before" time for its origin, and
every later request to that origin from this process (other pages, another DoFn's feed fetch)
waits for it inside the same slot. Its clock and sleep are injectable, so tests check the
schedule without waiting for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit


def host_key(url: str) -> str:
    """Politeness key: the lower-case host name ('' for unparsable URLs, failed later)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class HostPacer:
    """Spaces requests per host within one process; thread-safe.

    One instance per process (``shared_pacer()``) so every DoFn instance and thread on a worker
    agrees. The host's lock is held only while waiting for its slot, so other hosts never wait.
    """

    def __init__(self, clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._not_before: dict[str, float] = {}  # origin -> clock reading it asked us to wait for

    def hold_off(self, origin: str, seconds: float) -> None:
        """Keep ``origin``'s requests off the wire for ``seconds`` from now (its Retry-After).

        Keyed by origin, not host name, because the answer came from that server; a later, shorter
        Retry-After never shortens a pause already asked for. The caller caps ``seconds``.
        """
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            if until > self._not_before.get(origin, float("-inf")):
                self._not_before[origin] = until

    def held_off(self, origin: str) -> float:
        """Seconds ``origin`` still asked us to wait (0 when it asked for nothing or it passed)."""
        with self._lock:
            until = self._not_before.get(origin)
            if until is None:
                return 0.0
            left = until - self._clock()
            if left <= 0:
                del self._not_before[origin]  # passed: the map holds only live pauses
                return 0.0
            return left

    @contextmanager
    def slot(self, host: str, interval: float, origin: str | None = None) -> Iterator[float]:
        """Hold the host for one request: wait until ``interval`` seconds have passed since
        the host's previous request *ended*, yield the seconds waited, and mark the end.

        Measuring from the end (not the start) makes the limit hold as the server sees it,
        whatever the latency; holding the host means one connection per host per process. The
        interval is judged at entry, so a crawl-delay learnt from robots.txt already spaces
        the request that follows robots.txt itself. With ``origin``, a pause that origin asked
        for (``hold_off``) is waited out too, judged after the host's lock is taken, so a request
        queued behind the one that got the Retry-After waits as well.
        """
        with self._lock:
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        with host_lock:
            with self._lock:
                last = self._last.get(host)
            waited = 0.0 if last is None else max(0.0, last + interval - self._clock())
            if origin is not None:
                waited = max(waited, self.held_off(origin))
            if waited > 0:
                self._sleep(waited)
            try:
                yield waited
            finally:
                with self._lock:
                    self._last[host] = self._clock()


_PACER = HostPacer()


def shared_pacer() -> HostPacer:
    return _PACER
