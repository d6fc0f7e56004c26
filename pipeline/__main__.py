"""``python -m pipeline``: parse, run, account. Everything else lives in graph.py and report.py."""

from __future__ import annotations

import logging
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.config import FeedListError
from pipeline.graph import JobConfig, build_pipeline, build_streaming_pipeline
from pipeline.options import build_arg_parser
from pipeline.report import build_report, counters_of, format_summary, write_report
from transforms.core.redact import install_log_redaction


def job_settings(job: JobConfig) -> dict[str, str]:
    """What decided this run's output, recorded beside it so a later reader can tell runs apart."""
    return {
        "run_id": job.write.run_id,
        "format": job.write.file_format,
        "partition_by": ",".join(job.write.partition_by),
        "dedup": str(job.dedup.minhash),
        "language": str(job.language),
        "extract": str(job.extract),
        "feeds": str(len(job.sources)),
    }


def _configure(argv: list[str] | None) -> tuple[PipelineOptions, JobConfig] | int:
    """Parse, default the runner, and run the preflight checks; an int is an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    build_arg_parser().parse_known_args(argv)  # --help, and early errors for our own flags
    options = PipelineOptions(argv)
    if not options.view_as(StandardOptions).runner:
        # Without an explicit runner Beam first tries to download Prism; stay offline.
        options.view_as(StandardOptions).runner = "DirectRunner"
    try:
        return options, JobConfig.from_options(options)
    except (FeedListError, ValueError, FileNotFoundError) as err:
        print(f"wirestream: {err}", file=sys.stderr)
        return 2


def run(argv: list[str] | None = None) -> int:
    configured = _configure(argv)
    if isinstance(configured, int):
        return configured
    options, job = configured
    pipeline = beam.Pipeline(options=options)
    streaming = bool(options.view_as(StandardOptions).streaming)
    if streaming:
        build_streaming_pipeline(pipeline, job)
    else:
        build_pipeline(pipeline, job)
    result = pipeline.run()
    if streaming and not job.stream.duration_seconds and not _is_local(options):
        # An unbounded job on a service runs until drained; the launcher's work is done.
        print(f"wirestream: streaming job submitted ({result.state}); drain it to stop")
        return 0
    result.wait_until_finish()
    report = build_report(job.write, counters_of(result), gate=job.gate, state=job.state_check)
    report.settings = job_settings(job)
    path = write_report(report)
    print(format_summary(report))
    print(f"report: {path}")
    for reason in report.gate_failures:  # exit 3: everything is written, but too much failed
        print(f"wirestream: too much failed: {reason}", file=sys.stderr)
    return report.exit_code


def _is_local(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner or ""
    return "Direct" in runner if isinstance(runner, str) else "Direct" in type(runner).__name__


def launch(argv: list[str] | None = None) -> int:
    """Submit the job and return at once: what a Dataflow Flex Template launcher must do.

    The launcher is given a few minutes to hand the job to Dataflow and must not wait for it to
    finish, so no run report is written here; the job's files and counters are on GCS and in
    Dataflow's job metrics, and the scheduler's next task checks them (see deploy/README.md).
    """
    configured = _configure(argv)
    if isinstance(configured, int):
        return configured
    options, job = configured
    pipeline = beam.Pipeline(options=options)
    if options.view_as(StandardOptions).streaming:
        build_streaming_pipeline(pipeline, job)
    else:
        build_pipeline(pipeline, job)
    result = pipeline.run()
    job_id = getattr(result, "job_id", None)
    print(f"submitted run {job.write.run_id}" + (f" as job {job_id()}" if callable(job_id) else ""))
    return 0


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # no credential in any log line (transforms/core/redact.py)
    sys.exit(run())


if __name__ == "__main__":
    main()
