"""``python -m pipeline``: parse, run, account. Everything else lives in graph.py and report.py."""

from __future__ import annotations

import logging
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.config import FeedListError
from pipeline.graph import JobConfig, build_pipeline
from pipeline.options import build_arg_parser
from pipeline.report import build_report, counters_of, format_summary, write_report


def run(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    build_arg_parser().parse_known_args(argv)  # --help, and early errors for our own flags
    options = PipelineOptions(argv)
    if not options.view_as(StandardOptions).runner:
        # Without an explicit runner Beam first tries to download Prism; stay offline.
        options.view_as(StandardOptions).runner = "DirectRunner"
    try:
        job = JobConfig.from_options(options)
    except (FeedListError, ValueError, FileNotFoundError) as err:
        print(f"wirestream: {err}", file=sys.stderr)
        return 2
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, job)
    result = pipeline.run()
    result.wait_until_finish()
    report = build_report(job.write, counters_of(result))
    path = write_report(report)
    print(format_summary(report))
    print(f"report: {path}")
    return 0 if report.ok else 1


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run())


if __name__ == "__main__":
    main()
