"""FetchArticles: turn feed entries into fetched article pages, or dead letters, politely.

Politeness the Beam way: entries are keyed by host and grouped with ``GroupByKey``, so all of a
host's pending URLs (per window) arrive as one element, which one worker fetches, one request
after another. In a batch run that means no two workers ever fetch the same host at once,
whatever the parallelism; in streaming there is one element per host per window (an unbounded,
globally windowed input is put into ``stream_window_secs`` fixed windows for the grouping and
handed on globally windowed again). Within a worker, a process-wide ``HostPacer`` spaces every
request that goes on the wire to one host (robots.txt, redirects and retries included) by
``max(1 / --per_host_rps, robots.txt crawl-delay)``, measured from the end of one request to the
start of the next, also across DoFn instances and threads. Different hosts are fetched
concurrently on a bounded per-worker thread pool (``--fetch_threads``), so total throughput
grows with the number of hosts while each host sees at most the configured rate; nothing sleeps
in a loop shared by all hosts. (``GroupIntoBatches`` is not used: its processing-time timer
forces the DirectRunner onto its legacy engine.)

Network access goes through :class:`transforms.fetch.http.HttpClient` (SSRF guard, caps, retries,
charset, robots.txt). ``--replay`` serves everything from WARC files instead (no pacing: there is
no server to be polite to) with ``fetched_at`` = WARC-Date, so replayed runs repeat byte for
byte; ``--capture_warc`` writes every raw response of a live run for such replays.

``Fetcher`` is the small per-worker facade other stages (feed reading) use for one-off fetches
with the same configuration, replay and capture.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window

from transforms.core.records import DeadLetter, FeedEntry, FetchedPage
from transforms.fetch.http import (
    DEFAULT_USER_AGENT,
    KIND_FEED,
    KIND_PAGE,
    FetchError,
    HttpClient,
    HttpConfig,
    HttpResult,
    Target,
)

LOG = logging.getLogger(__name__)
NAMESPACE = "wirestream"
STAGE = "fetch"

__all__ = [
    "FetchArticles",
    "FetchConfig",
    "FetchError",
    "Fetcher",
    "HostPacer",
    "Response",
    "add_arguments",
    "config_from_options",
    "host_key",
]


@dataclass(frozen=True)
class FetchConfig:
    """Everything the fetch stage (and feed fetching) needs; recorded with the run."""

    replay: str | None = None
    capture_warc: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    max_retries: int = 2
    backoff_base: float = 1.0
    max_retry_after: float = 60.0
    allow_private_networks: bool = False
    respect_robots: bool = True
    max_crawl_delay: float = 60.0
    per_host_rps: float = 1.0
    fetch_threads: int = 16
    stream_window_secs: float = 60.0  # streaming, globally windowed input: host groups per window

    def __post_init__(self) -> None:
        if self.per_host_rps <= 0:
            raise ValueError("--per_host_rps must be positive (requests per second per host)")
        if self.fetch_threads < 1:
            raise ValueError("--fetch_threads must be at least 1")
        if self.replay and self.capture_warc:
            raise ValueError("--capture_warc records live fetches; it cannot be used with --replay")
        self.http_config()  # validates the HTTP knobs (user agent contact, timeouts) early

    @property
    def min_interval(self) -> float:
        return 1.0 / self.per_host_rps

    def http_config(self) -> HttpConfig:
        return HttpConfig(
            user_agent=self.user_agent,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            max_retry_after=self.max_retry_after,
            allow_private_networks=self.allow_private_networks,
            respect_robots=self.respect_robots,
            max_crawl_delay=self.max_crawl_delay,
        )


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


@dataclass(frozen=True)
class Response:
    """A raw fetch for callers that parse bodies themselves (feeds)."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    etag: str | None = None
    last_modified: str | None = None
    text: str = ""
    encoding: str = "utf-8"


