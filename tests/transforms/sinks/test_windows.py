"""Window-unique file names: a streaming window's start goes into the name, batch names do not
change, and the report and re-run cleanup recognise both shapes."""

from __future__ import annotations

from datetime import UTC, datetime

from apache_beam.transforms.window import GlobalWindow, IntervalWindow

from pipeline.report import window_of
from transforms.sinks.partitioned import window_tag
from transforms.sinks.rerun import run_file_name_pattern

START = datetime(2026, 11, 24, 10, 15, tzinfo=UTC).timestamp()


def test_window_start_is_in_streaming_names_only() -> None:
    assert window_tag(IntervalWindow(START, START + 300)) == "-w20261124T101500Z"
    assert window_tag(GlobalWindow()) == ""


def test_run_files_of_both_modes_match_and_other_runs_do_not() -> None:
    pattern = run_file_name_pattern("live", ".jsonl.gz")
    assert pattern.fullmatch("part-live-00000-of-00001.jsonl.gz")
    assert pattern.fullmatch("part-live-w20261124T101500Z-00000-of-00001.jsonl.gz")
    assert pattern.fullmatch("part-live-w20261124T101500Z-00000-of-00001-p3.jsonl.gz")
    assert not pattern.fullmatch("part-live-2-00000-of-00001.jsonl.gz")
    assert not pattern.fullmatch("part-live-w20261124T101500Z-00000-of-00001.parquet")


def test_report_reads_the_window_back_from_the_name() -> None:
    path = (
        "out/stories/date=2026-11-24/lang=en/part-live-w20261124T101500Z-00000-of-00001-p1.jsonl.gz"
    )
    assert window_of(path) == "20261124T101500Z"
    assert (
        window_of("out/stories/date=2026-11-24/lang=en/part-live-00000-of-00001.jsonl.gz") is None
    )
