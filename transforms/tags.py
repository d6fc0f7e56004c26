"""TagStories: publisher tags and feed categories, normalised once per story.

Tags arrive from three places (page metadata, feed categories, the feed list's own tags) in
whatever case and spacing each publisher uses; they are merged case-insensitively, keeping the
first spelling seen, so ``Belarus`` and ``belarus`` become one tag and the order is stable.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.records import Story

NAMESPACE = "wirestream"


@dataclass(frozen=True)
class TagConfig:
    max_tags: int = 50


def normalise_tags(raw: Iterable[str], limit: int = 50) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for tag in raw:
        clean = " ".join(tag.split()).strip(" ,;#")
        if clean and clean.casefold() not in seen:
            seen[clean.casefold()] = clean
    return tuple(seen.values())[:limit]


class TagStoryFn(beam.DoFn):
    def __init__(self, config: TagConfig) -> None:
        self.config = config
        self.tagged = Metrics.counter(NAMESPACE, "tags_ok")

    def process(self, story: Story) -> Iterator[Story]:
        self.tagged.inc()
        yield story.replace(tags=normalise_tags(story.tags, self.config.max_tags))


class TagStories(beam.PTransform):
    """Story -> {"ok": Story with normalised tags, "dead": DeadLetter}."""

    def __init__(self, config: TagConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, stories):
        tagged = stories | "TagStory" >> beam.ParDo(TagStoryFn(self.config))
        dead = stories.pipeline | "NoTagFailures" >> beam.Create([])
        return {"ok": tagged, "dead": dead}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Tagging flags (taxonomy, agencies) arrive with the tagging stage proper."""


def config_from_options(options) -> TagConfig:
    return TagConfig()
