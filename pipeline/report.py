"""Run accounting: what the run did, from its counters and from the files it left on disk.

The invariant is checked against records *on disk under their final names*, not against the
counters alone: a sink that silently fails to move its files (see
transforms/sinks/partitioned.py) must turn the run red. Every feed entry read must be exactly one
of: a story, a duplicate, a rejection, or an entry-level dead letter.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from transforms.sinks.partitioned import OUTPUTS, WriteConfig
from transforms.sinks.rerun import files_of_run

NAMESPACE = "wirestream"


@dataclass
class RunReport:
    run_id: str
    output: str
    counters: dict[str, int]
    written: dict[str, int]
    partitions: dict[str, int]
    languages: dict[str, int]
    rejected_by_reason: dict[str, int]
    dead_by_stage_reason: dict[str, int]
    duplicates_by_reason: dict[str, int]
    entries_read: int
    entry_dead_letters: int
    feed_dead_letters: int
    entry_rejections: int
    problems: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    windows: dict[str, dict[str, int]] = field(default_factory=dict)  # streaming runs only
    # Agency items their provider withdrew: downstream systems must take these stories down.
    withdrawn: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "output": self.output,
            "invariant": {
                "holds": self.ok,
                "entries_read": self.entries_read,
                "stories": self.written.get("stories", 0),
                "duplicates": self.written.get("duplicates", 0),
                "rejected": self.entry_rejections,
                "dead_letters": self.entry_dead_letters,
                "problems": self.problems,
            },
            "written": self.written,
            "partitions": self.partitions,
            "stories_per_language": self.languages,
            "duplicates_by_reason": self.duplicates_by_reason,
            "rejected_by_reason": self.rejected_by_reason,
            "dead_letters_by_stage_reason": self.dead_by_stage_reason,
            "feed_dead_letters": self.feed_dead_letters,
            "counters": self.counters,
            "settings": self.settings,
            "withdrawn": self.withdrawn,
            **({"windows": self.windows} if self.windows else {}),
        }


def counters_of(result) -> dict[str, int]:
    """All wirestream counters of a finished run (committed values where the runner has them)."""
    from apache_beam.metrics.metric import MetricsFilter

    totals: dict[str, int] = {}
    try:
        query = _deep_call(
            lambda: result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
        )
    except Exception:
        return totals
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        name = counter.key.metric.name
        totals[name] = totals.get(name, 0) + int(value or 0)
    return dict(sorted(totals.items()))


def _deep_call(fn):
    """Run ``fn`` on a thread with a deep stack and a high recursion limit.

    The FnApiRunner (which the DirectRunner picks for streaming runs driven by PeriodicImpulse)
    merges the metrics of every bundle through one nested generator per bundle, so a run of a
    few hundred ticks exceeds Python's default recursion limit when its counters are queried.
    """
    import sys
    import threading

    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # re-raised on the calling thread
            box["error"] = err

    limit = sys.getrecursionlimit()
    size = threading.stack_size()
    sys.setrecursionlimit(max(limit, 200_000))
    threading.stack_size(512 * 1024 * 1024)
    try:
        worker = threading.Thread(target=target)
        worker.start()
        worker.join()
    finally:
        threading.stack_size(size)
        sys.setrecursionlimit(limit)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


def read_records(path: str) -> list[dict[str, Any]]:
    from apache_beam.io.filesystem import CompressionTypes

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        data = handle.read()
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(data)).to_pylist()
    return [
        json.loads(line)
        for line in gzip.decompress(data).decode("utf-8").splitlines()
        if line.strip()
    ]


_WINDOW = re.compile(r"-w(\d{8}T\d{6}Z)-")


def window_of(path: str) -> str | None:
    """Window start of a streaming file name (``part-<run>-w20261124T101500Z-...``), else None."""
    found = _WINDOW.search(path.rsplit("/", 1)[-1])
    return found.group(1) if found else None


def build_report(config: WriteConfig, counters: dict[str, int]) -> RunReport:
    written: dict[str, int] = {}
    windows: dict[str, Counter[str]] = {}
    partitions: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    rejected_by: Counter[str] = Counter()
    dead_by: Counter[str] = Counter()
    dup_by: Counter[str] = Counter()
    entry_dead = feed_dead = entry_rejected = 0
    withdrawn: list[dict[str, Any]] = []
    for output in OUTPUTS:
        total = 0
        for path in files_of_run(config, output):
            records = read_records(path)
            total += len(records)
            relative = path[len(config.output) + 1 :].rsplit("/", 1)[0]
            partitions[relative] += len(records)
            window = window_of(path)
            if window is not None:
                windows.setdefault(window, Counter())[output] += len(records)
            for record in records:
                if output == "stories":
                    languages[record.get("language") or "und"] += 1
                elif output == "duplicates":
                    dup_by[record.get("duplicate_reason") or "unknown"] += 1
                elif output == "rejected":
                    rejected_by[record["reason"]] += 1
                    if record["reason"] == "withdrawn":
                        withdrawn.append(
                            {k: record.get(k) for k in ("wire_guid", "story_id", "at", "detail")}
                        )
                    entry_rejected += record.get("entry_id") is not None
                else:
                    dead_by[f"{record['stage']}/{record['reason']}"] += 1
                    if record.get("entry_id") is not None:
                        entry_dead += 1
                    else:
                        feed_dead += 1
        written[output] = total
    entries_read = counters.get("entries_read", 0)
    report = RunReport(
        run_id=config.run_id,
        output=config.output,
        counters=counters,
        written=written,
        partitions=dict(sorted(partitions.items())),
        languages=dict(sorted(languages.items())),
        rejected_by_reason=dict(sorted(rejected_by.items())),
        dead_by_stage_reason=dict(sorted(dead_by.items())),
        duplicates_by_reason=dict(sorted(dup_by.items())),
        entries_read=entries_read,
        entry_dead_letters=entry_dead,
        feed_dead_letters=feed_dead,
        entry_rejections=entry_rejected,
        windows={w: dict(sorted(c.items())) for w, c in sorted(windows.items())},
        withdrawn=sorted(withdrawn, key=lambda w: (str(w["wire_guid"]), str(w["at"]))),
    )
    accounted = written["stories"] + written["duplicates"] + entry_rejected + entry_dead
    if accounted != entries_read:
        report.problems.append(
            f"entries read ({entries_read}) != stories ({written['stories']}) + duplicates "
            f"({written['duplicates']}) + rejected ({entry_rejected}) + dead letters "
            f"({entry_dead}) = {accounted} on disk"
        )
    for output, counter in (
        ("stories", "written_stories"),
        ("duplicates", "written_duplicates"),
        ("rejected", "written_rejected"),
        ("errors", "written_errors"),
    ):
        if counter in counters and counters[counter] != written[output]:
            report.problems.append(
                f"{output}: {counters[counter]} records were handed to the writer but "
                f"{written[output]} are on disk under final names"
            )
    return report


def write_report(report: RunReport) -> str:
    path = f"{report.output}/_run_report.json"
    if not path.startswith("gs://"):
        with contextlib.suppress(OSError):
            FileSystems.mkdirs(report.output)
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(report.to_json(), indent=2, sort_keys=True).encode("utf-8"))
    return path


def format_summary(report: RunReport) -> str:
    c = report.counters
    rows: list[tuple[str, Any]] = [
        ("run id", report.run_id),
        ("feeds read", c.get("feeds_read", 0)),
        ("entries read", report.entries_read),
        ("  of which wire items", c.get("wire_items_read", 0)),
        ("pages fetched", c.get("fetch_ok", 0)),
        ("stories extracted", c.get("extract_ok", 0)),
        ("stories written", report.written.get("stories", 0)),
        ("duplicates written", report.written.get("duplicates", 0)),
        ("rejected (entries)", report.entry_rejections),
        ("dead letters (entries)", report.entry_dead_letters),
        ("dead letters (feeds)", report.feed_dead_letters),
    ]
    if report.windows:
        late_panes = sum(v for k, v in c.items() if k.endswith("_late_pane"))
        rows += [
            ("windows written", len(report.windows)),
            (
                "feed polls (due/304/failed)",
                "/".join(
                    str(c.get(k, 0)) for k in ("poll_due", "feeds_not_modified", "poll_failed")
                ),
            ),
            ("late entries (written where they arrived)", c.get("stream_late", 0)),
            ("records written in late panes", late_panes),
        ]
    lines = ["", "wirestream run summary", "=" * 60]
    lines += [f"{name:<40}{value:>20}" for name, value in rows]
    sections = (
        ("stories per language", report.languages),
        ("duplicates by reason", report.duplicates_by_reason),
        ("rejected by reason", report.rejected_by_reason),
        ("dead letters by stage/reason", report.dead_by_stage_reason),
        ("records per partition", report.partitions),
    )
    for title, values in sections:
        if values:
            lines += ["-" * 60, title]
            lines += [f"  {key:<54}{value:>4}" for key, value in values.items()]
    if report.withdrawn:
        lines += ["-" * 60, "withdrawn by their provider (take these stories down)"]
        lines += [f"  {w['wire_guid']}  (story {w['story_id']})" for w in report.withdrawn]
    if report.windows:
        lines += ["-" * 60, "records per window (start, UTC): stories/duplicates/rejected/errors"]
        for start, counts in report.windows.items():
            cells = "/".join(str(counts.get(output, 0)) for output in OUTPUTS)
            lines.append(f"  {start:<40}{cells:>18}")
    lines.append("=" * 60)
    if report.ok:
        lines.append("nothing lost: every entry is a story, duplicate, rejection or dead letter")
    else:
        lines += ["ACCOUNTING FAILED:"] + [f"  {p}" for p in report.problems]
    return "\n".join(lines)
