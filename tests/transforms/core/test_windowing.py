"""Event time, its clamping, and the one windowing strategy of every streaming output."""

from __future__ import annotations

from datetime import UTC, datetime

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from transforms.core.windowing import (
    StreamConfig,
    config_from_options,
    event_time,
    iso_to_seconds,
    premature_expiry,
    stamp,
    windowing,
)

ARRIVAL = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()
CONFIG = StreamConfig(window_minutes=5, allowed_lateness_minutes=60, future_skew_minutes=10)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iso_to_seconds_reads_offsets_and_refuses_junk() -> None:
    assert iso_to_seconds("2026-11-24T12:00:00Z") == ARRIVAL
    assert iso_to_seconds("2026-11-24T14:00:00+02:00") == ARRIVAL
    assert iso_to_seconds("2026-11-24T12:00:00") == ARRIVAL  # naive is UTC
    assert iso_to_seconds("yesterday") is None and iso_to_seconds(None) is None


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-120, "published"),  # two minutes before arrival
        (+300, "published"),  # five minutes ahead: inside the future skew
        (+3600, "arrival"),  # an hour ahead: a wrong clock, not an event time
        (-2 * 3600, "late"),  # beyond the allowed lateness: clamped to the arrival
        (-72 * 3600, "arrival"),  # beyond the horizon
    ],
)
def test_event_time_is_the_sane_published_time_else_the_arrival(
    offset: float, expected: str
) -> None:
    seconds, reason = event_time(iso(ARRIVAL + offset), ARRIVAL, CONFIG)
    assert reason == expected
    assert seconds == (ARRIVAL + offset if expected == "published" else ARRIVAL)


def test_missing_published_time_is_the_arrival() -> None:
    assert event_time(None, ARRIVAL, CONFIG) == (ARRIVAL, "arrival")
    stamped = stamp("x", None, ARRIVAL, CONFIG)
    assert isinstance(stamped, TimestampedValue) and float(stamped.timestamp) == ARRIVAL


def test_expiry_before_the_wall_clock_is_premature() -> None:
    assert premature_expiry(datetime(2999, 1, 1, tzinfo=UTC).timestamp())
    assert not premature_expiry(ARRIVAL)


def test_flags_round_trip_and_bad_values_fail_before_the_job() -> None:
    config = config_from_options(
        PipelineOptions(["--window_minutes=2", "--allowed_lateness_minutes=0"])
    )
    assert (config.window_seconds, config.lateness_seconds) == (120, 0)
    assert config_from_options(PipelineOptions([])) == StreamConfig()
    with pytest.raises(ValueError, match="--window_minutes"):
        config_from_options(PipelineOptions(["--window_minutes=0"]))
    with pytest.raises(ValueError, match="--stream_duration_seconds"):
        config_from_options(PipelineOptions(["--stream_duration_seconds=-1"]))


def test_late_elements_within_the_lateness_get_a_pane_of_their_own() -> None:
    """A window fires on time, then once more per late element; nothing is dropped."""
    start = ARRIVAL - ARRIVAL % 300
    stream = (
        TestStream()
        .advance_watermark_to(start)
        .add_elements([TimestampedValue(("k", "on-time"), start + 10)])
        .advance_watermark_to(start + 400)
        .add_elements([TimestampedValue(("k", "late"), start + 20)])
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with TestPipeline(options=options) as p:
        panes = (
            p
            | stream
            | windowing(CONFIG)
            | beam.GroupByKey()
            | beam.MapTuple(lambda _k, values: sorted(values))
        )
        assert_that(panes, equal_to([["on-time"], ["late"]]))
