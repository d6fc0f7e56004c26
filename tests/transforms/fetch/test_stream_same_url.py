"""CollapseSameUrlInWindows: riders in on-time panes, every entry fetched in late panes."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from transforms.core.records import FeedEntry
from transforms.core.windowing import StreamConfig, windowing
from transforms.fetch.stream_same_url import CollapseSameUrlInWindows

START = 1_795_000_000 - 1_795_000_000 % 300
URL = "https://news.example/a"


def entry(entry_id: str, url: str = URL) -> FeedEntry:
    return FeedEntry(
        entry_id=entry_id,
        feed_url="https://news.example/feed",
        feed_name="Example",
        url=url,
        canonical_url=url,
        title=entry_id,
    )


def test_same_url_rides_on_time_and_is_fetched_again_when_late() -> None:
    config = StreamConfig(window_minutes=5, allowed_lateness_minutes=60)
    stream = (
        TestStream()
        .advance_watermark_to(START)
        .add_elements(
            [
                TimestampedValue(entry("e2"), START + 5),
                TimestampedValue(entry("e1"), START + 6),
                TimestampedValue(entry("other", "https://news.example/b"), START + 7),
            ]
        )
        .advance_watermark_to(START + 400)
        .add_elements(
            [TimestampedValue(entry("e3"), START + 8), TimestampedValue(entry("e4"), START + 9)]
        )
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with TestPipeline(options=options) as p:
        entries = p | stream | windowing(config)
        collapsed = entries | CollapseSameUrlInWindows()
        fetched = collapsed["ok"] | "OkIds" >> beam.Map(lambda e: e.entry_id)
        riders = collapsed["riders"] | "RiderIds" >> beam.MapTuple(
            lambda winner, rider: (winner, rider.entry_id)
        )
        # On time: e1 (first by id) is fetched, e2 rides on it. Late: nothing rides.
        assert_that(fetched, equal_to(["e1", "other", "e3", "e4"]), label="Fetched")
        assert_that(riders, equal_to([("e1", "e2")]), label="Riders")
