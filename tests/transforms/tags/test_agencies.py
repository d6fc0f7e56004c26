"""Agency credits: normalisation, credit positions, user lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.tags.agencies import AgencyMatcher, load_agencies


@pytest.fixture(scope="module")
def matcher() -> AgencyMatcher:
    return AgencyMatcher(load_agencies())


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("TASS", "TASS"),
        ("/TASS/", "TASS"),
        ("REUTERS", "Reuters"),
        ("(Reuters)", "Reuters"),
        ("Associated Press", "AP"),
        ("The Associated Press", "AP"),
        ("Agence France-Presse", "AFP"),
        ("RIA Novosti", "RIA"),
        ("BelTA", "BelTA"),
        ("Xinhua News Agency", "Xinhua"),
        ("DPA", "dpa"),
        ("Anadolu Agency", "Anadolu"),
        ("Press Trust of India", "PTI"),
        ("Some Blog", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_raw(matcher: AgencyMatcher, raw: str | None, code: str | None) -> None:
    assert matcher.normalise(raw) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("MINSK, November 7. /TASS/. President of Belarus said", "TASS"),
        ("WASHINGTON (Reuters) - Scientists on Monday unveiled", "Reuters"),
        ("BEIJING, Nov. 5 (Xinhua) -- China said", "Xinhua"),
        ("KYIV, Ukraine (AP) — Russia launched", "AP"),
        ("ANKARA (AA) - Turkey said", "Anadolu"),
        ("Berlin (dpa) - Die Regierung", "dpa"),
        ("AFP - The French government said", "AFP"),
        ("HARRISBURG, Pa. (AP) — The governor", "AP"),
        ("New Delhi, Nov 19 (PTI) Delhi's air quality", "PTI"),
        ("Pittsburgh (PA) police said on Monday", None),
        ("BelTA news agency quoted Lukashenko as saying", None),
        ("Lorem ipsum. AP reported that the", None),
    ],
)
def test_head_credits(matcher: AgencyMatcher, text: str, code: str | None) -> None:
    assert matcher.from_head(text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('Can we work together there? Yes, we can." he said. REUTERS', "Reuters"),
        ("it will be exciting.\n(Reporting by Will Dunham; Editing by Tom Brown)", "Reuters"),
        ("the end.\n© Reuters", "Reuters"),
        ("the end.\n© 2024 AFP", "AFP"),
        ("the talks will resume — AFP", "AFP"),
        ("the talks will resume. (AP)", "AP"),
        ("the figures were first reported to Reuters.", None),
        ("he moved to the state of PA", None),
    ],
)
def test_tail_credits(matcher: AgencyMatcher, text: str, code: str | None) -> None:
    assert matcher.from_tail(text) == code


def test_byline(matcher: AgencyMatcher) -> None:
    assert matcher.from_authors(["Jane Doe, AFP"]) == "AFP"
    assert matcher.from_authors(["By Reuters Staff"]) == "Reuters"
    assert matcher.from_authors(["Jane Doe", "The Associated Press"]) == "AP"
    assert matcher.from_authors(["Jane Doe"]) is None


def test_raw_beats_text_credits(matcher: AgencyMatcher) -> None:
    text = "WASHINGTON (Reuters) - text. (AP)"
    assert matcher.match("TASS", text) == ("TASS", "raw")
    assert matcher.match(None, text) == ("Reuters", "head")
    assert matcher.match(None, "No credit here.", ["Kyodo News"]) == ("Kyodo", "byline")
    assert matcher.match(None, "No credit here.") == (None, "")


def test_user_file_extends_and_overrides(tmp_path: Path) -> None:
    user = tmp_path / "agencies.yaml"
    user.write_text(
        "agencies:\n"
        "  - {code: Ritzau, aliases: [Ritzau, Ritzaus Bureau]}\n"
        "  - {code: NewsWire, aliases: [Acme NewsWire]}\n",
        encoding="utf-8",
    )
    matcher = AgencyMatcher(load_agencies(str(user)))
    assert matcher.normalise("Acme NewsWire") == "NewsWire"
    assert matcher.normalise("Ritzaus Bureau") == "Ritzau"
    assert matcher.normalise("TASS") == "TASS"
    assert matcher.from_head("COPENHAGEN (Acme NewsWire) - The") == "NewsWire"


def test_user_file_can_replace_defaults(tmp_path: Path) -> None:
    user = tmp_path / "agencies.yaml"
    user.write_text("replace: true\nagencies:\n  - {code: Own, aliases: [Own Wire]}\n", "utf-8")
    matcher = AgencyMatcher(load_agencies(str(user)))
    assert matcher.normalise("Reuters") is None
    assert matcher.normalise("own wire") == "Own"


def test_user_file_without_code_is_rejected(tmp_path: Path) -> None:
    user = tmp_path / "agencies.yaml"
    user.write_text("agencies:\n  - {aliases: [Nameless]}\n", "utf-8")
    with pytest.raises((KeyError, ValueError)):
        load_agencies(str(user))


def test_agency_site(matcher: AgencyMatcher) -> None:
    assert matcher.from_site("tass.com") == "TASS"
    assert matcher.from_site("www.reuters.com") == "Reuters"
    assert matcher.from_site("en.yna.co.kr") == "Yonhap"
    assert matcher.from_site("example.co.kr") is None
    assert matcher.from_site("nottass.com") is None
    assert matcher.match(None, "No credit.", (), "tass.com") == ("TASS", "site")
    assert matcher.match(None, "WASHINGTON (Reuters) - x", (), "tass.com") == ("Reuters", "head")
