"""DetectLanguage: set each story's language, its probability and the runner-up.

The identifier itself lives in ``transforms/language/identifier.py`` (why it combines lingua,
Unicode scripts and langdetect, and how that was measured). This stage builds it once per worker
process (``Shared``: the lingua models take about a gigabyte and seconds to load, and a Dataflow
worker runs several DoFn instances per process), and only when the first story arrives; feeds it
title + body, and passes the page's ``lang`` attribute and the feed's declared language as
evidence. ``und`` is an answer, not a failure:
those stories flow on under ``lang=und``; only an exception becomes a dead letter.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.utils.shared import Shared

from transforms.core.records import DeadLetter, Story
from transforms.language.hints import normalise_hint
from transforms.language.identifier import (
    UND,
    LangIdConfig,
    LanguageGuess,
    LanguageIdentifier,
)

NAMESPACE = "wirestream"
UNDETERMINED = UND
REASON_LANGUAGE_ERROR = "language_error"

__all__ = [
    "UNDETERMINED",
    "DetectLanguage",
    "DetectLanguageFn",
    "LanguageConfig",
    "LanguageGuess",
    "LanguageIdentifier",
    "add_arguments",
    "config_from_options",
]

_DEFAULTS = LangIdConfig()


@dataclass(frozen=True)
class LanguageConfig:
    """Stage knobs; the defaults are the operating point measured by ``benchmarks.language``."""

    min_chars: int = _DEFAULTS.min_chars
    threshold: float = _DEFAULTS.threshold
    close_margin: float = _DEFAULTS.close_margin
    engine: str = _DEFAULTS.engine
    max_chars: int = _DEFAULTS.max_chars
    seed: int = _DEFAULTS.seed
    lingua_low_accuracy: bool = _DEFAULTS.lingua_low_accuracy
    preload_models: bool = _DEFAULTS.preload_models
    use_hints: bool = True

    def __post_init__(self) -> None:
        self.identifier_config()  # validates, so a bad flag fails before the graph is built

    def identifier_config(self) -> LangIdConfig:
        return LangIdConfig(
            min_chars=self.min_chars,
            threshold=self.threshold,
            close_margin=self.close_margin,
            engine=self.engine,
            max_chars=self.max_chars,
            seed=self.seed,
            lingua_low_accuracy=self.lingua_low_accuracy,
            preload_models=self.preload_models,
        )


def text_for_detection(story: Story) -> str:
    """Title and body: the title alone rescues very short bodies, the body dominates otherwise."""
    return f"{story.title}\n{story.text}" if story.title else story.text


class DetectLanguageFn(beam.DoFn):
    DEAD = "dead"

    def __init__(self, config: LanguageConfig, shared_handle: Shared | None = None) -> None:
        self.config = config
        self._shared_handle = shared_handle or Shared()
        self.identifier: LanguageIdentifier | None = None

    def setup(self) -> None:
        # The identifier is acquired with the first story, not here: a worker that is handed no
        # stories (most of a multi-worker run's start, every worker of an empty run) never
        # imports lingua or reads a profile.
        self.answered = Metrics.counter(NAMESPACE, "language_ok")
        self.undetermined = Metrics.counter(NAMESPACE, "language_und")
        self.dead = Metrics.counter(NAMESPACE, "language_dead")
        self.hint_agreed = Metrics.counter(NAMESPACE, "language_hint_agreed")
        self.hint_overruled = Metrics.counter(NAMESPACE, "language_hint_overruled")
        self.confidence = Metrics.distribution(NAMESPACE, "language_confidence_permille")

    def _identifier(self) -> LanguageIdentifier:
        if self.identifier is None:
            identifier_config = self.config.identifier_config()
            self.identifier = self._shared_handle.acquire(
                lambda: LanguageIdentifier(identifier_config), tag=repr(identifier_config)
            )
        return self.identifier

    def process(self, story: Story) -> Iterator[Any]:
        page_lang = story.page_language if self.config.use_hints else None
        feed_hint = story.feed_language if self.config.use_hints else None
        identifier = self._identifier()  # a broken install fails the worker, not each story
        try:
            guess = identifier.detect(text_for_detection(story), page_lang, feed_hint)
        except Exception as err:  # any failure of one story must not stop the bundle
            self.dead.inc()
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                DeadLetter.of_story(
                    story, "language", REASON_LANGUAGE_ERROR, f"{type(err).__name__}: {err}"
                ),
            )
            return
        self._count(guess, page_lang, feed_hint)
        yield story.replace(
            language=guess.language,
            language_confidence=guess.probability,
            language_runner_up=guess.runner_up,
        )

    def _count(self, guess: LanguageGuess, page_lang: str | None, feed_hint: str | None) -> None:
        (self.undetermined if guess.language == UND else self.answered).inc()
        Metrics.counter(NAMESPACE, f"language_by_{guess.method or 'unknown'}").inc()
        Metrics.counter(NAMESPACE, f"language_is_{guess.language}").inc()
        self.confidence.update(round(guess.probability * 1000))
        hints = {normalise_hint(page_lang), normalise_hint(feed_hint)} - {None}
        if hints and guess.language != UND:
            (self.hint_agreed if guess.language in hints else self.hint_overruled).inc()


class DetectLanguage(beam.PTransform):
    """Story -> {"ok": Story with language fields, "dead": DeadLetter}.

    Never rejects: an undetermined language is written under ``lang=und`` for people to see.
    """

    def __init__(self, config: LanguageConfig | None = None) -> None:
        super().__init__()
        self.config = config or LanguageConfig()

    def expand(self, stories: beam.PCollection) -> dict[str, beam.PCollection]:
        results = stories | "DetectLanguage" >> beam.ParDo(
            DetectLanguageFn(self.config)
        ).with_outputs(DetectLanguageFn.DEAD, main="ok")
        return {"ok": results.ok, "dead": results[DetectLanguageFn.DEAD]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("language")
    group.add_argument(
        "--language_threshold",
        type=float,
        default=LanguageConfig.threshold,
        help="Below this probability the language is written as 'und' (default %(default)s).",
    )
    group.add_argument(
        "--language_min_chars",
        type=int,
        default=LanguageConfig.min_chars,
        help="Texts with fewer letters than this get 'und' without a guess (default %(default)s).",
    )
    group.add_argument(
        "--language_close_margin",
        type=float,
        default=LanguageConfig.close_margin,
        help="Inside close language groups (ms/id, bs/hr/sr, nb/nn), with no telling words, "
        "the share of the group's probability the best member needs, else 'und' "
        "(default %(default)s).",
    )
    group.add_argument(
        "--language_engine",
        choices=("combined", "langdetect", "lingua"),
        default=LanguageConfig.engine,
        help="combined: langdetect checked by script and lingua (default); langdetect or "
        "lingua alone are for comparison only.",
    )
    group.add_argument(
        "--language_model",
        choices=("high", "low"),
        default="high",
        help="lingua accuracy mode: high (default; ~1 GB per worker process once every script "
        "has been seen) or low (~95 MB, faster, clearly worse on sentence-length text).",
    )
    group.add_argument(
        "--language_hints",
        choices=("use", "ignore"),
        default="use",
        help="use (default): the page's lang attribute and the feed's language are evidence "
        "weighted against the text, never taken as the answer; ignore: text only.",
    )


class LanguageOptions(PipelineOptions):
    """The language flags, typed: ``options.view_as(LanguageOptions)``."""

    language_threshold: float
    language_min_chars: int
    language_close_margin: float
    language_engine: str
    language_model: str
    language_hints: str

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(options: PipelineOptions) -> LanguageConfig:
    view = options.view_as(LanguageOptions)
    return LanguageConfig(
        threshold=view.language_threshold,
        min_chars=view.language_min_chars,
        close_margin=view.language_close_margin,
        engine=view.language_engine,
        lingua_low_accuracy=view.language_model == "low",
        use_hints=view.language_hints != "ignore",
    )
