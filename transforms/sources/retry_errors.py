"""Replaying dead letters: the entries an earlier run could not process become this run's source.

After the cause of a failure is fixed (a site's robots.txt, an extractor upgrade, an outage),
an operator should not have to re-run whole feeds. ``--retry_errors PATH`` (an ``errors/``
folder of either output format, a glob, or one file; local or ``gs://``) reads the dead
letters there, optionally only those with ``--retry_reasons``, and

* turns each **entry-level** dead letter (it has an ``entry_id``) back into a ``FeedEntry`` with
  the same id, URL and feed, which then goes through the same stages into the same output as
  any run (its own run id, so nothing of the original run is replaced);
* retries each **feed-level** dead letter (no ``entry_id``: the feed itself failed) by reading
  that feed again, instead of the feed list.

A dead letter carries the entry's id, URL and feed but not the feed's title, summary or dates:
those come from the page this time. An entry that failed in several runs is retried once, from
its latest dead letter. The run report links every retried entry to the dead letter it came
from (``retried`` in ``_run_report.json``). Feed state (``--state_location``) is read but not
committed by a retry run, so the scheduled runs' state stays theirs.

The dead letters are read by the launcher (they are small: bounded error and payload
excerpts), so a wrong path stops the run with exit code 2 before anything is written.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.core.records import FeedEntry, FeedSource, utc_iso
from transforms.core.urls import canonicalize_url, host_of

LOG = logging.getLogger(__name__)
NAMESPACE = "wirestream"
SUFFIXES = (".jsonl.gz", ".parquet")
COLUMNS = ("stage", "reason", "url", "error", "at", "entry_id", "feed_url")


@dataclass(frozen=True)
class Original:
    """Where a retried entry's dead letter was found, and what it said."""

    file: str
    stage: str
    reason: str
    at: str
    error: str


@dataclass(frozen=True)
class RetryPlan:
    """What a ``--retry_errors`` run retries, decided by the launcher."""

    location: str
    reasons: tuple[str, ...]
    files: tuple[str, ...]
    entries: tuple[FeedEntry, ...]
    originals: tuple[Original, ...]  # one per entry, same order
    feeds: tuple[str, ...]  # feed URLs to read again
    found: int  # dead letters read
    skipped: dict[str, int]  # not retried, by why

    def links(self) -> dict[str, dict[str, str]]:
        """entry id -> its original dead letter, for the run report."""
        return {
            entry.entry_id: {
                "url": entry.url,
                "feed_url": entry.feed_url,
                "file": original.file,
                "stage": original.stage,
                "reason": original.reason,
                "at": original.at,
                "error": original.error,
            }
            for entry, original in zip(self.entries, self.originals, strict=True)
        }


def error_files(location: str) -> list[str]:
    """The dead-letter files at a folder, glob or single file (local or any Beam filesystem)."""
    from apache_beam.io.filesystems import FileSystems

    if any(ch in location for ch in "*?["):
        patterns = [location]
    else:
        patterns = [location.rstrip("/") + "/**", location]
    for pattern in patterns:
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception:  # no such folder, or a filesystem that cannot list it
            matched = []
        paths = sorted(
            m.path
            for m in matched
            if m.path.endswith(SUFFIXES)
            and not any(part.startswith((".", "_")) for part in m.path.split("/")[-4:])
        )
        if paths:
            return paths
    return []


