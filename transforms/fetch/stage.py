"""FetchArticles: turn feed entries into fetched article pages, or dead letters, politely.

Politeness the Beam way: entries are keyed by host and grouped with ``GroupByKey``, so all of a
host's pending URLs (per window) arrive as one element, which one worker fetches, one request
after another. In a batch run that means no two workers ever fetch the same host at once,
whatever the parallelism; in streaming there is one element per host per window (an unbounded,
globally windowed input is put into ``stream_window_secs`` fixed windows for the grouping and
handed on globally windowed again). Within a worker, a process-wide ``HostPacer`` spaces every
request that goes on the wire to one host (robots.txt, redirects and retries included) by
``max(1 / --per_host_rps, robots.txt crawl-delay)``, measured from the end of one request to the
start of the next, also across DoFn instances and threads, and holds them back while a pause the
host asked for with Retry-After lasts. Different hosts are fetched
concurrently on a bounded per-worker thread pool (``--fetch_threads``), so total throughput
grows with the number of hosts while each host sees at most the configured rate; nothing sleeps
in a loop shared by all hosts. (``GroupIntoBatches`` is not used: its processing-time timer
forces the DirectRunner onto its legacy engine.)

In batch runs extraction is not fused behind that grouping: a ``Reshuffle`` after fetching
spreads the pages over all workers again, so a feed list dominated by one host is fetched
politely by one worker but extracted by all of them. (Streaming keeps the fused form: there
each pane holds one host's pages of one window, and the Reshuffle's regrouping made pages
late for the event-time windows downstream.)

Network access goes through :class:`transforms.fetch.http.HttpClient` (SSRF guard, caps, retries,
charset, robots.txt, keep-alive). Flags and ``FetchConfig`` live in ``transforms.fetch.config``,
per-host pacing in ``transforms.fetch.pacing``. ``--replay`` serves everything from WARC files
instead (no pacing: there is no server to be polite to) with ``fetched_at`` = WARC-Date, so
replayed runs repeat byte for byte; ``--capture_warc`` writes every raw response of a live run
for such replays.

``Fetcher`` is the small per-worker facade other stages (feed reading) use for one-off fetches
with the same configuration, replay and capture.
"""

from __future__ import annotations

import logging
import pickle
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window

