"""Tier 1: the language identifier called directly, on real sentences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.language.hints import normalise_hint, page_language_of
from transforms.language.identifier import (
    UND,
    LangIdConfig,
    LanguageIdentifier,
    script_of,
    script_profile,
    strip_addresses,
)

#: what ``strip_addresses`` computes in linear time (this pattern backtracks quadratically)
ADDRESSES = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+")

ENGLISH = (
    "The government said on Tuesday that it would raise taxes on imported cars next year, "
    "after a month of talks with manufacturers and unions."
)
BELARUSIAN = "Беларускія ўлады абвясцілі аб правядзенні выбараў у наступным годзе."
RUSSIAN = "Российские власти объявили о проведении выборов в следующем году."
UKRAINIAN = "Українська влада оголосила про проведення виборів наступного року."
# Bosnian/Croatian with no word that only one of them uses: the text settles the group only.
SHARED_BS_HR = "Predsjednik je danas posjetio grad i razgovarao s građanima."


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_same_text_same_answer_across_calls_and_instances(identifier) -> None:
    texts = [ENGLISH, BELARUSIAN, SHARED_BS_HR, "Dobar dan, kako ste danas?"]
    first = [identifier.detect(t) for t in texts]
    again = [identifier.detect(t) for t in texts]
    other = LanguageIdentifier()
    assert first == again == [other.detect(t) for t in texts]


def test_langdetect_is_seeded_per_call(identifier) -> None:
    # langdetect samples n-grams at random; an unseeded detector varies on ambiguous text.
    text = "Vel, det er ikke så lett"
    runs = {tuple(identifier.langdetect_probabilities(text)) for _ in range(5)}
    assert len(runs) == 1


def test_short_text_is_und(identifier) -> None:
    guess = identifier.detect("Minsk")
    assert guess.language == UND and guess.method == "too_short"
    assert identifier.detect("").language == UND
    assert identifier.detect("12:45 — 2025-12-18 ... !!!").language == UND


def test_min_chars_is_configurable() -> None:
    strict = LanguageIdentifier(LangIdConfig(min_chars=200))
    assert strict.detect(ENGLISH).language == UND
    assert LanguageIdentifier(LangIdConfig(min_chars=5)).detect(ENGLISH).language == "en"


def test_belarusian_russian_ukrainian_are_told_apart(identifier) -> None:
    assert identifier.detect(BELARUSIAN).language == "be"
    assert identifier.detect(RUSSIAN).language == "ru"
    assert identifier.detect(UKRAINIAN).language == "uk"


def test_be_ru_uk_on_shared_sentences(identifier, shared_dir: Path) -> None:
    root = shared_dir / "data" / "language-lingua" / "sentences"
    for code in ("be", "ru", "uk"):
        lines = [ln.strip() for ln in (root / f"{code}.txt").read_text("utf-8").splitlines()]
        lines = [ln for ln in lines if ln][:60]
        guesses = [identifier.detect(line).language for line in lines]
        answered = [g for g in guesses if g != UND]
        assert len(answered) >= 0.9 * len(lines), code
        assert sum(g == code for g in answered) >= 0.97 * len(answered), (code, guesses)


def test_languages_langdetect_does_not_know(identifier) -> None:
    cases = {
        "Президент Сербије је данас посетио Београд и разговарао са грађанима.": "sr",
        "Azərbaycan prezidenti bu gün paytaxtda yeni xəstəxananın açılışında iştirak edib.": "az",
        "Հայաստանի կառավարությունը այսօր հաստատեց նոր բյուջեն։": "hy",
        "საქართველოს მთავრობამ დღეს ახალი ბიუჯეტი დაამტკიცა.": "ka",
        "Ọkọ̀ ayọkẹlẹ́ náà dúró sí iwájú ilé ìwé ní àárọ̀ òní.": "yo",
    }
    for text, code in cases.items():
        assert identifier.detect(text).language == code, text


def test_unique_scripts_need_no_model(identifier) -> None:
    guess = identifier.detect("Հայաստանի կառավարությունը այսօր հաստատեց նոր բյուջեն։")
    assert (guess.method, guess.probability) == ("script", 1.0)
    letters, scripts = script_profile("Минск, 7 ноября. TASS")
    assert letters == 15 and scripts == {"Cyrillic": 11, "Latin": 4}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_script_profile_counts_every_letter_of_the_text(text: str) -> None:
    letters = [ch for ch in text if ch.isalpha()]
    expected: dict[str, int] = {}
    for ch in letters:
        name = script_of(ch) or "Other"
        expected[name] = expected.get(name, 0) + 1
    assert script_profile(text) == (len(letters), expected)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab_1é中.@:/ \n\u00a0htpsw"), max_size=40))
def test_strip_addresses_means_the_address_pattern(text: str) -> None:
    assert strip_addresses(text) == ADDRESSES.sub(" ", text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_strip_addresses_means_the_address_pattern_on_any_text(text: str) -> None:
    assert strip_addresses(text) == ADDRESSES.sub(" ", text)


@pytest.mark.parametrize(
    "text",
    [
        "mail a@b.c, see https://x.org/a?b=1 or www.x.org now",
        "(write:me@example.com) or a@b.c@d and x@y.z.w! then @a.b a@.b a@b. @",
        "a@b.c,http://x.y/z a.b@c@d.e_f;g https://@x.com http:// www. https://",
        "东京@东京.东京 中文https://例子.中国/路径 结束",
    ],
)
def test_strip_addresses_examples(text: str) -> None:
    assert strip_addresses(text) == ADDRESSES.sub(" ", text)


def test_markers_separate_malay_from_indonesian(identifier) -> None:
    malay = "Kerajaan akan membina lebih banyak sekolah kerana bilangan pelajar meningkat."
    indonesian = "Pemerintah akan membangun lebih banyak sekolah karena jumlah siswa meningkat."
    assert identifier.detect(malay).language == "ms"
    assert identifier.detect(indonesian).language == "id"


def test_page_lang_cannot_overturn_a_clear_text(identifier) -> None:
    assert identifier.detect(ENGLISH, page_lang="ru", feed_hint="ru").language == "en"
    assert identifier.detect(BELARUSIAN, page_lang="ru").language == "be"
    assert identifier.detect(RUSSIAN, feed_hint="be").language == "ru"


def test_hint_picks_the_member_of_a_close_group(identifier) -> None:
    assert identifier.detect(SHARED_BS_HR).language == UND
    bosnian = identifier.detect(SHARED_BS_HR, page_lang="bs-BA")
    croatian = identifier.detect(SHARED_BS_HR, feed_hint="hr")
    assert (bosnian.language, bosnian.method) == ("bs", "hint")
    assert (croatian.language, croatian.method) == ("hr", "hint")


def test_hint_does_not_beat_a_marker(identifier) -> None:
    text = "Tijekom tjedna je predsjednik posjetio grad i razgovarao s građanima."
    assert identifier.detect(text, page_lang="bs").language == "hr"


def test_hint_does_not_rescue_a_short_text(identifier) -> None:
    assert identifier.detect("Hvala", page_lang="hr").language == UND


def test_probability_and_runner_up_are_reported(identifier) -> None:
    guess = identifier.detect(UKRAINIAN)
    assert 0.5 <= guess.probability <= 1.0
    assert guess.runner_up not in (None, "uk")
    assert guess.probability == round(guess.probability, 4)


def test_normalise_hint() -> None:
    assert normalise_hint("en-GB") == "en"
    assert normalise_hint("pt_BR") == "pt"
    assert normalise_hint(" EN ") == "en"
    assert normalise_hint("no") == "nb"
    assert normalise_hint("bel") == "be"
    assert normalise_hint("") is None
    assert normalise_hint("x-klingon") is None


def test_bad_config_fails_early() -> None:
    with pytest.raises(ValueError, match="engine"):
        LangIdConfig(engine="cld3")
    with pytest.raises(ValueError, match="threshold"):
        LangIdConfig(threshold=1.5)


def test_langdetect_alone_is_the_comparison_baseline() -> None:
    alone = LanguageIdentifier(LangIdConfig(engine="langdetect"))
    # langdetect has no Belarusian model: the combined identifier exists because of this.
    assert alone.detect(BELARUSIAN).language != "be"
    assert alone.detect(ENGLISH).language == "en"


def test_page_language_is_read_from_the_html_head() -> None:
    assert page_language_of('<!DOCTYPE html><html class="no-js" lang="be-BY"><head>') == "be"
    assert page_language_of("<html xml:lang='sr-Latn'><body>") == "sr"
    head = '<html><head><meta http-equiv="Content-Language" content="uk"></head>'
    assert page_language_of(head) == "uk"
    assert page_language_of('<html><head><meta property="og:locale" content="ru_RU"/>') == "ru"
    assert page_language_of('<html data-lang="fr"><body lang="de">') is None
    assert page_language_of('<html lang="">') is None
    assert page_language_of("") is None


def test_stems_and_suffix_doublets_count_inflected_forms(identifier) -> None:
    # Inflected forms and the -iti/-itas doublet, none of them listed as whole words.
    bosnian = "Porodicu su posjetili prijatelji iz univerzitetskog grada na jugu zemlje."
    malay = "Kualiti pendidikan di universiti awam itu semakin baik tahun ini."
    indonesian = "Kualitas pendidikan di universitas negeri itu semakin baik tahun ini."
    votes = identifier.marker_votes(bosnian, "serbo_croatian")
    assert votes == {"hr": 0, "bs": 2, "sr": 2}
    assert identifier.detect(bosnian).language == "bs"
    assert identifier.detect(malay).language == "ms"
    assert identifier.detect(indonesian).language == "id"


def test_ekavian_spelling_is_serbian_and_ijekavian_is_not(identifier) -> None:
    serbian = "Predsednik je posle sastanka rekao da je vreme za nove reči i bolji svet za decu."
    ijekavian = "Predsjednik je poslije sastanka rekao da je vrijeme za nove riječi i cijeli grad."
    assert identifier.detect(serbian).language == "sr"
    votes = identifier.marker_votes(ijekavian, "serbo_croatian")
    assert votes["hr"] == votes["bs"] > 0 and votes["sr"] == 0
    # Shared evidence rules Serbian out but cannot choose between the two it shares.
    guess = identifier.detect(ijekavian)
    assert guess.language != "sr" and guess.method != "markers"


def test_a_half_weight_habit_does_not_outvote_a_word(identifier) -> None:
    text = "Tijekom tjedna je gradonačelnik razgovarao sa predstavnicima udruga o planovima."
    votes = identifier.marker_votes(text, "serbo_croatian")
    assert votes["bs"] == votes["sr"] == 0.5
    assert identifier.detect(text).language == "hr"


def test_evidence_split_between_members_is_not_a_marker_decision(identifier) -> None:
    # As much Malay as Indonesian spelling: the markers must not pick, lingua or und does.
    mixed = (
        "Kerajaan berkata bahawa harga minyak akan naik. Pemerintah mengatakan bahwa harga "
        "minyak akan naik bulan depan karena permintaan yang meningkat di seluruh dunia."
    )
    votes = identifier.marker_votes(mixed, "malay")
    assert votes["ms"] > 0 and votes["id"] > 0
    assert identifier.detect(mixed).method != "markers"


def test_marker_file_rejects_a_vote_for_a_non_member() -> None:
    from transforms.language.markers import load_markers

    with pytest.raises(ValueError, match="not members"):
        load_markers("groups:\n  g:\n    members: [hr, bs]\n    sets:\n      - votes: [sr]\n")
    groups = load_markers()
    assert {"malay", "serbo_croatian", "norwegian"} <= set(groups)
