"""DetectLanguage under a real DirectRunner, and its flags."""

from __future__ import annotations

import argparse

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.core.records import Story
from transforms.language.stage import (
    DetectLanguage,
    DetectLanguageFn,
    LanguageConfig,
    add_arguments,
    config_from_options,
)

TEXTS = {
    "en": (
        "Lukashenko does not expect relations with the United States to change",
        "President Alexander Lukashenko said on Saturday that he did not expect relations "
        "between Minsk and Washington to change after the American election.",
    ),
    "be": (
        "Лукашэнка не чакае змен у адносінах з ЗША",
        "Прэзідэнт Аляксандр Лукашэнка заявіў у суботу, што не чакае змен у адносінах "
        "паміж Мінскам і Вашынгтонам пасля выбараў у Злучаных Штатах.",
    ),
    "ru": (
        "Лукашенко не ждет перемен в отношениях с США",
        "Президент Александр Лукашенко заявил в субботу, что не ожидает изменений в "
        "отношениях между Минском и Вашингтоном после выборов в Соединенных Штатах.",
    ),
    "uk": (
        "Лукашенко не чекає змін у відносинах зі США",
        "Президент Олександр Лукашенко заявив у суботу, що не очікує змін у відносинах "
        "між Мінськом і Вашингтоном після виборів у Сполучених Штатах.",
    ),
}


def _story(key: str, title: str, text, **kw) -> Story:
    return Story(
        story_id=f"s-{key}",
        entry_id=f"e-{key}",
        url=f"https://news.example/{key}",
        canonical_url=f"https://news.example/{key}",
        site="news.example",
        feed_url="https://news.example/feed",
        title=title,
        text=text,
        fetched_at="2026-11-24T06:00:00Z",
        **kw,
    )


def _pipeline() -> TestPipeline:
    return TestPipeline(runner="DirectRunner", options=PipelineOptions(["--runner=DirectRunner"]))


def test_stories_get_language_confidence_and_runner_up() -> None:
    stories = [_story(code, title, text) for code, (title, text) in TEXTS.items()]
    stories.append(_story("short", "", "Minsk today"))
    p = _pipeline()
    out = p | "Create" >> beam.Create(stories) | "Detect" >> DetectLanguage(LanguageConfig())
    assert_that(
        out["ok"] | "Languages" >> beam.Map(lambda s: (s.story_id, s.language)),
        equal_to([(f"s-{code}", code) for code in TEXTS] + [("s-short", "und")]),
        label="CheckLanguages",
    )
    assert_that(
        out["ok"]
        | "Sure"
        >> beam.Map(
            lambda s: (
                s.language == "und"
                or (0.5 <= s.language_confidence <= 1.0 and s.language_runner_up != s.language)
            )
        ),
        equal_to([True] * (len(TEXTS) + 1)),
        label="CheckConfidence",
    )
    assert_that(out["dead"], equal_to([]), label="CheckNoDead")
    result = p.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter().with_namespace("wirestream"))["counters"]
    }
    assert counters["language_ok"] == len(TEXTS)
    assert counters["language_und"] == 1
    assert counters["language_by_too_short"] == 1
    assert counters["language_is_be"] == 1


def test_malformed_record_is_a_dead_letter_not_a_crash() -> None:
    good = _story("en", *TEXTS["en"])
    broken = _story("bytes", "", b"\xff\xfe not text")
    p = _pipeline()
    out = p | "Create" >> beam.Create([good, broken]) | "Detect" >> DetectLanguage()
    assert_that(out["ok"] | "Ids" >> beam.Map(lambda s: s.story_id), equal_to(["s-en"]), label="Ok")
    assert_that(
        out["dead"] | "Dead" >> beam.Map(lambda d: (d.stage, d.reason, d.url, d.entry_id)),
        equal_to([("language", "language_error", "https://news.example/bytes", "e-bytes")]),
        label="Dead",
    )
    p.run().wait_until_finish()


def test_hints_are_evidence_in_the_stage() -> None:
    bs_hr = "Predsjednik je danas posjetio grad i razgovarao s građanima o novom parku."
    stories = [
        _story("hinted", "", bs_hr, page_language="bs"),
        _story("feed", "", bs_hr, feed_language="hr"),
        _story("lying", *TEXTS["en"], page_language="ru", feed_language="ru"),
    ]
    p = _pipeline()
    out = p | "Create" >> beam.Create(stories) | "Detect" >> DetectLanguage()
    assert_that(
        out["ok"] | "Languages" >> beam.Map(lambda s: (s.story_id, s.language)),
        equal_to([("s-hinted", "bs"), ("s-feed", "hr"), ("s-lying", "en")]),
    )
    p.run().wait_until_finish()


def test_hints_can_be_switched_off() -> None:
    fn = DetectLanguageFn(LanguageConfig(use_hints=False))
    fn.setup()
    story = _story("x", "", "Predsjednik je danas posjetio grad i razgovarao s građanima.")
    (out,) = list(fn.process(story.replace(page_language="bs")))
    assert out.language == "und"


def test_flags_round_trip_through_pipeline_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert args.language_threshold == LanguageConfig.threshold

    # The job's own options class: a second subclass adding the same flags would clash in
    # Beam's shared parser.
    from pipeline.options import WirestreamOptions as Options

    options = Options(
        [
            "--language_threshold=0.7",
            "--language_min_chars=30",
            "--language_close_margin=0.8",
            "--language_engine=lingua",
            "--language_model=low",
            "--language_hints=ignore",
        ]
    )
    config = config_from_options(options)
    assert config == LanguageConfig(
        threshold=0.7,
        min_chars=30,
        close_margin=0.8,
        engine="lingua",
        lingua_low_accuracy=True,
        use_hints=False,
    )
    assert config_from_options(Options([])) == LanguageConfig()
    with pytest.raises(ValueError, match="engine"):
        LanguageConfig(engine="cld3")
