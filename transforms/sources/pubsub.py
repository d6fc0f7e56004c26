"""Optional Pub/Sub source of entries and sink of canonical story ids (streaming mode only).

Source (``--pubsub_subscription``): each message body is either a bare http(s) URL or a JSON
object shaped like a feed entry::

    {"url": "https://...", "title": "...", "summary": "...", "published_at": "2026-11-24T10:00:00Z",
     "feed_url": "https://.../rss.xml", "feed_name": "...", "guid": "...",
     "categories": ["..."], "authors": ["..."], "language": "en"}

Only ``url`` is required. The entry id is a hash of the feed URL (``pubsub:`` when absent) and
the guid (else the canonical URL), as for feed entries, so a message redelivered by Pub/Sub
becomes the same entry and is de-duplicated as ``same_url``. The arrival time is the message's
publish time (the element timestamp ReadFromPubSub gives), and event time follows
``transforms.core.windowing``. A message that is not a URL or such an object is a dead letter
(``pubsub/bad_message``) with no entry id: it never became an entry, so it is outside the entry
accounting.

Sink (``--pubsub_topic``): one message per canonical story, body JSON
``{"story_id", "cluster_id", "canonical_url", "published_at", "language", "title"}`` and the
attributes ``story_id`` and ``language`` for subscription filters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue

from transforms.core.records import DeadLetter, FeedEntry, FeedSource, Story, excerpt, now_iso
from transforms.core.windowing import StreamConfig, stamp
from transforms.sources.feed_parse import RawEntry, normalise_entry, parse_iso_datetime

NAMESPACE = "wirestream"
DEAD = "dead"
PUBSUB_FEED = "pubsub:"
REASON_BAD_MESSAGE = "bad_message"


def _strings(value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if str(v).strip()]


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def entry_from_message(data: bytes) -> FeedEntry:
    """Message body -> FeedEntry; raises ValueError with the reason for anything else.

    The fields go through the feed reader's own normalisation (``feedparse.normalise_entry``):
    the same canonical URL, entry id, text cleaning and limits as an entry read from a feed.
    """
    text = data.decode("utf-8").strip()
    if text.startswith("{"):
        fields = json.loads(text)
        if not isinstance(fields, dict):
            raise ValueError("the JSON message is not an object")
    else:
        fields = {"url": text}
    url = fields.get("url")
    if not isinstance(url, str) or not url.strip().lower().startswith(("http://", "https://")):
        raise ValueError(f"the message has no http(s) url: {str(url)[:200]!r}")
    feed_url = _text(fields.get("feed_url")).strip() or PUBSUB_FEED
    raw = RawEntry(
        link=url.strip(),
        guid=_text(fields.get("guid")),
        title=_text(fields.get("title")),
        title_is_html=True,
        summary=_text(fields.get("summary")),
        summary_is_html=True,
        published=parse_iso_datetime(_text(fields.get("published_at")) or None),
        categories=_strings(fields.get("categories")),
        authors=_strings(fields.get("authors")),
        language=_text(fields.get("language")) or None,
    )
    source = FeedSource(url=feed_url, name=_text(fields.get("feed_name")) or "pubsub")
    entry = normalise_entry(raw, source, base_url=url.strip())
    if entry is None:
        raise ValueError(f"the message url is not a usable link: {url[:200]!r}")
    return entry


class ParseEntryMessageFn(beam.DoFn):
    """Pub/Sub message body (bytes) -> FeedEntry stamped with event time, or a dead letter."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config

    def process(self, data: bytes, arrival=beam.DoFn.TimestampParam) -> Iterator:
        if isinstance(data, PubsubMessage):
            data = data.data
        try:
            entry = entry_from_message(data)
        except (ValueError, UnicodeDecodeError) as err:
            Metrics.counter(NAMESPACE, "pubsub_bad_message").inc()
            dead = DeadLetter(
                stage="pubsub",
                reason=REASON_BAD_MESSAGE,
                url="",
                error=str(err),
                payload=excerpt(data, 500),
                at=now_iso(),
            )
            yield beam.pvalue.TaggedOutput(DEAD, TimestampedValue(dead, arrival))
            return
        Metrics.counter(NAMESPACE, "pubsub_entries").inc()
        Metrics.counter(NAMESPACE, "entries_read").inc()
        yield stamp(entry, entry.published_at, float(arrival), self.config)


class ParseEntryMessages(beam.PTransform):
    """Message bodies -> {"ok": FeedEntry with event time, "dead": DeadLetter}."""

    def __init__(self, config: StreamConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, messages):
        results = messages | "ParseEntryMessage" >> beam.ParDo(
            ParseEntryMessageFn(self.config)
        ).with_outputs(DEAD, main="ok")
        return {"ok": results.ok, "dead": results[DEAD]}


class CanonicalIdMessageFn(beam.DoFn):
    """Canonical Story -> PubsubMessage announcing its id (for WriteToPubSub)."""

    def process(self, story: Story) -> Iterator[PubsubMessage]:
        body = {
            "story_id": story.story_id,
            "cluster_id": story.cluster_id or story.story_id,
            "canonical_url": story.canonical_url,
            "published_at": story.published_at,
            "language": story.language,
            "title": story.title,
        }
        Metrics.counter(NAMESPACE, "pubsub_published").inc()
        yield PubsubMessage(
            data=json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8"),
            attributes={"story_id": story.story_id, "language": story.language},
        )
