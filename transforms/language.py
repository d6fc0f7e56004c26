"""DetectLanguage: set each story's language, its probability and the runner-up.

langdetect is randomised by design; a private factory with a fixed seed makes every worker give
the same answer for the same text. Below the probability threshold, or for texts too short to
tell, the answer is ``und``: a confident wrong label is worse than none.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.records import DeadLetter, Story, excerpt

NAMESPACE = "wirestream"
UNDETERMINED = "und"


@dataclass(frozen=True)
class LanguageConfig:
    min_chars: int = 20
    threshold: float = 0.80
    seed: int = 0


@dataclass(frozen=True)
class LanguageGuess:
    language: str
    probability: float
    runner_up: str | None


class LanguageIdentifier:
    def __init__(self, config: LanguageConfig) -> None:
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

        self.config = config
        self._factory = DetectorFactory()
        self._factory.load_profile(PROFILES_DIRECTORY)
        self._factory.set_seed(config.seed)

    def detect(self, text: str) -> LanguageGuess:
        from langdetect.lang_detect_exception import LangDetectException

        sample = " ".join(text.split())[:5000]
        if len(sample) < self.config.min_chars:
            return LanguageGuess(UNDETERMINED, 0.0, None)
        detector = self._factory.create()
        detector.append(sample)
        try:
            ranked = detector.get_probabilities()
        except LangDetectException:
            return LanguageGuess(UNDETERMINED, 0.0, None)
        best = ranked[0]
        runner_up = ranked[1].lang if len(ranked) > 1 else None
        language = best.lang.split("-")[0]
        if best.prob < self.config.threshold:
            return LanguageGuess(UNDETERMINED, round(best.prob, 4), language)
        return LanguageGuess(language, round(best.prob, 4), runner_up)


class DetectLanguageFn(beam.DoFn):
    DEAD = "dead"

    def __init__(self, config: LanguageConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.identifier = LanguageIdentifier(self.config)

    def process(self, story: Story) -> Iterator:
        try:
            guess = self.identifier.detect(f"{story.title}\n{story.text}")
        except Exception as err:
            Metrics.counter(NAMESPACE, "language_dead").inc()
            yield beam.pvalue.TaggedOutput(
                self.DEAD,
                DeadLetter(
                    stage="language",
                    reason="language_error",
                    url=story.url,
                    error=f"{type(err).__name__}: {err}",
                    payload=excerpt(story.text, 500),
                    entry_id=story.entry_id,
                    feed_url=story.feed_url,
                    at=story.fetched_at,
                ),
            )
            return
        Metrics.counter(NAMESPACE, f"language_{guess.language}").inc()
        yield story.replace(
            language=guess.language,
            language_confidence=guess.probability,
            language_runner_up=guess.runner_up,
        )


class DetectLanguage(beam.PTransform):
    """Story -> {"ok": Story with language fields, "dead": DeadLetter}."""

    def __init__(self, config: LanguageConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, stories):
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
        help="Below this probability the language is written as 'und'.",
    )


def config_from_options(options) -> LanguageConfig:
    opts = options.get_all_options()
    threshold = opts.get("language_threshold")
    return LanguageConfig(threshold=LanguageConfig.threshold if threshold is None else threshold)
