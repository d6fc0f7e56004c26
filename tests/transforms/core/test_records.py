from __future__ import annotations

from datetime import datetime, timedelta, timezone

from transforms.core.records import (
    Story,
    content_hash_for,
    excerpt,
    stable_hash,
    story_id_for,
    utc_iso,
)


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
