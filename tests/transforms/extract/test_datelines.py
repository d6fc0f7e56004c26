"""Dateline parser: wire formats in, fields out; ordinary first sentences left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.extract.cleaning import clean_text
from transforms.extract.datelines import parse_dateline, resolve_date, strip_dateline

PUBLISHED = "2020-11-08T09:00:00Z"


@pytest.mark.parametrize(
    ("text", "place", "date", "agency", "rest"),
    [
        ("MINSK, November 7. /TASS/. President of Belarus", "Minsk", "2020-11-07", "TASS",
         "President of Belarus"),
        ("Dec 17 - Belarusian President", None, "2019-12-17", None, "Belarusian President"),
        ("WASHINGTON (Reuters) - The U.S. Senate", "Washington", None, "Reuters",
         "The U.S. Senate"),
        ("PARIS (AFP) — France said", "Paris", None, "AFP", "France said"),
        ("(AP) — A man was", None, None, "AP", "A man was"),
        ("SAN FRANCISCO, Calif. (AP) — Tech stocks", "San Francisco", None, "AP", "Tech stocks"),
        ("LONDON, Nov 6 (Reuters) - Oil prices", "London", "2020-11-06", "Reuters",
         "Oil prices"),
        ("MOSCOW, 7 November 2019 - Talks", "Moscow", "2019-11-07", None, "Talks"),
        ("KYIV, Ukraine — Russia launched", "Kyiv", None, None, "Russia launched"),
        ("RIO DE JANEIRO (Reuters) - Brazil's", "Rio De Janeiro", None, "Reuters", "Brazil's"),
        ('BRUSSELS, Nov. 5 (Reuters) - "We', "Brussels", "2020-11-05", "Reuters", '"We'),
    ],
)  # fmt: skip
def test_wire_datelines(text: str, place, date, agency, rest: str) -> None:
    parsed = parse_dateline(text, PUBLISHED)
    assert parsed is not None, text
    dateline, remainder = parsed
    assert (dateline.place, dateline.date, dateline.agency) == (place, date, agency)
    assert remainder == rest


@pytest.mark.parametrize(
    "text",
    [
        "The president said on Monday that talks would continue.",
        "US — China trade talks resumed.",
        "In 2020 - the year of the pandemic - trade fell.",
        "NATO",
        "MINSK, November 7. /TASS/.",  # nothing after it: not a story start, leave it
        "I - for one - disagree.",
        "Dec 17 was a cold day in Minsk.",
        "(Reuters) reported that",
        "",
    ],
)
def test_ordinary_openings_are_not_datelines(text: str) -> None:
    assert parse_dateline(text, PUBLISHED) is None


def test_year_is_inferred_across_new_year() -> None:
    assert resolve_date(12, 31, None, "2021-01-02T00:00:00Z") == "2020-12-31"
    assert resolve_date(1, 2, None, "2020-12-31T23:00:00Z") == "2021-01-02"
    assert resolve_date(2, 29, None, "2021-03-01T00:00:00Z") == "2020-02-29"
    assert resolve_date(2, 30, None, "2021-03-01T00:00:00Z") is None
    assert resolve_date(6, 1, None, None) is None


def test_date_without_published_is_kept_as_written() -> None:
    parsed = parse_dateline("MINSK, November 7. /TASS/. President", None)
    assert parsed is not None
    assert parsed[0].date == "November 7"


def test_dateline_after_headline_and_standfirst() -> None:
    text = (
        "Russia expects situation in Belarus to normalize soon\n\n"
        "Mass protests have been taking place in Belarus for over three months\n\n"
        "MINSK, November 26. /TASS/. Moscow hopes that the situation will normalize."
    )
    dateline, body = strip_dateline(text, PUBLISHED)
    assert dateline is not None and dateline.place == "Minsk" and dateline.agency == "TASS"
    assert body.endswith("\n\nMoscow hopes that the situation will normalize.")
    assert "/TASS/" not in body


def test_dateline_deep_in_the_body_is_not_stripped() -> None:
    long_paragraph = "A long opening paragraph of ordinary prose. " * 10
    text = f"{long_paragraph}\nWASHINGTON (Reuters) - Quoted wire copy further down."
    assert strip_dateline(text, PUBLISHED) == (None, text)


def test_seed_datelines(shared_dir: Path) -> None:
    seeds = shared_dir / "seeds"
    expected = {
        "000_8f4cc62a7b97b2a1.txt": ("Minsk", "TASS", "2020-11-07"),
        "004_65b9ad915b4fec2d.txt": ("Minsk", "TASS", "2020-11-26"),
    }
    for name, (place, agency, date) in expected.items():
        cleaned = clean_text((seeds / name).read_text("utf-8"))
        dateline, body = strip_dateline(cleaned.text, "2020-11-27T00:00:00Z")
        assert dateline is not None, name
        assert (dateline.place, dateline.agency, dateline.date) == (place, agency, date)
        assert "/TASS/" not in body
    reuters = clean_text((seeds / "003_d5f248f6dec9f4e9.txt").read_text("utf-8"))
    dateline, body = strip_dateline(reuters.text, "2025-12-18T06:00:00Z")
    assert dateline is not None and dateline.date == "2025-12-17"
    assert body.startswith("Belarusian President Alexander Lukashenko said")
    assert reuters.agency is not None and reuters.agency.casefold() == "reuters"


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(max_size=300),
    published=st.one_of(st.none(), st.just(PUBLISHED), st.text(max_size=12)),
)
def test_parser_never_raises_and_only_removes_a_prefix(text: str, published) -> None:
    parsed = parse_dateline(text, published)
    if parsed is not None:
        dateline, rest = parsed
        assert text.endswith(rest) and len(rest) < len(text)
        assert dateline.place or dateline.date or dateline.agency
    dateline, body = strip_dateline(text, published)
    assert len(body) <= len(text)
    if dateline is None:
        assert body == text


places = st.from_regex(r"[A-Z]{3,12}( [A-Z]{3,10})?", fullmatch=True)
agencies = st.sampled_from(["Reuters", "AFP", "AP", "dpa", "Xinhua"])
months = st.sampled_from(["January", "Feb", "Mar.", "April", "Sept", "Dec"])


@settings(max_examples=200, deadline=None)
@given(place=places, agency=agencies, month=months, day=st.integers(1, 28))
def test_generated_wire_datelines_round_trip(place: str, agency: str, month: str, day: int):
    text = f"{place}, {month} {day} ({agency}) - The story begins here."
    parsed = parse_dateline(text, PUBLISHED)
    assert parsed is not None
    dateline, rest = parsed
    assert dateline.agency == agency
    assert dateline.place is not None and dateline.place.upper() == place
    assert dateline.date is not None and dateline.date.endswith(f"-{day:02d}")
    assert rest == "The story begins here."
