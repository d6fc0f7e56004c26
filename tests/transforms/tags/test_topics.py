"""Topic taxonomy: matching rules, scoring, user taxonomies and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.tags.topics import (
    SECTION,
    TAG,
    TopicMatcher,
    load_taxonomy,
    parse_taxonomy,
    url_sections,
)


def matcher_for(document: dict) -> TopicMatcher:
    return TopicMatcher(parse_taxonomy(document))


SMALL = {
    "min_score": 1,
    "title_weight": 3,
    "max_topics": 2,
    "topics": [
        {"id": "health", "phrases": ["WHO", "vaccine*"], "exclude": ["vaccine skeptic*"]},
        {"id": "conflict", "phrases": ["war"], "exclude": ["trade war"]},
        {"id": "sanctions", "phrases": ["sanction*"], "min_score": 2},
    ],
}


def test_capitalised_phrases_match_exactly() -> None:
    matcher = matcher_for(SMALL)
    assert matcher.topics("", "The WHO warned.") == ("health",)
    assert matcher.topics("", "Those who warned.") == ()


def test_lowercase_phrases_ignore_case_and_prefix_star() -> None:
    matcher = matcher_for(SMALL)
    assert matcher.scores("", "Vaccines and VACCINE drives; vaccination aside.") == {"health": 2}


def test_word_boundaries() -> None:
    matcher = matcher_for(SMALL)
    assert matcher.topics("", "An award for software.") == ()
    assert matcher.topics("", "The war, again.") == ("conflict",)


def test_exclusions_cancel_hits_inside_them() -> None:
    matcher = matcher_for(SMALL)
    assert matcher.scores("", "A trade war began.") == {}
    assert matcher.scores("", "A trade war and a real war.") == {"conflict": 1}
    assert matcher.scores("", "Vaccine skeptics rallied.") == {}


def test_thresholds_title_weight_order_and_cap() -> None:
    matcher = matcher_for(SMALL)
    assert matcher.topics("", "New sanctions.") == ()  # sanctions needs 2
    assert matcher.topics("", "New sanctions and more sanctioned firms.") == ("sanctions",)
    scores = matcher.scores("War", "The WHO said vaccines help.")
    assert scores == {"health": 2, "conflict": 3}
    assert matcher.topics("War", "The WHO said vaccines help.") == ("conflict", "health")
    three = "war war war. WHO WHO. sanctions sanctions sanctions sanctions"
    assert matcher.topics("", three) == ("sanctions", "conflict")  # capped at max_topics 2


def test_ties_follow_taxonomy_order() -> None:
    matcher = matcher_for(SMALL)
    assert matcher.topics("", "war. WHO.") == ("health", "conflict")


def test_default_taxonomy_news_desks() -> None:
    matcher = TopicMatcher(load_taxonomy())
    ids = {topic.id for topic in matcher.taxonomy.topics}
    assert {"elections", "protests", "sanctions", "diplomacy", "conflict", "economy"} <= ids
    assert {"energy", "courts", "health"} <= ids
    text = (
        "Voters went to the polls in the presidential election; the electoral commission "
        "said turnout was high and the ballot count continues."
    )
    assert matcher.topics("Election day", text)[0] == "elections"
    assert "conflict" not in matcher.topics("", "A price war and a trade war hit retailers.")
    assert "courts" not in matcher.topics("", "They met at the food court and the tennis court.")


def test_user_taxonomy_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "topics:\n  - id: belarus_politics\n    phrases: [Lukashenko, Tikhanovskaya]\n",
        encoding="utf-8",
    )
    matcher = TopicMatcher(load_taxonomy(str(path)))
    assert matcher.topics("", "Lukashenko met Tikhanovskaya.") == ("belarus_politics",)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"nope": []}, "topics"),
        ({"topics": [{"phrases": ["a"]}]}, "no 'id'"),
        ({"topics": [{"id": "x"}]}, "no phrases"),
        ({"topics": [{"id": "x", "phrases": ["a"]}, {"id": "x", "phrases": ["b"]}]}, "twice"),
        ({"topics": [{"id": "x", "phrases": ["a*b"]}]}, "only at the end"),
    ],
)
def test_invalid_taxonomies_say_what_is_wrong(document: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_taxonomy(document)


def test_min_share_drops_passing_mentions() -> None:
    document = {**SMALL, "min_share": 0.5, "max_topics": 5}
    matcher = matcher_for(document)
    text = "war war war war war. The WHO said."
    assert matcher.scores("", text) == {"conflict": 5, "health": 1}
    assert matcher.topics("", text) == ("conflict",)
    assert matcher_for({**document, "min_share": 0.0}).topics("", text) == ("conflict", "health")


def test_min_phrases_asks_for_different_phrases_not_one_word_repeated() -> None:
    document = {
        "min_score": 2,
        "topics": [
            {"id": "transport", "phrases": ["traffic", "airport*", "train"], "min_phrases": 2},
            {"id": "technology", "phrases": ["app", "apps"]},
        ],
    }
    matcher = matcher_for(document)
    text = "Direct traffic, more traffic, traffic from the app and the app again."
    assert matcher.scores("", text) == {"transport": 3, "technology": 2}
    assert matcher.topics("", text) == ("technology",)
    assert matcher.topics("", "Traffic jams at the airport; traffic stopped.") == ("transport",)
    # a title hit is one of the phrases too, not an exemption
    assert matcher.topics("Traffic", "traffic, traffic") == ()
    # the taxonomy-wide default is one phrase, and a taxonomy may raise it for every topic
    single = {"min_score": 2, "topics": [{"id": "technology", "phrases": ["app"]}]}
    assert matcher_for(single).topics("", "app, app") == ("technology",)
    assert matcher_for({**single, "min_phrases": 2}).topics("", "app, app") == ()


def test_a_sink_topic_leading_means_no_topic_and_is_never_written(tmp_path: Path) -> None:
    document = {
        "min_score": 2,
        "topics": [
            {"id": "health", "phrases": ["diet", "doctor*"]},
            {"id": "lifestyle", "phrases": ["holiday*", "travel*", "hobby"], "sink": True},
        ],
    }
    matcher = matcher_for(document)
    # a travel piece with a passing diet tip: the desk files it under nothing
    travel = "Holiday travel tips: travel light, plan the holiday, keep to your diet and doctor."
    assert matcher.scores("", travel) == {"health": 2, "lifestyle": 4}
    assert matcher.topics("", travel) == ()
    # a health story mentioning a holiday keeps its topic, and the sink is not written
    health = "Doctors say the diet works; doctors tested it on a holiday camp. Holiday food too."
    assert matcher.topics("", health) == ("health",)
    # without the flag the same topic is written like any other
    plain = {**document, "topics": [document["topics"][0], {**document["topics"][1]}]}
    del plain["topics"][1]["sink"]
    assert matcher_for(plain).topics("", travel) == ("lifestyle", "health")
    # the flag passes the taxonomy schema (a file is validated before it is parsed)
    path = tmp_path / "sink.yaml"
    path.write_text(
        "topics:\n  - id: health\n    phrases: [diet, doctor*]\n"
        "  - id: lifestyle\n    phrases: [holiday*, travel*]\n    sink: true\n",
        encoding="utf-8",
    )
    assert TopicMatcher(load_taxonomy(str(path))).topics("", travel) == ()


def test_url_sections_are_the_path_segments_before_the_slug() -> None:
    assert url_sections("https://x.example/sport/tennis/nadal-wins-again") == ("sport", "tennis")
    # dates and ids carry digits; the last segment is the story's own slug
    assert url_sections("https://x.example/2019/11/18/business/trade-war.html") == ("business",)
    assert url_sections("https://x.example/news/world-europe-50473792") == ("news",)
    assert url_sections("https://x.example/sci-tech/a?b=sport/c") == ("sci tech",)
    assert url_sections("https://x.example/only-a-slug") == ()
    assert url_sections("") == ()


FILED = {
    "min_score": 2,
    "title_weight": 2,
    "topics": [
        {"id": "sports", "phrases": ["tennis", "match"]},
        {"id": "culture", "phrases": ["film*", "celebrity"]},
        {"id": "human_rights", "phrases": ["torture"]},
        {"id": "energy", "phrases": ["oil", "crude"], "min_phrases": 2},
    ],
}


def test_publisher_filing_is_off_unless_weighted() -> None:
    text = "The film won. The match was played."
    url = "https://x.example/sport/story-slug"
    off = matcher_for(FILED)
    assert off.filing(url, ("celebrity",)) == []
    assert off.scores("", text, url, ("celebrity",)) == off.scores("", text)
    # benchmarks may read it whatever the weight
    assert {hit.source for hit in off.filing(url, ("celebrity",), every=True)} == {
        SECTION,
        TAG,
    }


def test_section_and_tags_name_topics_by_id_or_phrase() -> None:
    matcher = matcher_for({**FILED, "section_weight": 3, "tag_weight": 2})
    text = "The film won. The match was played."
    assert matcher.scores("", text) == {"sports": 1, "culture": 1}
    # the id, singular or plural, and a phrase of the topic; one hit per topic and source
    url = "https://x.example/sports/tennis/story-slug"
    assert matcher.scores("", text, url) == {"sports": 4, "culture": 1}
    assert matcher.scores("", text, "https://x.example/sport/x") == {"sports": 4, "culture": 1}
    assert matcher.topics("", text, "https://x.example/sport/x") == ("sports",)
    assert matcher.scores("", text, "", ("Celebrity", "celebrity news")) == {
        "sports": 1,
        "culture": 3,
    }
    assert matcher.scores("", "", "https://x.example/human-rights/x")["human_rights"] == 3
    # the filing is one more different phrase: oil plus an /oil/ section is not one word repeated
    assert matcher.topics("", "oil, oil") == ()
    assert matcher.topics("", "oil, oil", "https://x.example/energy/x") == ("energy",)
    assert matcher.topics("", "oil, oil", "https://x.example/oil/x") == ()


def test_tagger_passes_url_and_tags(tmp_path: Path) -> None:
    from transforms.core.records import Story
    from transforms.tags.stage import TagConfig, Tagger

    path = tmp_path / "filed.yaml"
    path.write_text(
        "section_weight: 2\ntag_weight: 0\ntopics:\n"
        "  - id: sports\n    phrases: [match]\n  - id: culture\n    phrases: [film]\n",
        encoding="utf-8",
    )
    story = Story(
        story_id="s",
        entry_id="e",
        url="https://x.example/sport/slug",
        canonical_url="",
        site="x.example",
        feed_url="",
        title="",
        text="The film and the match.",
        fetched_at="2026-01-01T00:00:00Z",
    )
    tagged, _ = Tagger(TagConfig(taxonomy=str(path))).tag(story)
    assert tagged.topics == ("sports",)
