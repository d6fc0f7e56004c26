"""Output file names: the one definition the writer and the re-run cleanup both use.

``part-<run_id>[-w<window start>]-<shard>-of-<shards>[-p<pane>]<suffix>``:

- the run id (``transforms.core.run``) keeps scheduled runs apart while a re-run of the same run
  writes, and so replaces, the same names;
- streaming files carry their window's start and, for every firing after the first (late panes),
  ``-p<index>``, so no window or pane overwrites another's file; batch runs have neither;
- the suffix is the format's (``.jsonl.gz``, ``.parquet``).

``run_file_pattern`` matches exactly one run's names, so run ``daily`` never matches the files of
run ``daily-2``.
"""

from __future__ import annotations

import re

PREFIX = "part-"
WINDOW_FORMAT = "%Y%m%dT%H%M%SZ"
_WINDOW = re.compile(r"-w(\d{8}T\d{6}Z)-")


def file_base(run_id: str, shard: int, shards: int, window_start: str = "") -> str:
    """A file's name before its pane and suffix; ``window_start`` as ``YYYYMMDDTHHMMSSZ``."""
    window = f"-w{window_start}" if window_start else ""
    return f"{PREFIX}{run_id}{window}-{shard:05d}-of-{shards:05d}"


def with_pane(base: str, pane_index: int) -> str:
    """A later firing of the same window gets a file of its own; the first keeps the base."""
    return f"{base}-p{pane_index}" if pane_index > 0 else base


def run_file_glob(run_id: str, suffix: str) -> str:
    """A glob that finds a run's files (and perhaps others'; filter with ``run_file_pattern``)."""
    return f"{PREFIX}{run_id}-*{suffix}"


def run_file_pattern(run_id: str, suffix: str, windows: bool = True) -> re.Pattern[str]:
    """The exact base-name shape of one run's files; ``windows=False``: batch names only."""
    window, pane = (r"(-w\d{8}T\d{6}Z)?", r"(-p\d+)?") if windows else ("", "")
    return re.compile(
        rf"{PREFIX}{re.escape(run_id)}{window}-\d{{5,}}-of-\d{{5,}}{pane}{re.escape(suffix)}"
    )


def window_of(path: str) -> str | None:
    """Window start of a streaming file name (``part-<run>-w20261124T101500Z-...``), else None."""
    found = _WINDOW.search(path.rsplit("/", 1)[-1])
    return found.group(1) if found else None
