from __future__ import annotations

import sys
import unicodedata
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.core.records import (
    ALNUM_RUN,
    Story,
    content_hash_for,
    excerpt,
    normalise_for_hash,
    stable_hash,
    story_id_for,
    utc_iso,
)


def _normalise_per_character(text: str) -> str:
    """The definition: alphanumerics kept, every other character a separator."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


def test_story_id_is_a_pure_function_of_the_canonical_url() -> None:
    a = story_id_for("https://example.org/a")
    assert a == story_id_for("https://example.org/a")
    assert a != story_id_for("https://example.org/b")
    assert len(a) == 20 and int(a, 16) >= 0


def test_stable_hash_separates_parts() -> None:
    assert stable_hash("ab", "c") != stable_hash("a", "bc")


def test_content_hash_ignores_case_spacing_and_punctuation() -> None:
    base = content_hash_for("Lukashenko said: “We lost.”\nThen he left.")
    assert base == content_hash_for('lukashenko said  "we lost"  then he left')
    assert base != content_hash_for("Lukashenko said we won. Then he left.")


def test_the_alphanumeric_pattern_is_isalnum_on_every_code_point() -> None:
    text = "".join(map(chr, range(sys.maxunicode + 1)))
    by_pattern = {index for match in ALNUM_RUN.finditer(text) for index in range(*match.span())}
    by_method = {index for index, ch in enumerate(text) if ch.isalnum()}
    assert by_pattern == by_method
    assert not any(ch.isalnum() and ch.isspace() for ch in text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalise_for_hash_matches_the_per_character_definition(text: str) -> None:
    assert normalise_for_hash(text) == _normalise_per_character(text)


def test_normalise_for_hash_on_mixed_scripts() -> None:
    text = "Ｔｏｋｙｏ_2020: “Straße”—ΣΊΣΥΦΟΣ, 東京 ½ x²\u00a0ok"
    assert normalise_for_hash(text) == _normalise_per_character(text)
    assert normalise_for_hash(text) == "tokyo 2020 strasse σίσυφοσ 東京 1 2 x2 ok"


def test_utc_iso_converts_offsets() -> None:
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    assert utc_iso(moment) == "2026-11-24T09:00:00Z"
    assert utc_iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_excerpt_is_bounded_and_printable() -> None:
    body = b"\x00\x01" + "é".encode() * 10_000
    text = excerpt(body, limit=100)
    assert len(text) == 100
    assert "\x00" not in text


def test_story_partition_date_falls_back_to_fetch_time() -> None:
    story = Story(
        story_id="s",
        entry_id="e",
        url="u",
        canonical_url="u",
        site="x",
        feed_url="f",
        title="t",
        text="x",
        fetched_at="2026-11-24T06:00:00Z",
    )
    assert story.partition_date == "2026-11-24"
    assert story.replace(published_at="2020-01-02T00:00:00Z").partition_date == "2020-01-02"
    assert story.to_json()["place_mentions"] == []


def test_dead_letters_never_carry_credentials_or_whole_bodies() -> None:
    from transforms.core.records import DeadLetter

    dead = DeadLetter(
        stage="fetch",
        reason="http_4xx",
        url="https://alice:s3cret@example.org/a?id=1&api_key=abcd&x=2",
        error="GET https://bob:pw@example.org/?token=xyz failed",
        payload="x" * 100_000,
        feed_url="https://u:p@example.org/feed?sig=1",
    )
    text = str(dead.to_json())
    for secret in ("s3cret", "abcd", "alice", "bob:pw", "xyz"):
        assert secret not in text
    assert "id=1" in dead.url and "x=2" in dead.url
    assert len(dead.payload) <= 2000


def test_story_wire_form_round_trips_through_json() -> None:
    import json

    from transforms.core.records import Story

    story = Story(
        story_id="s",
        entry_id="e",
        url="u",
        canonical_url="u",
        site="x",
        feed_url="f",
        title="t",
        text="x",
        fetched_at="2026-11-24T06:00:00Z",
        authors=("A", "B"),
        places=("BY", "RU"),
        place_mentions=(("BY", 3), ("RU", 1)),
        cleaning_hits=(("promo", 2),),
        topics=("politics",),
    )
    wire = json.loads(json.dumps(story.to_json()))
    assert wire["place_mentions"] == [{"code": "BY", "count": 3}, {"code": "RU", "count": 1}]
    assert Story.from_json(wire) == story
