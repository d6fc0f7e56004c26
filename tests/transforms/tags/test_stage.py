"""TagStories on the seed stories: the Tagger directly, and the composite on the DirectRunner."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.core.records import DeadLetter, Story, story_id_for
from transforms.tags import stage as tags
from transforms.tags.stage import TagConfig, Tagger, TagStories

SEED_PREFIXES = ("000", "001", "002", "003", "004")


def make_story(name: str, text: str, **fields) -> Story:
    url = f"https://example.test/{name}"
    return Story(
        story_id=story_id_for(url),
        entry_id=f"entry-{name}",
        url=url,
        canonical_url=url,
        site="example.test",
        feed_url="https://example.test/feed",
        title=fields.pop("title", ""),
        text=text,
        fetched_at="2026-11-24T10:00:00Z",
        language=fields.pop("language", "en"),
        **fields,
    )


@pytest.fixture(scope="module")
def seeds(shared_dir: Path) -> dict[str, str]:
    folder = shared_dir / "seeds"
    found = {}
    for prefix in SEED_PREFIXES:
        matches = sorted(folder.glob(f"{prefix}_*.txt"))
        if not matches:
            pytest.skip(f"seed {prefix} is not present")
        found[prefix] = matches[0].read_text("utf-8")
    return found


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(TagConfig())


def test_seed_000_tass_minsk_elections(tagger: Tagger, seeds: dict[str, str]) -> None:
    story, source = tagger.tag(make_story("000", seeds["000"], dateline_place="MINSK"))
    assert story.agency == "TASS"
    assert source == "head"  # from "/TASS/" in the text: no raw agency was given
    assert story.dateline_place == "MINSK"
    assert story.dateline_country == "BY"
    assert story.cities[0] == "Minsk"
    assert {"BY", "US"} <= set(story.places)
    assert story.places[0] == "BY"
    assert "GE" not in story.places  # "battleground states of ... Georgia"
    assert "elections" in story.topics
    assert story.topics[0] == "elections"


def test_seed_003_reuters_belarus_us_venezuela(tagger: Tagger, seeds: dict[str, str]) -> None:
    story, source = tagger.tag(make_story("003", seeds["003"]))
    assert (story.agency, source) == ("Reuters", "tail")
    assert {"BY", "US", "VE"} <= set(story.places)
    raw, raw_source = tagger.tag(make_story("003", seeds["003"], agency="REUTERS"))
    assert (raw.agency, raw_source) == ("Reuters", "raw")


def test_seed_002_publisher_tags_from_tag_line(tagger: Tagger, seeds: dict[str, str]) -> None:
    story, _ = tagger.tag(make_story("002", seeds["002"], tags=("World", "belarus ")))
    assert story.tags == ("world", "belarus", "tikhanovskaya", "russia", "lukashenko")


def test_seed_004_tass_minsk_belarus_russia(tagger: Tagger, seeds: dict[str, str]) -> None:
    story, _ = tagger.tag(make_story("004", seeds["004"], dateline_place="Minsk", agency="TASS"))
    assert story.agency == "TASS"
    assert story.dateline_country == "BY"
    assert story.cities[0] == "Minsk"
    assert {"BY", "RU"} <= set(story.places)
    assert story.places[0] == "BY"


def test_mentioned_agency_is_not_the_author(tagger: Tagger, seeds: dict[str, str]) -> None:
    # 001 quotes "the state-run TASS news agency" but carries no credit.
    story, source = tagger.tag(make_story("001", seeds["001"]))
    assert (story.agency, source) == (None, "")


def test_unknown_raw_agency_is_kept(tagger: Tagger) -> None:
    story, source = tagger.tag(make_story("x", "Some text.", agency="/Acme Wire/"))
    assert (story.agency, source) == ("Acme Wire", "raw_unknown")


def test_tagging_is_deterministic(tagger: Tagger, seeds: dict[str, str]) -> None:
    story = make_story("000", seeds["000"], dateline_place="MINSK")
    first, _ = tagger.tag(story)
    again, _ = Tagger(TagConfig()).tag(story)
    assert first == again


def _expected_fields(story: Story) -> tuple:
    return (story.entry_id, story.agency, story.places[:1], story.dateline_country)


def test_tag_stories_on_the_direct_runner(seeds: dict[str, str]) -> None:
    stories = [
        make_story("000", seeds["000"], dateline_place="MINSK"),
        make_story("003", seeds["003"]),
        make_story("004", seeds["004"], dateline_place="MINSK", agency="TASS"),
        make_story("broken", None),  # type: ignore[arg-type]
    ]
    p = beam.Pipeline(runner="DirectRunner")
    out = p | "Stories" >> beam.Create(stories) | "Tag" >> TagStories(TagConfig())
    assert_that(
        out["ok"] | "Fields" >> beam.Map(_expected_fields),
        equal_to(
            [
                ("entry-000", "TASS", ("BY",), "BY"),
                ("entry-003", "Reuters", ("US",), None),
                ("entry-004", "TASS", ("BY",), "BY"),
            ]
        ),
        label="CheckTagged",
    )
    assert_that(
        out["dead"] | "DeadShape" >> beam.Map(lambda d: (d.stage, d.reason, d.entry_id)),
        equal_to([("tags", "tagging_error", "entry-broken")]),
        label="CheckDead",
    )
    assert_that(
        out["dead"] | "DeadType" >> beam.Map(lambda d: isinstance(d, DeadLetter)),
        equal_to([True]),
        label="CheckDeadType",
    )
    result = p.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter().with_namespace("wirestream"))["counters"]
    }
    assert counters["tags_ok"] == 3
    assert counters["tags_dead"] == 1
    assert counters["tags_agency_head"] == 1
    assert counters["tags_agency_tail"] == 1
    assert counters["tags_agency_raw"] == 1
    assert counters["tags_places"] == 3


def test_flags_round_trip(tmp_path: Path) -> None:
    from pipeline.options import WirestreamOptions

    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text("topics:\n  - id: mine\n    phrases: [Lukashenko]\n", "utf-8")
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text("agencies:\n  - {code: Own, aliases: [Own Wire]}\n", "utf-8")
    options = PipelineOptions(
        [
            f"--taxonomy={taxonomy}",
            f"--agencies={agencies}",
            "--min_city_population=500000",
        ]
    ).view_as(WirestreamOptions)
    config = tags.config_from_options(options)
    assert config == TagConfig(
        taxonomy=str(taxonomy), agencies=str(agencies), min_city_population=500000
    )
    assert tags.config_from_options(PipelineOptions([]).view_as(WirestreamOptions)) == TagConfig()
    tagger = Tagger(config)
    story, _ = tagger.tag(make_story("y", "Lukashenko met Lukashenko.", agency="Own Wire"))
    assert (story.topics, story.agency) == (("mine",), "Own")


def test_bad_taxonomy_fails_before_the_job(tmp_path: Path) -> None:
    from pipeline.options import WirestreamOptions

    broken = tmp_path / "broken.yaml"
    broken.write_text("topics:\n  - id: x\n", "utf-8")
    options = PipelineOptions([f"--taxonomy={broken}"]).view_as(WirestreamOptions)
    with pytest.raises(ValueError, match="--taxonomy"):
        tags.config_from_options(options)


VOCABULARY = (
    "Georgia Jordan Chad Turkey MINSK Minsk US U.S. UK Belarusian Americans New Mexico Inner "
    "Mongolia Austin Dillon Paris Hilton in visited Latin American election elections sanctions "
    "WHO who war trade court police Россия России США Russland (Reuters) /TASS/ REUTERS - — , . "
    "\n Tags: Belarus | Russia #news"
)
WORDS = tuple(VOCABULARY.split(" "))


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=60),
    body=st.one_of(
        st.text(max_size=400),
        st.lists(st.sampled_from(WORDS), max_size=80).map(" ".join),
    ),
    language=st.sampled_from(["en", "de", "ru", "und", "zh"]),
    dateline=st.one_of(st.none(), st.sampled_from(["MINSK", "London, Ontario", "", "Atlantis"])),
)
def test_any_text_tags_cleanly(
    tagger: Tagger, title: str, body: str, language: str, dateline: str | None
) -> None:
    import pycountry

    from transforms.tags.publisher_tags import normalise_tag

    story = make_story("h", body, title=title, language=language, dateline_place=dateline)
    tagged, _ = tagger.tag(story)
    valid = {country.alpha_2 for country in pycountry.countries} | {"XK"}
    assert set(tagged.places) <= valid
    assert tuple(code for code, _ in tagged.place_mentions) == tagged.places
    assert all(count >= 0 for _, count in tagged.place_mentions)
    assert len(set(tagged.places)) == len(tagged.places)
    assert len(set(tagged.cities)) == len(tagged.cities)
    ids = {topic.id for topic in tagger.topics.taxonomy.topics}
    assert set(tagged.topics) <= ids and len(set(tagged.topics)) == len(tagged.topics)
    assert all(tag == normalise_tag(tag) and tag for tag in tagged.tags)
    assert len(set(tagged.tags)) == len(tagged.tags)
    assert tagger.tag(story)[0] == tagged