class Fetcher:
    """One per worker (build in ``DoFn.setup``): network or replay, same vocabulary either way.

    With ``--capture_warc`` each ``get`` publishes its own WARC file unless the caller manages
    bundles (``bundle_managed=True`` and ``finish_bundle()`` from ``DoFn.finish_bundle``).
    """

    def __init__(
        self,
        config: FetchConfig,
        *,
        pace: bool = True,
        bundle_managed: bool = False,
    ) -> None:
        from transforms.fetch.warc import WarcRecorder, shared_archive

        self.config = config
        self.bundle_managed = bundle_managed
        self.archive = shared_archive(config.replay) if config.replay else None
        self.recorder = WarcRecorder(config.capture_warc) if config.capture_warc else None
        self.pacer = shared_pacer() if pace and self.archive is None else None
        self.client = HttpClient(
            config.http_config(),
            recorder=self.recorder,
            replayer=self.archive,
            pace=self._pace if self.pacer is not None else None,
        )

    def _pace(self, target: Target) -> AbstractContextManager[float]:
        assert self.pacer is not None
        delay = self.client.known_crawl_delay(target) or 0.0
        return self.pacer.slot(target.host, max(self.config.min_interval, delay))

    def fetch(
        self,
        url: str,
        *,
        kind: str = KIND_PAGE,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> HttpResult:
        try:
            return self.client.get(url, kind=kind, etag=etag, last_modified=last_modified)
        finally:
            if self.recorder is not None and not self.bundle_managed:
                self.recorder.close()

    def get(
        self,
        url: str,
        *,
        kind: str = KIND_FEED,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
        """Feed-style fetch: raw body and headers; raises :class:`FetchError`."""
        result = self.fetch(url, kind=kind, etag=etag, last_modified=last_modified)
        return Response(
            url=result.final_url,
            status=result.status,
            headers=dict(result.headers),
            body=result.body,
            fetched_at=result.fetched_at,
            etag=result.etag,
            last_modified=result.last_modified,
            text=result.text,
            encoding=result.encoding,
        )

    def finish_bundle(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def close(self) -> None:
        self.finish_bundle()
        self.client.close()  # the archive is shared by the process and stays open


@dataclass
class _Outcome:
    """What one host task produced, counted and emitted on the bundle's thread."""

    pages: list[FetchedPage] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


class FetchHostBatchFn(beam.DoFn):
    """(host, entries) -> FetchedPage | dead: DeadLetter.

    Hosts run concurrently on a per-worker pool; finished hosts are emitted, with their own
    window, from later ``process`` calls and ``finish_bundle`` on the runner's thread (Beam
    counters only count there), with at most two pool-fulls of hosts held. A host's entries are
    fetched in URL order so a run's request pattern is reproducible.
    """

    DEAD = "dead"

    def __init__(self, config: FetchConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.fetcher = Fetcher(self.config, bundle_managed=True)
        self.pool = ThreadPoolExecutor(
            max_workers=self.config.fetch_threads, thread_name_prefix="wirestream-fetch"
        )
        self.ok = Metrics.counter(NAMESPACE, "fetch_ok")
        self.failed = Metrics.counter(NAMESPACE, "fetch_dead")
        self.hosts = Metrics.counter(NAMESPACE, "fetch_host_batches")
        self.page_bytes = Metrics.distribution(NAMESPACE, "fetch_page_bytes")

    def start_bundle(self) -> None:
        self.pending: list[tuple[Future, Any, Any]] = []

    def process(
        self,
        element: tuple[str, Iterable[FeedEntry]],
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator:
        host, entries = element
        task = self.pool.submit(self._fetch_host, host, list(entries))
        self.pending.append((task, window, timestamp))
        # Emit finished hosts as we go (with their own window), and never hold more than a
        # couple of pool-fulls of hosts' pages in memory.
        yield from self._drain(keep=2 * self.config.fetch_threads)

    def finish_bundle(self) -> Iterator:
        yield from self._drain(keep=0)
        self.fetcher.finish_bundle()  # publish this bundle's WARC file, if capturing

    def _drain(self, keep: int) -> Iterator:
        """Emit every finished host; block on the oldest until at most ``keep`` are pending."""
        from apache_beam.utils.windowed_value import WindowedValue

        while self.pending and (len(self.pending) > keep or self.pending[0][0].done()):
            task, window, timestamp = self.pending.pop(0)
            outcome: _Outcome = task.result()
            self.hosts.inc()
            for page in outcome.pages:
                self.ok.inc()
                self.page_bytes.update(len(page.html))
                yield WindowedValue(page, timestamp, (window,))
            for letter in outcome.dead:
                self.failed.inc()
                Metrics.counter(NAMESPACE, f"fetch_dead_{letter.reason}").inc()
                yield beam.pvalue.TaggedOutput(
                    self.DEAD, WindowedValue(letter, timestamp, (window,))
                )

    def teardown(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        fetcher = getattr(self, "fetcher", None)
        if fetcher is not None:
            fetcher.close()

    def _fetch_host(self, host: str, entries: list[FeedEntry]) -> _Outcome:
        outcome = _Outcome()
        done: dict[str, HttpResult | FetchError] = {}  # same URL twice in a batch: fetch once
        for entry in sorted(entries, key=lambda e: (e.url, e.entry_id)):
            if entry.url not in done:
                try:
                    done[entry.url] = self.fetcher.fetch(entry.url, kind=KIND_PAGE)
                except FetchError as err:
                    done[entry.url] = err
                except Exception as err:  # a bug must cost one dead letter, not the bundle
                    LOG.exception("unexpected error fetching a page of %s", host)
                    done[entry.url] = _unexpected(entry.url, err)
            result = done[entry.url]
            if isinstance(result, FetchError):
                outcome.dead.append(dead_letter(entry, result))
            else:
                outcome.pages.append(fetched_page(entry, result))
        return outcome


def _unexpected(url: str, err: Exception) -> FetchError:
    from transforms.fetch.http import CONNECT_ERROR

    error = FetchError(CONNECT_ERROR, url, f"unexpected {type(err).__name__}", retryable=False)
    error.at = error.at or _now()
    return error


def _now() -> str:
    from transforms.core.records import now_iso

    return now_iso()


def fetched_page(entry: FeedEntry, result: HttpResult) -> FetchedPage:
    return FetchedPage(
        entry=entry,
        final_url=result.final_url,
        status=result.status,
        content_type=result.content_type,
        html=result.text,
        fetched_at=result.fetched_at,
        encoding=result.encoding,
        etag=result.etag,
        last_modified=result.last_modified,
    )


def dead_letter(entry: FeedEntry, err: FetchError) -> DeadLetter:
    return DeadLetter(
        stage=STAGE,
        reason=err.reason,
        url=entry.url,
        error=str(err),
        payload=err.excerpt,
        at=err.at or _now(),
        entry_id=entry.entry_id,
        feed_url=entry.feed_url,
    )


class FetchArticles(beam.PTransform):
    """FeedEntry -> {"ok": FetchedPage, "dead": DeadLetter}, keyed and paced per host."""

    def __init__(self, config: FetchConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, entries):
        config = self.config
        streaming = not entries.is_bounded and isinstance(
            entries.windowing.windowfn, window.GlobalWindows
        )
        if streaming:  # GroupByKey needs finite windows on an unbounded input
            entries = entries | "WindowForPoliteness" >> beam.WindowInto(
                window.FixedWindows(config.stream_window_secs)
            )
        results = (
            entries
            | "KeyByHost" >> beam.Map(lambda entry: (host_key(entry.url), entry))
            | "GroupByHost" >> beam.GroupByKey()
            | "FetchPolitely"
            >> beam.ParDo(FetchHostBatchFn(config)).with_outputs(FetchHostBatchFn.DEAD, main="ok")
        )
        ok, dead = results.ok, results[FetchHostBatchFn.DEAD]
        if streaming:  # hand the next stages the windowing they gave us
            ok = ok | "RestoreWindowsOk" >> beam.WindowInto(window.GlobalWindows())
            dead = dead | "RestoreWindowsDead" >> beam.WindowInto(window.GlobalWindows())
        return {"ok": ok, "dead": dead}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fetching")
    default = FetchConfig()
    group.add_argument(
        "--replay",
        default=None,
        help="Serve every fetch (feeds and pages) from WARC files instead of the network: a "
        "file, a folder (searched recursively) or a glob, local or gs://; fetched_at comes "
        "from the archive, so runs repeat exactly. URLs not in it are dead letters "
        "(not_in_archive).",
    )
    group.add_argument(
        "--capture_warc",
        default=None,
        help="Folder (local or gs://) to write every raw response of this run to, as WARC files "
        "(one per worker bundle), for later --replay.",
    )
    group.add_argument(
        "--http_user_agent",  # Beam itself owns --user_agent
        default=default.user_agent,
        help="User-Agent sent with every request; must carry a contact URL ('+https://...') or "
        "an e-mail address. Also used to match robots.txt rules.",
    )
    group.add_argument(
        "--allow_private_networks",
        action="store_true",
        help="Allow fetching from loopback and private addresses (local testing only; off by "
        "default so feeds cannot point the job at internal services). Cloud metadata "
        "endpoints stay blocked regardless.",
    )
    group.add_argument(
        "--max_bytes",
        type=int,
        default=default.max_bytes,
        help="Largest response body accepted, in bytes, both as received and after gzip/deflate "
        "decoding; larger ones are dead letters (too_large).",
    )
    group.add_argument(
        "--connect_timeout",
        type=float,
        default=default.connect_timeout,
        help="Seconds to wait for DNS and the TCP/TLS connection.",
    )
    group.add_argument(
        "--read_timeout",
        type=float,
        default=default.read_timeout,
        help="Seconds to wait for any single read from the server.",
    )
    group.add_argument(
        "--fetch_deadline",
        type=float,
        default=default.total_timeout,
        help="Total seconds one request may take (a slow trickle cannot exceed it).",
    )
    group.add_argument(
        "--max_redirects",
        type=int,
        default=default.max_redirects,
        help="Redirects followed per fetch; more are dead letters (too_many_redirects).",
    )
    group.add_argument(
        "--max_retries",
        type=int,
        default=default.max_retries,
        help="Retries for transient failures (timeouts, resets, 408/429, 5xx), with exponential "
        "backoff and jitter; Retry-After is honoured up to --max_retry_after.",
    )
    group.add_argument(
        "--max_retry_after",
        type=float,
        default=default.max_retry_after,
        help="Longest Retry-After (seconds) worth waiting for; longer ones fail the fetch.",
    )
    group.add_argument(
        "--per_host_rps",
        type=float,
        default=default.per_host_rps,
        help="Requests per second allowed to any one host (robots.txt crawl-delay can only "
        "lower it).",
    )
    group.add_argument(
        "--max_crawl_delay",
        type=float,
        default=default.max_crawl_delay,
        help="A robots.txt crawl-delay above this many seconds makes the host's pages dead "
        "letters (robots_disallowed) instead of stalling the job.",
    )
    group.add_argument(
        "--ignore_robots",
        action="store_true",
        help="Do not fetch or honour robots.txt (only for sites you operate).",
    )
    group.add_argument(
        "--fetch_threads",
        type=int,
        default=default.fetch_threads,
        help="Hosts fetched concurrently per worker process.",
    )


def config_from_options(options) -> FetchConfig:
    """Read the flags back, with preflight checks whose messages say how to fix them."""
    opts = options.get_all_options()
    default = FetchConfig()

    def pick(name: str, fallback: Any) -> Any:
        value = opts.get(name)
        return fallback if value is None else value

    config = FetchConfig(
        replay=opts.get("replay"),
        capture_warc=opts.get("capture_warc"),
        user_agent=pick("http_user_agent", default.user_agent),
        connect_timeout=float(pick("connect_timeout", default.connect_timeout)),
        read_timeout=float(pick("read_timeout", default.read_timeout)),
        total_timeout=float(pick("fetch_deadline", default.total_timeout)),
        max_bytes=int(pick("max_bytes", default.max_bytes)),
        max_redirects=int(pick("max_redirects", default.max_redirects)),
        max_retries=int(pick("max_retries", default.max_retries)),
        max_retry_after=float(pick("max_retry_after", default.max_retry_after)),
        allow_private_networks=bool(opts.get("allow_private_networks")),
        respect_robots=not opts.get("ignore_robots"),
        max_crawl_delay=float(pick("max_crawl_delay", default.max_crawl_delay)),
        per_host_rps=float(pick("per_host_rps", default.per_host_rps)),
        fetch_threads=int(pick("fetch_threads", default.fetch_threads)),
    )
    if config.replay:
        from transforms.fetch.warc import find_warc_files

        if not find_warc_files(config.replay):
            raise ValueError(
                f"--replay {config.replay}: no .warc or .warc.gz file there; pass a WARC file, a "
                "folder of them or a glob"
            )
    return config