def read_dead_letters(path: str) -> list[dict[str, Any]]:
    """The dead letters of one ``errors/`` file, either format, without their payloads."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        data = handle.read()
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        present = set(pq.read_schema(io.BytesIO(data)).names)
        columns = [c for c in COLUMNS if c in present]
        rows = pq.read_table(io.BytesIO(data), columns=columns).to_pylist()
    else:
        rows = [json.loads(line) for line in gzip.decompress(data).splitlines() if line.strip()]
    letters = []
    for row in rows:
        record = {key: row.get(key) for key in COLUMNS}
        if hasattr(record["at"], "isoformat"):
            record["at"] = utc_iso(record["at"])
        letters.append(record)
    return letters


def plan_retry(
    location: str, reasons: tuple[str, ...] = (), feed_list: tuple[FeedSource, ...] = ()
) -> RetryPlan:
    """Read the dead letters and decide what to retry; ValueError when there is nothing to read.

    ``feed_list`` (the run's ``--feeds``, when given) supplies each entry's feed name, language
    hint and tags, which dead letters do not carry.
    """
    files = error_files(location)
    if not files:
        raise ValueError(
            f"--retry_errors {location}: no dead-letter files (*.jsonl.gz, *.parquet) there. "
            "Fix: point it at an output's errors/ folder, a glob, or one errors file"
        )
    by_feed = {source.url: source for source in feed_list}
    latest: dict[str, tuple[dict[str, Any], str]] = {}
    feeds: set[str] = set()
    skipped: Counter[str] = Counter()
    found = 0
    seen_reasons: Counter[str] = Counter()
    for path in files:
        for letter in read_dead_letters(path):
            found += 1
            seen_reasons[letter.get("reason") or ""] += 1
            if reasons and letter.get("reason") not in reasons:
                skipped["other_reason"] += 1
                continue
            if not letter.get("entry_id"):
                if letter.get("feed_url") or letter.get("url"):
                    feeds.add(letter.get("feed_url") or letter["url"])
                else:
                    skipped["no_feed_url"] += 1
                continue
            url = letter.get("url") or ""
            if canonicalize_url(url) is None or not url.lower().startswith(("http://", "https://")):
                skipped["no_usable_url"] += 1
                continue
            key = letter["entry_id"]
            previous = latest.get(key)
            if previous is None or (letter.get("at") or "", path) > (
                previous[0].get("at") or "",
                previous[1],
            ):
                if previous is not None:
                    skipped["older_copy"] += 1
                latest[key] = (letter, path)
            else:
                skipped["older_copy"] += 1
    unknown = [r for r in reasons if r not in seen_reasons]
    if unknown:
        LOG.warning(
            "--retry_reasons %s: no dead letter has that reason (found: %s)",
            ",".join(unknown),
            ", ".join(f"{r} {n}" for r, n in sorted(seen_reasons.items())) or "none",
        )
    entries, originals = [], []
    for entry_id in sorted(latest):
        letter, path = latest[entry_id]
        feed_url = letter.get("feed_url") or ""
        source = by_feed.get(feed_url)
        url = letter["url"]
        entries.append(
            FeedEntry(
                entry_id=entry_id,
                feed_url=feed_url,
                feed_name=source.name if source else (host_of(feed_url) if feed_url else ""),
                url=url,
                canonical_url=canonicalize_url(url) or url,
                language_hint=source.language if source else None,
                feed_tags=source.tags if source else (),
            )
        )
        originals.append(
            Original(
                file=path,
                stage=letter.get("stage") or "",
                reason=letter.get("reason") or "",
                at=letter.get("at") or "",
                error=letter.get("error") or "",
            )
        )
    return RetryPlan(
        location=location,
        reasons=reasons,
        files=tuple(files),
        entries=tuple(entries),
        originals=tuple(originals),
        feeds=tuple(sorted(feeds)),
        found=found,
        skipped=dict(sorted(skipped.items())),
    )


def feed_sources(plan: RetryPlan, feed_list: tuple[FeedSource, ...] = ()) -> tuple[FeedSource, ...]:
    """The feeds to read again: from the feed list when it has them, else with defaults."""
    by_url = {source.url: source for source in feed_list}
    return tuple(by_url.get(url) or FeedSource(url=url, name=host_of(url)) for url in plan.feeds)


class _EmitFn(beam.DoFn):
    def process(self, entry: FeedEntry) -> Iterator[FeedEntry]:
        Metrics.counter(NAMESPACE, "entries_read").inc()
        Metrics.counter(NAMESPACE, "retry_entries").inc()
        yield entry


class RetryDeadLetters(beam.PTransform):
    """PBegin -> the plan's entries, counted as entries read (the accounting's left side)."""

    def __init__(self, plan: RetryPlan) -> None:
        super().__init__()
        self.plan = plan

    def expand(self, pbegin):
        return (
            pbegin
            | "RetriedEntries" >> beam.Create(list(self.plan.entries))
            | "CountRetriedEntries" >> beam.ParDo(_EmitFn())
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("retry dead letters")
    group.add_argument(
        "--retry_errors",
        default=None,
        help="Retry the dead letters of earlier runs instead of reading the feed list: an "
        "output's errors/ folder, a glob or one file, JSONL or Parquet, local or gs://. "
        "Entry-level dead letters are fetched again through every stage into --output as a "
        "new run (give it its own --run_id); failed feeds are read again. --feeds, when given, "
        "only names the feeds.",
    )
    group.add_argument(
        "--retry_reasons",
        default=None,
        help="Comma-separated dead-letter reasons to retry (e.g. timeout,http_5xx,"
        "connect_error); others are left alone. Default: every reason.",
    )


class RetryOptions(PipelineOptions):
    """The retry flags, typed: ``options.view_as(RetryOptions)``."""

    retry_errors: str | None
    retry_reasons: str | None

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def reasons_of(value: str | None) -> tuple[str, ...]:
    return tuple(r.strip() for r in (value or "").split(",") if r.strip())
