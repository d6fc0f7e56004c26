"""Window-unique file names: a streaming window's start goes into the name, batch names do not
change, and the report and re-run cleanup recognise both shapes."""

from __future__ import annotations

from datetime import UTC, datetime

from apache_beam.transforms.window import GlobalWindow, IntervalWindow

from transforms.sinks.naming import file_base, run_file_pattern, window_of, with_pane
from transforms.sinks.partitioned import window_start

START = datetime(2026, 11, 24, 10, 15, tzinfo=UTC).timestamp()


def test_window_start_is_in_streaming_names_only() -> None:
    start = window_start(IntervalWindow(START, START + 300))
    assert start == "20261124T101500Z"
    assert window_start(GlobalWindow()) == ""
    assert file_base("live", 0, 1, start) == "part-live-w20261124T101500Z-00000-of-00001"
    assert file_base("daily", 2, 4) == "part-daily-00002-of-00004"
    assert with_pane("part-live-00000-of-00001", 0) == "part-live-00000-of-00001"
    assert with_pane("part-live-00000-of-00001", 2) == "part-live-00000-of-00001-p2"


def test_run_files_of_both_modes_match_and_other_runs_do_not() -> None:
    pattern = run_file_pattern("live", ".jsonl.gz")
    assert pattern.fullmatch("part-live-00000-of-00001.jsonl.gz")
    assert pattern.fullmatch("part-live-w20261124T101500Z-00000-of-00001.jsonl.gz")
    assert pattern.fullmatch("part-live-w20261124T101500Z-00000-of-00001-p3.jsonl.gz")
    assert not pattern.fullmatch("part-live-2-00000-of-00001.jsonl.gz")
    # --shards beyond 99,999: the names grow past five digits and are still the run's files
    # (they used to be left out of the report's count: exit 1, "0 on disk")
    wide = file_base("live", 123456, 200000)
    assert wide == "part-live-123456-of-200000"
    assert pattern.fullmatch(wide + ".jsonl.gz")
    assert not pattern.fullmatch("part-live-w20261124T101500Z-00000-of-00001.parquet")


def test_report_reads_the_window_back_from_the_name() -> None:
    path = (
        "out/stories/date=2026-11-24/lang=en/part-live-w20261124T101500Z-00000-of-00001-p1.jsonl.gz"
    )
    assert window_of(path) == "20261124T101500Z"
    assert (
        window_of("out/stories/date=2026-11-24/lang=en/part-live-00000-of-00001.jsonl.gz") is None
    )
