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