from transforms.core import memory
from transforms.core.records import DeadLetter, FeedEntry, FetchedPage
from transforms.fetch.config import FetchConfig, add_arguments, config_from_options
from transforms.fetch.http import (
    CONNECT_ERROR,
    KIND_FEED,
    KIND_PAGE,
    FetchError,
    HttpClient,
    Response,
    Target,
)
from transforms.fetch.pacing import HostPacer, host_key, shared_pacer

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
            hold_off=self._hold_off if self.pacer is not None else None,
        )
        self._events: Counter[str] = Counter()
        self._events_lock = threading.Lock()

    def _pace(self, target: Target) -> AbstractContextManager[float]:
        assert self.pacer is not None
        delay = self.client.known_crawl_delay(target) or 0.0
        if self.pacer.held_off(target.origin) > 0:
            # a request that waits for the pause its host asked for (a Retry-After it gave
            # this or another page of this process), counted as fetch_retry_after_host_waits
            with self._events_lock:
                self._events["retry_after_host_waits"] += 1
        return self.pacer.slot(
            target.host, max(self.config.min_interval, delay), origin=target.origin
        )

    def _hold_off(self, target: Target, seconds: float) -> None:
        assert self.pacer is not None
        self.pacer.hold_off(target.origin, seconds)

    def fetch(
        self,
        url: str,
        *,
        kind: str = KIND_PAGE,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
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
        """A feed document (``fetch`` with ``kind="feed"``); raises :class:`FetchError`."""
        return self.fetch(url, kind=kind, etag=etag, last_modified=last_modified)

    def take_events(self) -> dict[str, int]:
        """Client outcomes worth a counter (robots_truncated, meta_refresh, and the pacing's
        retry_after_host_waits) since the last call."""
        events = Counter(self.client.take_events())
        with self._events_lock:
            events.update(self._events)
            self._events = Counter()
        return dict(events)

    def finish_bundle(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def close(self) -> None:
        self.finish_bundle()
        self.client.close()  # the archive is shared by the process and stays open


@dataclass
class _Outcome:
    """What one host task produced, counted and emitted on the bundle's thread."""

    pages: list[FetchedPage | bytes] = field(default_factory=list)  # bytes: ``pack_page``'d
    page_sizes: list[int] = field(default_factory=list)  # characters of each page's markup
    dead: list[DeadLetter] = field(default_factory=list)


class FetchHostBatchFn(beam.DoFn):
    """(host, entries) -> FetchedPage (``pack_page``'d with ``pack``) | dead: DeadLetter.

    Hosts run concurrently on a per-worker pool; finished hosts are emitted, with their own
    window, from later ``process`` calls and ``finish_bundle`` on the runner's thread (Beam
    counters only count there), with at most two pool-fulls of hosts held. A host's entries are
    fetched in URL order so a run's request pattern is reproducible.
    """

    DEAD = "dead"

    def __init__(self, config: FetchConfig, pack: bool = False) -> None:
        self.config = config
        # Batch runs hand the pages to the fan-out's shuffle: packed on the fetch thread, the
        # pages of every pending host are held (here and in the shuffle) compressed.
        self.pack = pack

    def setup(self) -> None:
        memory.return_large_blocks()  # freed pages leave the process (transforms/core/memory.py)
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
            for page, size in zip(outcome.pages, outcome.page_sizes, strict=True):
                self.ok.inc()
                self.page_bytes.update(size)
                yield WindowedValue(page, timestamp, (window,))
            for letter in outcome.dead:
                self.failed.inc()
                Metrics.counter(NAMESPACE, f"fetch_dead_{letter.reason}").inc()
                yield beam.pvalue.TaggedOutput(
                    self.DEAD, WindowedValue(letter, timestamp, (window,))
                )
        for name, count in self.fetcher.take_events().items():
            Metrics.counter(NAMESPACE, f"fetch_{name}").inc(count)

    def teardown(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        fetcher = getattr(self, "fetcher", None)
        if fetcher is not None:
            fetcher.close()

    def _fetch_host(self, host: str, entries: list[FeedEntry]) -> _Outcome:
        outcome = _Outcome()
        done: dict[str, Response | FetchError] = {}  # same URL twice in a batch: fetch once
        for entry in sorted(entries, key=lambda e: (e.url, e.entry_id)):
            if entry.url not in done:
                try:
                    response = self.fetcher.fetch(entry.url, kind=KIND_PAGE)
                    # kept without its raw bytes: a page needs only the decoded text, and the
                    # host's responses are held until its last page is fetched
                    done[entry.url] = replace(response, body=b"")
                except FetchError as err:
                    done[entry.url] = err
                except Exception as err:  # a bug must cost one dead letter, not the bundle
                    LOG.exception("unexpected error fetching a page of %s", host)
                    done[entry.url] = _unexpected(entry.url, err)
            result = done[entry.url]
            if isinstance(result, FetchError):
                outcome.dead.append(dead_letter(entry, result))
            else:
                page = fetched_page(entry, result)
                outcome.pages.append(pack_page(page) if self.pack else page)
                outcome.page_sizes.append(len(page.html))
        return outcome


def _unexpected(url: str, err: Exception) -> FetchError:
    error = FetchError(CONNECT_ERROR, url, f"unexpected {type(err).__name__}", retryable=False)
    error.at = error.at or _now()
    return error


def _now() -> str:
    from transforms.core.records import now_iso

    return now_iso()


def fetched_page(entry: FeedEntry, result: Response) -> FetchedPage:
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
            >> beam.ParDo(FetchHostBatchFn(config, pack=entries.is_bounded)).with_outputs(
                FetchHostBatchFn.DEAD, main="ok"
            )
        )
        ok, dead = results.ok, results[FetchHostBatchFn.DEAD]
        if streaming:  # hand the next stages the windowing they gave us
            ok = ok | "RestoreWindowsOk" >> beam.WindowInto(window.GlobalWindows())
            dead = dead | "RestoreWindowsDead" >> beam.WindowInto(window.GlobalWindows())
        if entries.is_bounded:
            # Undo the per-host grouping for whatever follows: without it the runner fuses
            # extraction into FetchPolitely and one host's pages are extracted on one worker.
            # Not in streaming: the Reshuffle's global-window regrouping let pages fall behind
            # the watermark there and be dropped as late by the event-time windows downstream.
            ok = ok | "FanOutPages" >> FanOutPages()
        return {"ok": ok, "dead": dead}


def pack_page(page: FetchedPage) -> bytes:
    """A page as the bytes that cross the fan-out: its pickle, zlib-compressed (level 1).

    Every page of a batch run stands in the shuffle at once: the DirectRunner holds them in the
    launcher's memory (decoded, then encoded again for the next stage), Dataflow's shuffle
    stores and moves them. Markup compresses about fourfold at level 1 for ~1 ms of CPU per
    page; alone, this lowered a one-worker run's peak at 354 benchmark pages by 90 MB.
    """
    return zlib.compress(pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack_page(packed: bytes) -> FetchedPage:
    """The page ``pack_page`` packed (only pages this stage packed are ever unpacked)."""
    page = pickle.loads(zlib.decompress(packed))
    if not isinstance(page, FetchedPage):
        raise TypeError(f"not a packed page: {type(page).__name__}")
    return page


class FanOutPages(beam.PTransform):
    """A ``Reshuffle`` of the fetched pages, which stand in it compressed (``pack_page``, done
    by ``FetchHostBatchFn(pack=True)`` on its fetch threads); unpacked one by one after it."""

    def expand(self, packed):
        return packed | "Reshuffle" >> beam.Reshuffle() | "Unpack" >> beam.Map(unpack_page)
