"""``python -m pipeline``: check the arguments, parse, run, account, report.

Everything else lives in cli.py (argument checking), graph.py (the stages) and report.py (the
accounting); this module only sequences them and turns their outcome into the exit code:
0 ok, 1 crash or accounting mismatch, 2 bad configuration (before any output).
"""

from __future__ import annotations

import logging
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline import state_lock
from pipeline.cli import (
    Checked,
    CliError,
    build_parser,
    check_arguments,
    configure_logging,
    version_text,
    versions,
)
from pipeline.config import FeedListError
from pipeline.graph import JobConfig, build_pipeline, build_streaming_pipeline
from pipeline.preflight import CREATED, PreflightError, check_rule_files, remove_created
from pipeline.report import build_report, counters_of, format_summary, write_report
from pipeline.settings import job_settings
from transforms.core import progress
from transforms.core.records import utc_iso
from transforms.sinks.partitioned import write_schema

LOG = logging.getLogger("wirestream")


def _checked(argv: list[str] | None, configure: bool) -> Checked | int:
    """The checked command line, or an exit code when the launcher's work ends here."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(build_parser().format_help())
        return 0
    try:
        checked = check_arguments(argv)
    except CliError as err:
        print(err.render(), file=sys.stderr)
        return 2
    if configure:
        configure_logging(checked.log_level)
    if checked.version:
        print(version_text())
        return 0
    return checked


def _configure(checked: Checked) -> tuple[PipelineOptions, JobConfig] | int:
    """Options with the runner defaulted, and the preflight checks; an int is an exit code."""
    argv = list(checked.beam_argv)
    if not PipelineOptions(argv).view_as(StandardOptions).runner:
        # Without an explicit runner Beam first tries to download Prism; stay offline. A flag,
        # not an assignment: parsed options are never written to.
        argv.append("--runner=DirectRunner")
    options = PipelineOptions(argv)
    values = checked.values
    try:
        # Every rule file at once, before the stages' own loading stops at the first bad one.
        check_rule_files(
            values.get("taxonomy"), values.get("agencies"), values.get("cleaning_rules")
        )
        job = JobConfig.from_options(options)
    except (FeedListError, ValueError, OSError) as err:  # OSError: FileNotFoundError and kin
        remove_created()  # exit 2 leaves no output behind, not even the folders
        print(f"wirestream: {err}", file=sys.stderr)
        return 2
    return options, job


def _build(options: PipelineOptions, job: JobConfig) -> tuple[beam.Pipeline, bool]:
    pipeline = beam.Pipeline(options=options)
    streaming = bool(options.view_as(StandardOptions).streaming)
    if streaming:
        build_streaming_pipeline(pipeline, job)
    else:
        build_pipeline(pipeline, job)
    return pipeline, streaming


def run(argv: list[str] | None = None, configure_logs: bool = False) -> int:
    checked = _checked(argv, configure_logs)
    if isinstance(checked, int):
        return checked
    CREATED.clear()  # only this run's folders are removed if it is refused
    # One run at a time per state folder, from before the state is read until it is committed.
    try:
        lock = state_lock.acquire(
            checked.values.get("state_location"),
            str(checked.values.get("run_id") or checked.values.get("run_date") or ""),
        )
    except PreflightError as err:
        remove_created()
        print(f"wirestream: {err}", file=sys.stderr)
        return 2
    refused = False
    try:
        code = _run_checked(checked)
        refused = code == 2 or checked.check  # --check, like a refusal, leaves nothing
        return code
    finally:
        if lock is not None:
            lock.release(refused=refused)
            if refused:
                remove_created()


def _run_checked(checked: Checked) -> int:
    configured = _configure(checked)
    if isinstance(configured, int):
        return configured
    options, job = configured
    if checked.check:
        remove_created()  # --check writes nothing
        print(
            f"preflight ok: {len(job.sources)} feed(s), rule files valid, "
            f"output {job.write.output} writable"
            + (f", state {job.feeds.state.location} writable" if job.feeds.state.enabled else "")
        )
        return 0
    if job.retry is not None and not job.retry.entries and not job.retry.feeds:
        print(
            f"nothing to retry: {job.retry.found} dead letter(s) in {len(job.retry.files)} "
            f"file(s), none selected ({job.retry.skipped})"
        )
        return 0
    started = time.time()
    write_schema(job.write)
    LOG.info("run %s: %d feed(s) -> %s", job.write.run_id, len(job.sources), job.write.output)
    pipeline, streaming = _build(options, job)
    result = pipeline.run()
    if streaming and not job.stream.duration_seconds and not _is_local(options):
        # An unbounded job on a service runs until drained; the launcher's work is done.
        print(f"wirestream: streaming job submitted ({result.state}); drain it to stop")
        return 0
    result.wait_until_finish()
    finished = time.time()
    progress.stop()
    report = build_report(
        job.write,
        counters_of(result),
        distributions=_distributions(result),
        retry_links=job.retry.links() if job.retry is not None else None,
        gate=job.gate,
        state=job.state_check,
    )
    report.settings = job_settings(job, checked.values)
    report.run = {
        "run_id": job.write.run_id,
        "run_date": checked.values.get("run_date"),
        "started_at": utc_iso_seconds(started),
        "finished_at": utc_iso_seconds(finished),
        "duration_seconds": round(finished - started, 3),
        "runner": str(checked.values.get("runner") or _runner_name(options)),
        "streaming": streaming,
    }
    report.versions = versions()
    path = write_report(report)
    print(format_summary(report))
    print(f"report: {path}")
    for reason in report.gate_failures:  # exit 3: everything is written, but too much failed
        print(f"wirestream: too much failed: {reason}", file=sys.stderr)
    return report.exit_code


def _distributions(result) -> dict[str, dict[str, int]]:
    from pipeline.report import distributions_of

    return distributions_of(result)


def utc_iso_seconds(epoch: float) -> str:
    from datetime import UTC, datetime

    return utc_iso(datetime.fromtimestamp(epoch, UTC))


def _runner_name(options: PipelineOptions) -> str:
    runner = options.view_as(StandardOptions).runner or ""
    return runner if isinstance(runner, str) else type(runner).__name__


def _is_local(options: PipelineOptions) -> bool:
    return "Direct" in _runner_name(options)


def launch(argv: list[str] | None = None) -> int:
    """Submit the job and return at once: what a Dataflow Flex Template launcher must do.

    The launcher is given a few minutes to hand the job to Dataflow and must not wait for it to
    finish, so no run report is written here; the job's files and counters are on GCS and in
    Dataflow's job metrics, and the scheduler's next task checks them (see deploy/README.md).
    """
    checked = _checked(argv, configure=False)
    if isinstance(checked, int):
        return checked
    configured = _configure(checked)
    if isinstance(configured, int):
        return configured
    options, job = configured
    if checked.check:
        print(f"preflight ok: {len(job.sources)} feed(s)")
        return 0
    write_schema(job.write)
    pipeline, _ = _build(options, job)
    result = pipeline.run()
    job_id = getattr(result, "job_id", None)
    print(f"submitted run {job.write.run_id}" + (f" as job {job_id()}" if callable(job_id) else ""))
    return 0


def main() -> None:
    sys.exit(run(configure_logs=True))  # logging with redaction: cli.configure_logging


if __name__ == "__main__":
    main()
