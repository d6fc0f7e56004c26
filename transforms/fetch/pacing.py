"""Per-host pacing inside one worker process: the politeness that grouping by host cannot give.

``GroupByKey`` hands one worker all of a host's URLs; ``HostPacer`` then spaces every request
that goes on the wire to that host (robots.txt, redirects and retries included) by the
configured interval, measured from the end of one request to the start of the next, across
DoFn instances and threads. Its clock and sleep are injectable, so tests check the schedule
without waiting for it.
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

    @contextmanager
    def slot(self, host: str, interval: float) -> Iterator[float]:
        """Hold the host for one request: wait until ``interval`` seconds have passed since
        the host's previous request *ended*, yield the seconds waited, and mark the end.

        Measuring from the end (not the start) makes the limit hold as the server sees it,
        whatever the latency; holding the host means one connection per host per process. The
        interval is judged at entry, so a crawl-delay learnt from robots.txt already spaces
        the request that follows robots.txt itself.
        """
        with self._lock:
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        with host_lock:
            with self._lock:
                last = self._last.get(host)
            waited = 0.0 if last is None else max(0.0, last + interval - self._clock())
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
