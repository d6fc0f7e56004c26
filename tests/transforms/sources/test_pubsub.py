"""Pub/Sub adapters: message parsing, the canonical-id message, and how the graph wires them.

No Pub/Sub emulator is available here, so the source's parsing DoFn runs under TestStream in
test_streaming_graph.py (TestStream in place of ReadFromPubSub), the sink's message-building
DoFn is called directly, and the graph test checks that the reader and writer are wired with
the configured subscription and topic.
"""

from __future__ import annotations

import dataclasses
import json

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import ReadFromPubSub, WriteToPubSub
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.graph import JobConfig, build_streaming_pipeline
from transforms.core.records import Story, stable_hash
from transforms.sources.pubsub import CanonicalIdMessageFn, entry_from_message


def test_bare_url_message_is_an_entry() -> None:
    entry = entry_from_message(b" https://Example.org/a?utm_source=x#top \n")
    assert entry.url.startswith("https://") and "#" not in entry.url
    assert entry.canonical_url == "https://example.org/a"
    assert entry.feed_url == "pubsub:"
    assert entry.entry_id == stable_hash("pubsub:", entry.canonical_url)
    assert entry.published_at is None


def test_json_message_is_an_entry_and_redelivery_is_the_same_entry() -> None:
    body = {
        "url": "https://example.org/b",
        "title": "<b>Title</b>",
        "published_at": "2026-11-24T10:00:00Z",
        "feed_url": "https://example.org/rss",
        "guid": "g-1",
        "categories": ["World", "Europe"],
        "authors": "A. Writer",
        "language": "en",
    }
    data = json.dumps(body).encode()
    entry = entry_from_message(data)
    assert entry == entry_from_message(data)
    assert entry.entry_id == stable_hash("https://example.org/rss", "g-1")
    assert (entry.title, entry.published_at, entry.language_hint) == (
        "Title",
        "2026-11-24T10:00:00Z",
        "en",
    )
    assert entry.categories == ("World", "Europe") and entry.authors == ("A. Writer",)


@pytest.mark.parametrize(
    "data", [b"not a url", b"ftp://example.org/x", b'{"title": "no url"}', b"[1, 2]", b"\xff\xfe"]
)
def test_bad_messages_raise_value_errors(data: bytes) -> None:
    with pytest.raises((ValueError, UnicodeDecodeError)):
        entry_from_message(data)


def test_canonical_id_message() -> None:
    story = Story(
        story_id="s1",
        entry_id="e1",
        url="https://example.org/a?x=1",
        canonical_url="https://example.org/a",
        site="example.org",
        feed_url="https://example.org/rss",
        title="Title",
        text="Body",
        fetched_at="2026-11-24T10:00:00Z",
        published_at="2026-11-24T09:00:00Z",
        language="en",
        cluster_id="s1",
        cluster_size=3,
    )
    (message,) = list(CanonicalIdMessageFn().process(story))
    assert json.loads(message.data) == {
        "story_id": "s1",
        "cluster_id": "s1",
        "canonical_url": "https://example.org/a",
        "published_at": "2026-11-24T09:00:00Z",
        "language": "en",
        "title": "Title",
    }
    assert message.attributes == {"story_id": "s1", "language": "en"}


def test_graph_reads_the_subscription_and_publishes_to_the_topic() -> None:
    options = PipelineOptions(
        [
            "--streaming",
            "--pubsub_subscription",
            "projects/news-project/subscriptions/entries",
            "--pubsub_topic",
            "projects/news-project/topics/canonical",
        ]
    )
    job = dataclasses.replace(JobConfig.from_options(options), sources=())
    pipeline = beam.Pipeline(options=options)
    build_streaming_pipeline(pipeline, job)
    found: dict[str, beam.PTransform] = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node) -> None:
            found[node.full_label] = node.transform

        def visit_transform(self, node) -> None:
            found[node.full_label] = node.transform

    pipeline.visit(Visitor())
    reader = found["ReadPubSub"]
    writer = found["PublishCanonicalIds"]
    assert isinstance(reader, ReadFromPubSub) and isinstance(writer, WriteToPubSub)
    assert reader._source.full_subscription == "projects/news-project/subscriptions/entries"
    assert writer._sink.full_topic == "projects/news-project/topics/canonical"
    assert "PollFeeds" not in found  # no feed list: Pub/Sub is the only source


@pytest.mark.parametrize(
    "flags",
    [
        ["--pubsub_subscription", "entries"],
        ["--pubsub_topic", "projects/x/topics/t"],
    ],
)
def test_bad_pubsub_names_fail_before_the_job_starts(flags: list[str]) -> None:
    with pytest.raises(ValueError, match="PubSub"):
        JobConfig.from_options(PipelineOptions(["--streaming", *flags]))
