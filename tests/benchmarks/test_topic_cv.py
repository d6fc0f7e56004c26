"""Candidate topic scorings: "off" is the production scorer, each mechanism does what it says,
and the cross-validation keeps choices away from the pages they are scored on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.topic_cv import (
    MECHANISMS,
    Params,
    cross_validate,
    document_frequencies,
    fold_of,
    judge,
    page_evidence,
    rank,
)
from transforms.tags.topics import TopicMatcher, load_taxonomy, parse_taxonomy

SMALL = {
    "min_score": 2,
    "title_weight": 2,
    "topics": [
        {"id": "crime", "phrases": ["assault*", "police", "arrest*"]},
        {"id": "markets", "phrases": ["Wall Street", "shares", "stocks"]},
        {"id": "culture", "phrases": ["film*", "actor*", "book"]},
    ],
}

TEXTS = [
    ("Banks under assault", "Banks are under assault. Shares rose on Wall Street. Assault again."),
    ("", "Police said the arrest followed an assault. Police later arrested two."),
    ("A film", "The actor read a book. " + "Filler words here. " * 40 + "Stocks fell."),
    ("", "Nothing of the kind."),
]


def _names(ranked: list[tuple[str, float]]) -> tuple[str, ...]:
    return tuple(topic for topic, _ in ranked)


@pytest.mark.parametrize("document", [SMALL, None])
def test_off_is_the_production_scorer(document: dict | None) -> None:
    matcher = TopicMatcher(parse_taxonomy(document) if document else load_taxonomy())
    for title, body in TEXTS:
        page = page_evidence(matcher, "p", title, body, ())
        assert _names(rank(matcher, page, Params())) == matcher.topics(title, body)
        for topic, score in rank(matcher, page, Params()):
            assert score == matcher.scores(title, body)[topic]


def test_each_mechanism_moves_the_evidence_it_names() -> None:
    matcher = TopicMatcher(parse_taxonomy(SMALL))
    banks = page_evidence(matcher, "p", *TEXTS[0], ())
    # one word in another sense: assault (title and body, no other crime phrase) leads when
    # counted, and loses to markets when unsupported single words count a quarter
    assert _names(rank(matcher, banks, Params()))[0] == "crime"
    sense = Params(window=-1, unsupported_weight=0.25)
    assert _names(rank(matcher, banks, sense))[0] == "markets"
    # a phrase of several words or a capital letter is specific
    assert dict(rank(matcher, banks, Params(specific_weight=3.0)))["markets"] == 4.0
    # repetition: the same phrase three times counts 3 ** 0.5 (title hit weighs 2)
    repeat = dict(rank(matcher, banks, Params(repeat_exponent=0.5)))
    assert repeat["crime"] == pytest.approx((2 + 2) ** 0.5)
    # the lede: the first characters weigh more
    film = page_evidence(matcher, "p", "", TEXTS[2][1], ())
    assert dict(rank(matcher, film, Params()))["culture"] == 2
    assert dict(rank(matcher, film, Params(lede_chars=40, lede_weight=2.0)))["culture"] == 4
    # spread: each piece of the text adds at most spread_cap
    police = page_evidence(matcher, "p", *TEXTS[1], ())
    assert dict(rank(matcher, police, Params()))["crime"] == 5
    assert dict(rank(matcher, police, Params(spread_chars=1000, spread_cap=2.0)))["crime"] == 2
    # density: a long text needs more hits per 1,000 characters
    assert _names(rank(matcher, film, Params(density=5.0))) == ()


def test_support_abstention_and_sink() -> None:
    matcher = TopicMatcher(parse_taxonomy(SMALL))
    banks = page_evidence(matcher, "p", *TEXTS[0], ())
    police = page_evidence(matcher, "p", *TEXTS[1], ())
    film = page_evidence(matcher, "p", "", TEXTS[2][1], ())
    # support: crime rests on "assault" alone on the banks page, three phrases on the police one
    assert _names(rank(matcher, banks, Params(min_phrases=2))) == ("markets",)
    assert _names(rank(matcher, police, Params(min_phrases=3))) == ("crime",)
    # abstention: too few different phrases or too low a score for the first topic: no topic
    assert _names(rank(matcher, banks, Params(first_phrases=2))) == ()
    assert _names(rank(matcher, police, Params(first_phrases=3))) == ("crime",)
    assert _names(rank(matcher, police, Params(first_score=6.0))) == ()
    # margin: crime 4 against markets 2 on the banks page is half the score
    assert _names(rank(matcher, banks, Params(first_margin=0.5)))[0] == "crime"
    assert _names(rank(matcher, banks, Params(first_margin=0.6))) == ()
    # lead: the film page opens "The actor": its first culture word starts at character 4
    assert _names(rank(matcher, film, Params(first_lead=5))) == ("culture",)
    assert _names(rank(matcher, film, Params(first_lead=4))) == ()
    # sink: as the taxonomy says by default (weight 1), ignored at 0, heavier above 1
    sunk = {
        **SMALL,
        "topics": [*SMALL["topics"], {"id": "leisure", "phrases": ["banks"], "sink": True}],
    }
    sinking = TopicMatcher(parse_taxonomy(sunk))
    page = page_evidence(sinking, "p", *TEXTS[0], ())
    assert _names(rank(sinking, page, Params())) == sinking.topics(*TEXTS[0])
    assert _names(rank(sinking, page, Params())) == ("crime", "markets")  # leisure 3 < crime 4
    assert _names(rank(sinking, page, Params(sink_weight=2.0))) == ()
    assert _names(rank(sinking, page, Params(sink_weight=0.0))) == ("crime", "markets")


def test_title_section_and_tag_weights() -> None:
    matcher = TopicMatcher(parse_taxonomy(SMALL))
    url = "https://x.example/business/stocks/slug"
    tags = ("film",)
    page = page_evidence(matcher, "p", "Police", "Shares fell. An actor spoke.", (), url, tags)
    # off: the taxonomy's weights, the publisher's filing unweighted, as the matcher scores it
    assert _names(rank(matcher, page, Params())) == matcher.topics(
        "Police", "Shares fell. An actor spoke.", url, tags
    )
    assert dict(rank(matcher, page, Params())) == {"crime": 2}
    assert dict(rank(matcher, page, Params(title_weight=4.0)))["crime"] == 4
    # the URL's "stocks" section is a markets phrase: once per topic
    with_section = dict(rank(matcher, page, Params(section_weight=3.0)))
    assert with_section["markets"] == 4
    with_tags = dict(rank(matcher, page, Params(tag_weight=2.0)))
    assert with_tags["culture"] == 3
    weighted = TopicMatcher(parse_taxonomy({**SMALL, "section_weight": 3, "tag_weight": 2}))
    page = page_evidence(weighted, "p", "Police", "Shares fell. An actor spoke.", (), url, tags)
    ranked = rank(weighted, page, Params())
    assert _names(ranked) == weighted.topics("Police", "Shares fell. An actor spoke.", url, tags)
    scores = weighted.scores("Police", "Shares fell. An actor spoke.", url, tags)
    assert all(score == scores[topic] for topic, score in ranked)
    assert _names(ranked)[0] == "markets"
    assert dict(rank(weighted, page, Params(section_weight=0.0, tag_weight=0.0))) == {"crime": 2}


def test_judge_and_folds() -> None:
    matcher = TopicMatcher(parse_taxonomy(SMALL))
    page = page_evidence(matcher, "p", *TEXTS[0], ("markets",))
    right, margin = judge(page, rank(matcher, page, Params()))
    assert not right and -1 <= margin < 0
    empty = page_evidence(matcher, "q", *TEXTS[3], ())
    assert judge(empty, rank(matcher, empty, Params())) == (True, 1.0)
    assert {fold_of(f"page-{n}", 5) for n in range(50)} == set(range(5))
    assert fold_of("page-7", 5) == fold_of("page-7", 5)


def test_idf_weighs_rare_phrases_up() -> None:
    matcher = TopicMatcher(parse_taxonomy(SMALL))
    corpus = ["Police came.", "Police left.", "Police again.", "An assault."]
    idf = document_frequencies(matcher, corpus)
    police, assault = idf[(0, 1)], idf[(0, 0)]
    assert assault > police
    common = replace(page_evidence(matcher, "p", "", "Police and police.", ()), idf=idf)
    rare = replace(page_evidence(matcher, "p", "", "An assault, an assault.", ()), idf=idf)
    assert _names(rank(matcher, common, Params())) == ("crime",)
    assert _names(rank(matcher, common, Params(idf_exponent=1.0))) == ()  # 2 x 0.24 < 2
    assert dict(rank(matcher, rare, Params(idf_exponent=1.0)))["crime"] == pytest.approx(
        2 * assault
    )


def test_cross_validation_reports_every_mechanism_and_keeps_heldout_apart() -> None:
    matcher = TopicMatcher(parse_taxonomy(SMALL))
    labelled = [
        ("Banks under assault", "Banks are under assault. Shares rose on Wall Street.", "markets"),
        ("", "Police said the arrest followed an assault.", "crime"),
        ("A film", "The actor read a book.", "culture"),
        ("Stocks", "Stocks and shares on Wall Street.", "markets"),
        ("", "The police made an arrest after the assault.", "crime"),
        ("", "A film with an actor.", "culture"),
    ]
    pages = [
        page_evidence(matcher, f"page-{n}", title, body, (topic,))
        for n, (title, body, topic) in enumerate(labelled)
    ]
    result = cross_validate(matcher, pages[:5], k=2, heldout=pages[5:])
    assert result["pages"] == 5 and sum(result["fold_sizes"]) == 5
    assert set(result["alone"]) == set(MECHANISMS) == set(result["ablation"])
    assert result["heldout_pages"] == 1
    for figures in [*result["alone"].values(), result["forward"]]:
        assert 0 <= figures["out_of_fold_right"] <= 5
        assert len(figures["chosen_per_fold"]) == 2
        assert 0 <= figures["heldout_right"] <= 1


def test_the_iptc_candidate_taxonomy_extends_the_bundled_one() -> None:
    """The candidate scored by ``--taxonomy`` is the bundled taxonomy plus words, never fewer:
    a comparison of the two measures the added vocabulary and the sink alone."""
    from pathlib import Path

    bundled = load_taxonomy()
    candidate = load_taxonomy(str(Path(__file__).parents[2] / "benchmarks/data/taxonomy_iptc.yaml"))
    assert not any(topic.sink for topic in bundled.topics)
    sinks = [topic.id for topic in candidate.topics if topic.sink]
    assert sinks == ["lifestyle"]
    extended = {topic.id: topic for topic in candidate.topics}
    for topic in bundled.topics:
        assert set(topic.phrases) <= set(extended[topic.id].phrases), topic.id
        assert topic.exclude == extended[topic.id].exclude
        assert topic.min_phrases == extended[topic.id].min_phrases
        assert topic.min_score == extended[topic.id].min_score
    matcher = TopicMatcher(candidate)
    assert matcher.topics("Swim results", "Swimming: the 200 freestyle. Swimmers qualified.") == (
        "sports",
    )
    assert TopicMatcher(bundled).topics("Swim results", "Swimming: the 200 freestyle.") == ()
