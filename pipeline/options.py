"""The job's flags: ``WirestreamOptions`` (job-level) beside each stage's own typed view.

Stage modules own their flags (``add_arguments``), a typed view of them (a ``PipelineOptions``
subclass such as ``FetchOptions``, read with ``options.view_as``) and the function that builds
the stage's config from that view (``config_from_options``), so a stage and its knobs change
together. Beam registers every ``PipelineOptions`` subclass, so each flag is declared once, by
its stage; ``build_arg_parser`` gathers them all for ``--help``. Parsed options are never
written to: what the job derives from them (the bundled sample, the run identity) is resolved
into ``pipeline.graph.JobConfig``.
"""

from __future__ import annotations

import argparse
from importlib import resources

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import report as accounting
from transforms.core import windowing as streaming
from transforms.dedup import stage as dedup
from transforms.extract import stage as extract
from transforms.fetch import stage as fetch
from transforms.language import stage as language
from transforms.sinks import partitioned as write
from transforms.sources import read_feeds as feeds
from transforms.sources import retry_errors
from transforms.sources.wire import stage as wire
from transforms.tags import stage as tags

STAGES = (
    feeds,
    wire,
    retry_errors,
    fetch,
    extract,
    language,
    tags,
    dedup,
    write,
    streaming,
    accounting,
)


def bundled_sample() -> tuple[str, str]:
    """Paths of the bundled feed list and its replay archive (package data)."""
    root = resources.files("transforms") / "data" / "sample"
    return str(root / "feeds.yaml"), str(root / "sample.warc")


def bundled_wire() -> str:
    """The bundled sample's agency drop folder (the wire originals of its web stories)."""
    return str(resources.files("transforms") / "data" / "sample" / "wire")


def add_core_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("job")
    group.add_argument(
        "--feeds",
        default=None,
        help="Feed list (YAML or OPML), local path or gs://. Default (without --wire_input "
        "too): the bundled sample, replayed offline from its archive, with its agency items.",
    )
    group.add_argument(
        "--run_date",
        default=None,
        help="Logical date (YYYY-MM-DD, or YYYY-MM-DDTHH for hourly runs) this scheduled run "
        "covers; re-running the same run_date replaces that run's files instead of adding "
        "new ones. Default: the start time (UTC).",
    )
    group.add_argument(
        "--run_id",
        default=None,
        help="Name used in this run's file names (default: derived from --run_date, or "
        "'replay' when replaying, else the UTC start time).",
    )
    group.add_argument(
        "--state_location",
        default=None,
        help="Folder (local or gs://) for state kept between scheduled runs (feed state, "
        "dedup fingerprints). Without it every run stands alone.",
    )


class WirestreamOptions(PipelineOptions):
    """The job-level flags, typed: ``options.view_as(WirestreamOptions)``."""

    feeds: str | None
    run_date: str | None
    run_id: str | None
    state_location: str | None

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_core_arguments(parser)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="wirestream: read news feeds, fetch and clean the articles, detect their "
        "language, de-duplicate and tag them, and write a Hive-partitioned archive. With no "
        "arguments it runs the bundled offline sample into ./output. Any Apache Beam "
        "pipeline option (--runner, --direct_num_workers, --project, --region, --temp_location, "
        "--streaming, --setup_file, ...) is passed through to Beam.",
    )
    add_all_arguments(parser)
    return parser


def add_all_arguments(parser: argparse.ArgumentParser) -> None:
    """The job's flags and every stage's, for help and argument checking (not for Beam, which
    finds each stage's typed options class by itself)."""
    add_core_arguments(parser)
    for stage in STAGES:
        stage.add_arguments(parser)
