"""Run accounting: what the run did, from its counters and from the files it left on disk.

The invariant is checked against records *on disk under their final names*, not against the
counters alone: a sink that silently fails to move its files (see
transforms/sinks/partitioned.py) must turn the run red. It starts where the feeds do: every item
a feed document lists (``entries_listed``) is exactly one of a story, a duplicate, a rejection,
an entry-level dead letter, or one of the named skips the feed reader counts (handed downstream
by an earlier run, beyond ``--feed_max_entries``, a sitemap URL older than
``--sitemap_max_age_days``).

Exit codes (``python -m pipeline``): 0 ok; 1 crash or accounting mismatch; 2 bad configuration
or state, before any output; 3 the run wrote everything and its report but too much failed
(``--max_feed_failure_ratio``, ``--max_dead_letter_ratio``), so a scheduler does not show green
through an outage. The per-feed health table (``feeds`` in ``_run_report.json``) says which.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.output_files import read_projection
from pipeline.report_tables import OUTCOME_LABELS, feed_table, largest_clusters
from transforms.core.redact import redact_url
from transforms.sinks.naming import window_of
from transforms.sinks.partitioned import OUTPUTS, WriteConfig
from transforms.sinks.rerun import files_of_run
from transforms.sources.feed_health import read_health

NAMESPACE = "wirestream"

EXIT_OK = 0
EXIT_FAILED = 1  # crash or accounting mismatch
EXIT_BAD_INPUT = 2  # bad configuration or state, before any output
EXIT_TOO_MUCH_FAILED = 3  # ran and wrote everything, but past a failure gate
DEFAULT_MAX_FEED_FAILURE_RATIO = 0.5


@dataclass(frozen=True)
class GateConfig:
    """Failure gate for schedulers: past either ratio the run exits 3 after writing everything.

    ``max_feed_failure_ratio``: failed feeds / feeds due this run (fetch failed, or the document
    was unusable: bad, truncated, empty, too large). ``max_dead_letter_ratio``: entry-level dead
    letters / entries read; ``None`` turns a gate off.
    """

    max_feed_failure_ratio: float | None = DEFAULT_MAX_FEED_FAILURE_RATIO
    max_dead_letter_ratio: float | None = None


def _ratio(value: str) -> float | None:
    if value.strip().lower() in ("", "off", "none"):
        return None
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a ratio between 0 and 1 (or 'off')")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run accounting")
    group.add_argument(
        "--max_feed_failure_ratio",
        type=_ratio,
        default=DEFAULT_MAX_FEED_FAILURE_RATIO,
        help="Exit 3 (after writing everything and the report) when more than this share of "
        "the feeds due this run failed (unreachable, or no usable document); 'off' disables.",
    )
    group.add_argument(
        "--max_dead_letter_ratio",
        type=_ratio,
        default=None,
        help="Exit 3 (after writing everything and the report) when more than this share of "
        "the entries read ended as dead letters; off by default.",
    )
    group.add_argument(
        "--state_repair",
        default="none",
        choices=("none", "quarantine"),
        help="What to do with a damaged state file (feed state, dedup fingerprints) whose record "
        "count or checksum does not match: 'none' stops the run (exit 2) before any output; "
        "'quarantine' moves it aside under <state_location>/quarantine/ and runs on, and the "
        "report counts what it may re-admit.",
    )


class AccountingOptions(PipelineOptions):
    """The run-accounting flags, typed: ``options.view_as(AccountingOptions)``."""

    max_feed_failure_ratio: float | None
    max_dead_letter_ratio: float | None
    state_repair: str

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def gate_from_options(options) -> GateConfig:
    opts = options.get_all_options()
    feed = opts.get("max_feed_failure_ratio", DEFAULT_MAX_FEED_FAILURE_RATIO)
    dead = opts.get("max_dead_letter_ratio")
    return GateConfig(
        max_feed_failure_ratio=_ratio(feed) if isinstance(feed, str) else feed,
        max_dead_letter_ratio=_ratio(dead) if isinstance(dead, str) else dead,
    )


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
    settings: dict[str, Any] = field(default_factory=dict)
    windows: dict[str, dict[str, int]] = field(default_factory=dict)  # streaming runs only
    entries_listed: int | None = None  # None: no feed reader counted (Pub/Sub-only streaming)
    skipped: dict[str, int] = field(default_factory=dict)  # named skips of listed entries
    gate: dict[str, Any] = field(default_factory=dict)
    gate_failures: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # state-file checks and quarantines
    topics: dict[str, int] = field(default_factory=dict)  # stories by best topic
    countries: dict[str, int] = field(default_factory=dict)  # stories by first place
    clusters: list[dict[str, Any]] = field(default_factory=list)  # largest duplicate clusters
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-stage count, timing
    run: dict[str, Any] = field(default_factory=dict)  # identity, start, end, duration
    versions: dict[str, str] = field(default_factory=dict)
    feeds: list[dict[str, Any]] | None = None  # per-feed health, when accounted
    retried: list[dict[str, Any]] | None = None  # --retry_errors: entries and their originals
    # Agency items their provider withdrew: downstream systems must take these stories down.
    withdrawn: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_FAILED
        return EXIT_TOO_MUCH_FAILED if self.gate_failures else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "output": self.output,
            "exit_code": self.exit_code,
            "invariant": {
                "holds": self.ok,
                "entries_listed": self.entries_listed,
                "skipped": self.skipped,
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
            "gate": {**self.gate, "failures": self.gate_failures},
            **({"state": self.state} if self.state else {}),
            "run": self.run,
            "versions": self.versions,
            "stages": self.stages,
            "stories_per_topic": self.topics,
            "stories_per_country": self.countries,
            "largest_clusters": self.clusters,
            "withdrawn": self.withdrawn,
            **({"windows": self.windows} if self.windows else {}),
            **({"feeds": self.feeds} if self.feeds is not None else {}),
            **({"retried": self.retried} if self.retried is not None else {}),
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


def distributions_of(result) -> dict[str, dict[str, int]]:
    """The wirestream distributions of a finished run: name -> count, sum, min, max."""
    from apache_beam.metrics.metric import MetricsFilter

    found: dict[str, dict[str, int]] = {}
    try:
        query = _deep_call(
            lambda: result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
        )
    except Exception:
        return found
    for metric in query.get("distributions", []):
        value = metric.committed if metric.committed is not None else metric.attempted
        if value is None or not value.count:
            continue
        name = metric.key.metric.name
        old = found.get(name)
        merged = {"count": value.count, "sum": value.sum, "min": value.min, "max": value.max}
        if old:
            merged = {
                "count": old["count"] + value.count,
                "sum": old["sum"] + value.sum,
                "min": min(old["min"], value.min),
                "max": max(old["max"], value.max),
            }
        found[name] = merged
    return dict(sorted(found.items()))


# Progress taps (transforms/core/progress.py) in stage order: report name, tap kind, counter.
STAGE_TAPS = (
    ("read feeds", "entries", "entries_read"),
    ("fetch", "pages", "fetch_ok"),
    ("extract", "stories", "extract_ok"),
    ("language", "language", None),
    ("tags", "tags", None),
    ("dedup", "dedup", None),
    ("dead letters", "dead", None),
)


def stage_timings(distributions: dict[str, dict[str, int]], started_ms: int | None = None):
    """Per stage: outputs, and first/last output in seconds after the first entry was read.

    Stages overlap (the runner streams elements through fused steps), so these are when each
    stage produced output, not exclusive durations; the span from first to last output is how
    long the stage was active.
    """
    spans = {kind: distributions.get(f"progress_{kind}_ms") for _, kind, _ in STAGE_TAPS}
    origin = started_ms
    if origin is None:
        mins = [span["min"] for span in spans.values() if span]
        origin = min(mins) if mins else 0
    result: dict[str, dict[str, Any]] = {}
    for name, kind, _counter in STAGE_TAPS:
        span = spans[kind]
        if not span:
            result[name] = {"outputs": 0}
            continue
        result[name] = {
            "outputs": span["count"],
            "first_output_s": round((span["min"] - origin) / 1000, 3),
            "last_output_s": round((span["max"] - origin) / 1000, 3),
            "active_s": round((span["max"] - span["min"]) / 1000, 3),
        }
    return result


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


def build_report(
    config: WriteConfig,
    counters: dict[str, int],
    distributions: dict[str, dict[str, int]] | None = None,
    retry_links: dict[str, dict[str, str]] | None = None,
    gate: GateConfig | None = None,
    state: dict[str, Any] | None = None,
) -> RunReport:
    """Count the run's files on disk and check the accounting.

    ``retry_links`` (a ``--retry_errors`` run: entry id -> its original dead letter) adds the
    ``retried`` list: each retried entry, what became of it now, and where it failed before.
    """
    written: dict[str, int] = {}
    per_feed: dict[str, Counter[str]] = {}
    windows: dict[str, Counter[str]] = {}
    partitions: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    rejected_by: Counter[str] = Counter()
    dead_by: Counter[str] = Counter()
    dup_by: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    canonicals: dict[str, dict[str, Any]] = {}
    copies: dict[str, list[dict[str, Any]]] = {}
    outcomes: dict[str, str] = {}
    entry_dead = feed_dead = entry_rejected = 0
    withdrawn: list[dict[str, Any]] = []
    for output in OUTPUTS:
        total = 0
        for path in files_of_run(config, output):
            records = read_projection(path, output)
            total += len(records)
            relative = path[len(config.output) + 1 :].rsplit("/", 1)[0]
            partitions[relative] += len(records)
            window = window_of(path)
            if window is not None:
                windows.setdefault(window, Counter())[output] += len(records)
            for record in records:
                feed = record.get("feed_url")
                if feed:
                    tally = per_feed.setdefault(redact_url(feed), Counter())
                    tally["dead_letters" if output == "errors" else output] += 1
                if retry_links is not None and record.get("entry_id") in retry_links:
                    outcomes[record["entry_id"]] = OUTCOME_LABELS[output]
                if output == "stories":
                    languages[record.get("language") or "und"] += 1
                    topics[(record.get("topics") or ["none"])[0]] += 1
                    countries[(record.get("places") or ["none"])[0]] += 1
                    canonicals[record.get("story_id") or ""] = record
                elif output == "duplicates":
                    dup_by[record.get("duplicate_reason") or "unknown"] += 1
                    cluster = record.get("cluster_id") or record.get("duplicate_of") or ""
                    copies.setdefault(cluster, []).append(record)
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
        topics=dict(sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))),
        countries=dict(sorted(countries.items(), key=lambda kv: (-kv[1], kv[0]))),
        clusters=largest_clusters(canonicals, copies),
        stages=stage_timings(distributions or {}),
        withdrawn=sorted(withdrawn, key=lambda w: (str(w["wire_guid"]), str(w["at"]))),
    )
    report.state = state or {}
    if retry_links is not None:
        report.retried = [
            {
                "entry_id": entry_id,
                "url": link.get("url"),
                "feed_url": link.get("feed_url"),
                "outcome": outcomes.get(entry_id, "missing"),
                "original": {k: link.get(k) for k in ("file", "stage", "reason", "at", "error")},
            }
            for entry_id, link in sorted(retry_links.items())
        ]
    accounted = written["stories"] + written["duplicates"] + entry_rejected + entry_dead
    if "entries_listed" in counters and not report.windows:
        _check_listed(report, counters, accounted)
    health = read_health(config.output, config.run_id)
    report.feeds = feed_table(health, per_feed)
    _apply_gate(report, gate or GateConfig(), health)
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


SKIPS = {
    "seen_before": "entries_seen_before",  # handed downstream by an earlier run
    "beyond_max_entries": "feeds_entries_cut",  # --feed_max_entries
    "sitemap_too_old": "entries_too_old",  # --sitemap_max_age_days
}


def _check_listed(report: RunReport, counters: dict[str, int], accounted: int) -> None:
    """entries listed = stories + duplicates + rejected + dead letters + named skips."""
    listed = counters.get("entries_listed", 0)
    # Entries from sources other than feed documents (Pub/Sub, ...) are listed by no feed.
    other = counters.get("entries_read", 0) - counters.get("feeds_entries", 0)
    report.entries_listed = listed
    report.skipped = {name: counters.get(counter, 0) for name, counter in SKIPS.items()}
    total = accounted + sum(report.skipped.values())
    if total != listed + other:
        skips = " + ".join(f"{name} ({n})" for name, n in report.skipped.items())
        from_other = f" + entries from other sources ({other})" if other else ""
        report.problems.append(
            f"entries listed by the feeds ({listed}){from_other} != outcomes on disk "
            f"({accounted}) + {skips} = {total}"
        )


def _apply_gate(report: RunReport, gate: GateConfig, health: list[dict[str, Any]]) -> None:
    due = [row for row in health if row.get("due", True)]
    failed = [row for row in due if row.get("failed")]
    feed_ratio = len(failed) / len(due) if due else 0.0
    dead_ratio = report.entry_dead_letters / report.entries_read if report.entries_read else 0.0
    report.gate = {
        "feeds_due": len(due),
        "feeds_failed": len(failed),
        "feed_failure_ratio": round(feed_ratio, 4),
        "max_feed_failure_ratio": gate.max_feed_failure_ratio,
        "dead_letter_ratio": round(dead_ratio, 4),
        "max_dead_letter_ratio": gate.max_dead_letter_ratio,
    }
    limit = gate.max_feed_failure_ratio
    if limit is not None and due and feed_ratio > limit:
        report.gate_failures.append(
            f"{len(failed)} of {len(due)} feeds due this run failed ({feed_ratio:.0%} > "
            f"--max_feed_failure_ratio {limit:g}); see the per-feed table's last_error"
        )
    limit = gate.max_dead_letter_ratio
    if limit is not None and report.entries_read and dead_ratio > limit:
        report.gate_failures.append(
            f"{report.entry_dead_letters} of {report.entries_read} entries ended as dead letters "
            f"({dead_ratio:.0%} > --max_dead_letter_ratio {limit:g}); see errors/"
        )


def write_report(report: RunReport) -> str:
    path = f"{report.output}/_run_report.json"
    if not path.startswith("gs://"):
        with contextlib.suppress(OSError):
            FileSystems.mkdirs(report.output)
    document = report.to_json()
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(document, indent=2, sort_keys=True).encode("utf-8"))
    from pipeline.report_html import render_html

    with FileSystems.create(f"{report.output}/_run_report.html") as handle:
        handle.write(render_html(document).encode("utf-8"))
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
    if report.entries_listed is not None:
        rows.insert(2, ("entries listed by the feeds", report.entries_listed))
        rows[4:4] = [(f"  skipped: {name}", n) for name, n in report.skipped.items() if n]
    if report.retried is not None:
        outcomes = Counter(item["outcome"] for item in report.retried)
        rows.append(
            (
                "retried dead letters",
                ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "0",
            )
        )
    if report.run:
        rows += [
            ("started (UTC)", report.run.get("started_at", "")),
            ("duration", f"{report.run.get('duration_seconds', 0):.1f} s"),
        ]
    lines = ["", "wirestream run summary", "=" * 60]
    lines += [f"{name:<40}{value:>20}" for name, value in rows]
    if any(stage.get("outputs") for stage in report.stages.values()):
        lines += ["-" * 60, "stages: outputs, first / last output (s after the first entry)"]
        for name, stage in report.stages.items():
            timing = (
                f"{stage['first_output_s']:.1f} / {stage['last_output_s']:.1f}"
                if stage.get("outputs")
                else "-"
            )
            lines.append(f"  {name:<30}{stage.get('outputs', 0):>8}{timing:>20}")
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
    if report.feeds:
        lines += ["-" * 60, "feeds: listed/stories/duplicates/rejected/dead, last success, error"]
        for feed in report.feeds:
            cells = "/".join(
                str(feed[k])
                for k in ("entries_listed", "stories", "duplicates", "rejected", "dead_letters")
            )
            lines.append(f"  {(feed['name'] or feed['feed_url'])[:44]:<44}{cells:>14}")
            lines.append(f"    {feed['feed_url'][:90]}")
            lines.append(f"    last success {feed['last_success'] or 'never'}")
            if feed["last_error"]:
                lines.append(f"    last error   {feed['last_error'][:120]}")
    for note in report.state.get("notes", []):
        lines += ["-" * 60, f"STATE: {note}"]
    lines.append("=" * 60)
    if report.ok:
        lines.append("nothing lost: every entry is a story, duplicate, rejection or dead letter")
    else:
        lines += ["ACCOUNTING FAILED:"] + [f"  {p}" for p in report.problems]
    if report.gate_failures:
        lines += ["TOO MUCH FAILED (exit 3):"] + [f"  {p}" for p in report.gate_failures]
    return "\n".join(lines)
