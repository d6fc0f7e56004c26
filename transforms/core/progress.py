"""Progress lines from the workers while a run is under way, and per-stage timings.

A batch run of a few hundred pages is minutes of silence otherwise. Each worker process keeps a
small tally (entries read, pages fetched, stories extracted, dead letters) fed by pass-through
taps on the stages' outputs (``TallyFn``), and a daemon thread logs one line about every
``INTERVAL`` seconds while the process has been busy recently::

    wirestream progress: 40 entries read, 31 pages fetched, 28 stories extracted,
    2 dead letters (worker 4711, 30 s)

One line per worker process, through ``logging`` at INFO, so it lands in the launcher's console
on the DirectRunner (in-process or multi-process, where Beam forwards the workers' records) and
in Dataflow's worker logs, where each worker's lines are its own. The figures are per process;
the run summary has the totals.

The taps also record when each stage produced its first and last output (a Beam distribution
of epoch milliseconds: its min and max over all workers), which the run report turns into
per-stage timings. Wall time never reaches the written records.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

LOG = logging.getLogger("transforms.progress")
NAMESPACE = "wirestream"
INTERVAL = 10.0
# A process with no new output for this long stops logging (an idle Dataflow worker) until the
# next output; a single slow page (extraction up to --extract_timeout) keeps the lines coming.
IDLE_AFTER = 300.0
SHOWN = (
    ("entries", "entries read"),
    ("pages", "pages fetched"),
    ("stories", "stories extracted"),
    ("dead", "dead letters"),
)


class _Tally:
    """One process's counts and its reporting thread."""

    def __init__(self, interval: float) -> None:
        self.pid = os.getpid()
        self.interval = interval
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.last_change = self.started
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, kind: str, count: int) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + count
            self.last_change = time.monotonic()
            if self.thread is None and not self.stopped.is_set():
                self.thread = threading.Thread(
                    target=self._loop, name="wirestream-progress", daemon=True
                )
                self.thread.start()

    def line(self) -> str:
        with self.lock:
            counts = dict(self.counts)
        figures = ", ".join(f"{counts.get(kind, 0)} {label}" for kind, label in SHOWN)
        elapsed = time.monotonic() - self.started
        return f"wirestream progress: {figures} (worker {self.pid}, {elapsed:.0f} s)"

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            if time.monotonic() - self.last_change <= IDLE_AFTER:
                LOG.info("%s", self.line())

    def stop(self) -> None:
        self.stopped.set()


_TALLY: _Tally | None = None
_GUARD = threading.Lock()


def _tally() -> _Tally:
    """This process's tally (a forked worker starts its own)."""
    global _TALLY
    with _GUARD:
        if _TALLY is None or _TALLY.pid != os.getpid() or _TALLY.stopped.is_set():
            interval = float(os.environ.get("WIRESTREAM_PROGRESS_SECONDS", INTERVAL))
            _TALLY = _Tally(interval)
        return _TALLY


def add(kind: str, count: int = 1) -> None:
    _tally().add(kind, count)


def stop() -> None:
    """End this process's progress lines (the launcher, once the run has finished)."""
    with _GUARD:
        if _TALLY is not None:
            _TALLY.stop()


class TallyFn(beam.DoFn):
    """Counts what passes for the progress line and times the stage.

    As a side branch (``tap``) it emits nothing; in line (``counted``) it passes every element
    on, so it counts an element before the next stage works on it: a fused runner hands an
    output to its consumers one after another, and a side branch may come after a slow one.
    """

    def __init__(self, kind: str, passing: bool = False) -> None:
        self.kind = kind
        self.passing = passing

    def setup(self) -> None:
        self.span = Metrics.distribution(NAMESPACE, f"progress_{self.kind}_ms")

    def process(self, element):
        add(self.kind)
        self.span.update(int(time.time() * 1000))
        if self.passing:
            yield element


def tap(pcoll: beam.PCollection, kind: str, label: str) -> None:
    """Attach a tally to ``pcoll`` as a side branch under a fixed step label."""
    _ = pcoll | label >> beam.ParDo(TallyFn(kind))


def counted(pcoll: beam.PCollection, kind: str, label: str) -> beam.PCollection:
    """``pcoll`` with a tally in line, for the input of a slow stage; same elements, same type."""
    return pcoll | label >> beam.ParDo(TallyFn(kind, passing=True)).with_output_types(
        pcoll.element_type
    )
