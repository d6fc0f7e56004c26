"""ExtractStories: fetched page -> Story, with trafilatura's main-text and metadata extraction.

trafilatura is imported lazily so the DoFn pickles small. Its own ``deduplicate`` option is never
used: it keeps a process-wide cache, so the text it returns depends on what the worker happened to
see before (non-deterministic and destructive); de-duplication is a stage of its own.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.records import (
    DeadLetter,
    FetchedPage,
    Rejected,
    Story,
    content_hash_for,
    excerpt,
    story_id_for,
)

LOG = logging.getLogger(__name__)
NAMESPACE = "wirestream"

REASON_TOO_SHORT = "too_short"
REASON_NO_TEXT = "no_text"
REASON_EXTRACT_ERROR = "extract_error"


@dataclass(frozen=True)
class ExtractConfig:
    min_chars: int = 200
    favor_precision: bool = False
    favor_recall: bool = False
    include_tables: bool = True


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def extract_story(page: FetchedPage, config: ExtractConfig) -> Story | Rejected:
    import trafilatura

    entry = page.entry
    doc = trafilatura.bare_extraction(
        page.html,
        url=page.final_url,
        with_metadata=True,
        include_comments=False,
        include_tables=config.include_tables,
        favor_precision=config.favor_precision,
        favor_recall=config.favor_recall,
        deduplicate=False,
    )
    text = (doc.text or "").strip() if doc is not None else ""
    title = (doc.title if doc is not None else None) or entry.title
    lines = text.split("\n")
    if lines and lines[0].strip() == (title or "").strip():
        text = "\n".join(lines[1:]).strip()
    text_source = "page"
    if len(text) < config.min_chars and len(entry.summary) > len(text):
        text, text_source = entry.summary, "feed_summary"
    canonical = entry.canonical_url
    if not text:
        return Rejected(
            stage="extract",
            reason=REASON_NO_TEXT,
            url=entry.url,
            story_id=story_id_for(canonical),
            entry_id=entry.entry_id,
            at=page.fetched_at,
        )
    if len(text) < config.min_chars:
        return Rejected(
            stage="extract",
            reason=REASON_TOO_SHORT,
            url=entry.url,
            story_id=story_id_for(canonical),
            entry_id=entry.entry_id,
            at=page.fetched_at,
            detail=f"{len(text)} characters",
        )
    tags = tuple(
        t.strip()
        for raw in ((doc.tags or []) + (doc.categories or []) if doc else [])
        for t in raw.split(",")
        if t.strip()
    )
    authors = tuple(a.strip() for a in (doc.author or "").split(";") if a.strip()) if doc else ()
    return Story(
        story_id=story_id_for(canonical),
        entry_id=entry.entry_id,
        url=entry.url,
        canonical_url=canonical,
        site=_site(canonical),
        feed_url=entry.feed_url,
        title=title or "",
        text=text,
        summary=entry.summary,
        description=(doc.description or "") if doc else "",
        sitename=(doc.sitename or "") if doc else "",
        authors=authors or entry.authors,
        published_at=entry.published_at,
        fetched_at=page.fetched_at,
        content_hash=content_hash_for(text),
        text_source=text_source,
        tags=tuple(dict.fromkeys(tags + entry.categories)),
    )


class ExtractStoryFn(beam.DoFn):
    DEAD = "dead"
    REJECTED = "rejected"

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config
        self.extracted = Metrics.counter(NAMESPACE, "extract_ok")
        self.text_chars = Metrics.distribution(NAMESPACE, "extract_text_chars")

    def process(self, page: FetchedPage) -> Iterator:
        try:
            result = extract_story(page, self.config)
        except Exception as err:
            Metrics.counter(NAMESPACE, "extract_dead").inc()
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                DeadLetter(
                    stage="extract",
                    reason=REASON_EXTRACT_ERROR,
                    url=page.entry.url,
                    error=f"{type(err).__name__}: {err}",
                    payload=excerpt(page.html, 500),
                    entry_id=page.entry.entry_id,
                    feed_url=page.entry.feed_url,
                    at=page.fetched_at,
                ),
            )
            return
        if isinstance(result, Rejected):
            Metrics.counter(NAMESPACE, f"extract_rejected_{result.reason}").inc()
            yield beam.pvalue.TaggedOutput(self.REJECTED, result)
            return
        self.extracted.inc()
        self.text_chars.update(len(result.text))
        yield result


class ExtractStories(beam.PTransform):
    """FetchedPage -> {"ok": Story, "rejected": Rejected, "dead": DeadLetter}."""

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, pages):
        results = pages | "ExtractStory" >> beam.ParDo(ExtractStoryFn(self.config)).with_outputs(
            ExtractStoryFn.DEAD, ExtractStoryFn.REJECTED, main="ok"
        )
        return {
            "ok": results.ok,
            "rejected": results[ExtractStoryFn.REJECTED],
            "dead": results[ExtractStoryFn.DEAD],
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("extraction")
    group.add_argument(
        "--min_chars",
        type=int,
        default=ExtractConfig.min_chars,
        help="Stories with fewer characters of cleaned text are rejected as too_short.",
    )


def config_from_options(options) -> ExtractConfig:
    opts = options.get_all_options()
    return ExtractConfig(min_chars=opts.get("min_chars") or ExtractConfig.min_chars)
