"""Place mentions in one text: what each candidate is and why a dropped one does not count."""

from __future__ import annotations

import pytest

from transforms.tags.place_mentions import MentionFinder
from transforms.tags.places import Gazetteer


@pytest.fixture(scope="module")
def finder() -> MentionFinder:
    return Gazetteer.build().finder


def reasons(finder: MentionFinder, text: str, language: str = "en") -> dict[str, str]:
    return {m.surface: m.dropped for m in finder.candidates(text, language)}


def test_candidates_say_why_a_name_does_not_count(finder: MentionFinder) -> None:
    found = reasons(finder, "Japan Airlines landed. Michael Jordan met Latin American leaders.")
    assert found["Japan"] == "organisation_name"
    assert found["Jordan"] == "part_of_a_name"
    assert found["Latin American"] == "exclusion_phrase"


def test_candidates_are_word_bounded_and_leftmost_longest(finder: MentionFinder) -> None:
    surfaces = [m.surface for m in finder.candidates("Inner Mongolia and Belarusian troops")]
    assert surfaces == ["Inner Mongolia", "Belarusian"]


def test_a_qualifier_pins_the_name_to_its_country(finder: MentionFinder) -> None:
    [portland] = [m for m in finder.candidates("Portland, Ore., voted.") if not m.dropped]
    assert portland.forced == "US" and portland.pinned().codes == ("US",)
    # "Victoria, Tex." is not Victoria, BC: the city mention yields to the qualified phrase
    found = {m.surface: m for m in finder.candidates("Victoria, Tex., is small.")}
    assert found["Victoria"].dropped == "qualified_as_other_country"
    assert found["Victoria, Tex."].pinned().codes == ("US",)


def test_ambiguous_names_stay_unresolved_here(finder: MentionFinder) -> None:
    """Settling "Georgia" needs the whole story; a mention only carries its candidates."""
    [georgia] = finder.candidates("They met in Georgia.")
    assert georgia.entry.needs_support and georgia.after_locative and not georgia.dropped


def test_a_nationality_word_naming_a_language_is_not_the_country(finder: MentionFinder) -> None:
    found = reasons(finder, "Texts, written in Spanish, were deleted.")
    assert found["Spanish"] == "language_name"
    assert reasons(finder, "She speaks French and German.") == {
        "French": "language_name",
        "German": "language_name",
    }
    assert reasons(finder, "A Spanish-language station and French speakers.") == {
        "Spanish": "language_name",
        "French": "language_name",
    }
    # the adjective qualifying something stays the country
    assert reasons(finder, "Boats in Spanish waters met French officials.") == {
        "Spanish": "",
        "French": "",
    }


def test_a_word_the_story_uses_in_lower_case_is_no_first_name(finder: MentionFinder) -> None:
    """A sentence opening "One Washington-based expert" made every Washington a surname."""
    text = "One Washington-based expert spoke. Experts in Washington agreed, one by one."
    assert [m.dropped for m in finder.candidates(text)] == ["", ""]
    # with no such evidence the capitalised word may be a first name, as before
    found = reasons(finder, "Prosecutor John Durham filed. Durham said so.")
    assert found["Durham"] == "surname_in_this_story"


def test_a_name_the_story_uses_as_a_common_word_needs_support(finder: MentionFinder) -> None:
    [china] = finder.candidates("Tiered Centerpiece of China and Roses. Use a china plate.")
    assert china.entry.needs_support and not china.dropped
    # acronyms are not common words: "US" beside the pronoun "us"
    [us] = finder.candidates("US stocks fell, traders told us.")
    assert not us.entry.needs_support


def test_a_dateline_opening_a_paragraph_is_a_locative(finder: MentionFinder) -> None:
    for text in ("WASHINGTON — NASA said.", "Intro.\nWASHINGTON (Reuters) - Talks went on."):
        [washington] = finder.candidates(text)
        assert washington.after_locative, text
    [washington] = finder.candidates("WASHINGTON STATE WINS")
    assert not washington.after_locative
