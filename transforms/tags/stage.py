"""TagStories: agency, places, publisher tags and topics for every story.

What each field means (and how the writer partitions by it):

* ``agency``: the wire service's code (``TASS``, ``Reuters``, ``AP``, ...; see
  ``data/agencies.yaml`` and ``--agencies``) from the raw agency, a head or tail credit, or the
  byline (``transforms/tags/agencies.py``). A raw agency the list does not know is kept as read.
* ``places``: ISO 3166-1 alpha-2 codes, the dateline country first, then most mentioned;
  ``place_mentions`` the (code, count) pairs in the same order; ``cities`` major cities,
  dateline city first; ``dateline_country`` the country of ``dateline_place``
  (``transforms/tags/place_mentions.py`` documents the matching rules, ``places.py`` the
  ambiguity rules).
* ``tags``: publisher tags and feed categories plus a trailing tag line, normalised
  (``transforms/tags/publisher_tags.py``).
* ``topics``: taxonomy topic ids, best-scoring first (``transforms/tags/topics.py``,
  ``--taxonomy``).

Gazetteer, automata and credit patterns are built once per worker process (``Shared``), keyed
by the configuration so two differently configured stages never share one.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.utils import shared

from transforms.core.records import DeadLetter, Story

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"


@dataclass(frozen=True)
class TagConfig:
    """Tagging knobs; paths may be local or ``gs://`` (read with Beam's FileSystems)."""

    taxonomy: str | None = None  # None: the bundled news-desk taxonomy
    agencies: str | None = None  # None: the bundled agency list only
    min_city_population: int = 150_000
    max_tags: int = 30


class Tagger:
    """Everything tagging needs, compiled; one per process (see ``TagStoryFn.setup``)."""

    def __init__(self, config: TagConfig) -> None:
        from transforms.tags.agencies import AgencyMatcher, load_agencies
        from transforms.tags.places import Gazetteer, PlacesConfig
        from transforms.tags.topics import TopicMatcher, load_taxonomy

        self.config = config
        self.gazetteer = Gazetteer.build(
            PlacesConfig(min_city_population=config.min_city_population)
        )
        self.agencies = AgencyMatcher(load_agencies(config.agencies))
        self.topics = TopicMatcher(load_taxonomy(config.taxonomy))

    def tag(self, story: Story) -> tuple[Story, str]:
        """The tagged story and where its agency came from ("" when none was found)."""
        from transforms.tags.publisher_tags import normalise_tags, trailing_tag_line

        agency, source = self.agencies.match(story.agency, story.text, story.authors, story.site)
        if agency is None and story.agency and story.agency.strip(" /()[]"):
            agency, source = story.agency.strip(" /()[]"), "raw_unknown"
        places = self.gazetteer.tag(story.title, story.text, story.dateline_place, story.language)
        tags = normalise_tags([*story.tags, *trailing_tag_line(story.text)])
        tagged = story.replace(
            agency=agency,
            dateline_country=places.dateline_country,
            places=places.places,
            place_mentions=places.place_mentions,
            cities=places.cities,
            tags=tags[: self.config.max_tags],
            topics=self.topics.topics(
                story.title, story.text, story.canonical_url or story.url, tags
            ),
        )
        return tagged, source


class TagStoryFn(beam.DoFn):
    DEAD = "dead"

    def __init__(self, config: TagConfig) -> None:
        self.config = config
        self._shared = shared.Shared()

    def setup(self) -> None:
        self.tagger = self._shared.acquire(lambda: Tagger(self.config), tag=repr(self.config))

    def process(self, story: Story) -> Iterator:
        try:
            tagged, source = self.tagger.tag(story)
        except Exception as err:
            Metrics.counter(NAMESPACE, "tags_dead").inc()
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                DeadLetter.of_story(story, "tags", "tagging_error", f"{type(err).__name__}: {err}"),
            )
            return
        Metrics.counter(NAMESPACE, "tags_ok").inc()
        Metrics.counter(NAMESPACE, f"tags_agency_{source or 'none'}").inc()
        Metrics.counter(NAMESPACE, "tags_places" if tagged.places else "tags_no_places").inc()
        Metrics.counter(NAMESPACE, "tags_topics" if tagged.topics else "tags_no_topics").inc()
        yield tagged


class TagStories(beam.PTransform):
    """Story -> {"ok": Story with agency, places, cities, tags and topics, "dead": DeadLetter}."""

    def __init__(self, config: TagConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, stories):
        results = stories | "TagStory" >> beam.ParDo(TagStoryFn(self.config)).with_outputs(
            TagStoryFn.DEAD, main="ok"
        )
        return {"ok": results.ok, "dead": results[TagStoryFn.DEAD]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tags")
    group.add_argument(
        "--taxonomy",
        default=None,
        help="Topic taxonomy YAML (local path or gs://) replacing the bundled news-desk one; "
        "format in the README and transforms/data/taxonomy.yaml.",
    )
    group.add_argument(
        "--agencies",
        default=None,
        help="YAML list of extra wire agencies (local path or gs://), merged over the bundled "
        "list by code ('replace: true' drops the bundled ones); format in "
        "transforms/data/agencies.yaml.",
    )
    group.add_argument(
        "--min_city_population",
        type=int,
        default=TagConfig.min_city_population,
        help="Smallest city (geonames population) that counts as a place mention on its own; "
        "capitals always count.",
    )


class TagOptions(PipelineOptions):
    """The tagging flags, typed: ``options.view_as(TagOptions)``."""

    taxonomy: str | None
    agencies: str | None
    min_city_population: int

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(options: PipelineOptions) -> TagConfig:
    view = options.view_as(TagOptions)
    config = TagConfig(
        taxonomy=view.taxonomy or None,
        agencies=view.agencies or None,
        min_city_population=view.min_city_population,
    )
    if config.taxonomy or config.agencies:
        preflight(config)
    return config


def preflight(config: TagConfig) -> None:
    """Fail before the job starts when a user file is missing or malformed, saying which."""
    from transforms.tags.agencies import load_agencies
    from transforms.tags.topics import load_taxonomy

    try:
        load_taxonomy(config.taxonomy)
    except Exception as err:
        raise ValueError(f"--taxonomy {config.taxonomy}: {err}") from err
    try:
        load_agencies(config.agencies)
    except Exception as err:
        raise ValueError(f"--agencies {config.agencies}: {err}") from err
