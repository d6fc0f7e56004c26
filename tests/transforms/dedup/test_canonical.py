"""The one canonical order: its string key compares exactly like the tuple it encodes."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.core.records import Story
from transforms.dedup.canonical import MISSING_TIME, canonical_key, sortable_time, story_key
from transforms.dedup.minhash import MinHashConfig, MinHasher

_TIMES = ("2026-11-24T08:00:00Z", "2026-11-24T08:00:01Z", "2026-11-25T00:00:00Z", MISSING_TIME)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_TIMES),
            st.integers(0, 10**6),
            st.integers(0, 10**7),
            st.text(alphabet="0123456789abcdef", min_size=1, max_size=20),
        ),
        min_size=2,
        max_size=8,
    )
)
def test_string_key_orders_like_the_tuple(rows: list[tuple[str, int, int, str]]) -> None:
    by_tuple = sorted(rows, key=lambda r: (r[0], r[1], -r[2], r[3]))
    by_key = sorted(rows, key=lambda r: canonical_key(*r))
    assert [canonical_key(*r) for r in by_key] == [canonical_key(*r) for r in by_tuple]


def test_sortable_time_normalises_offsets_and_missing_values() -> None:
    assert sortable_time("2025-02-22T12:45:00+00:00") == "2025-02-22T12:45:00Z"
    assert sortable_time("2025-02-22T14:45:00+02:00") == "2025-02-22T12:45:00Z"
    assert sortable_time(None) > "9999"
    assert sortable_time("not a date") == sortable_time(None)


def _story(story_id: str, published: str | None, text: str, hits: int = 0) -> Story:
    return Story(
        story_id=story_id,
        entry_id=story_id,
        url=f"https://x.example/{story_id}",
        canonical_url=f"https://x.example/{story_id}",
        site="x.example",
        feed_url="",
        title="",
        text=text,
        fetched_at="2026-11-24T09:00:00Z",
        published_at=published,
        cleaning_hits=(("promo", hits),) if hits else (),
    )


def test_story_and_fingerprint_keys_agree_and_pick_the_documented_canonical() -> None:
    stories = [
        _story("z-early", "2026-11-24T07:00:00+00:00", "one two three four"),
        _story("a-later", "2026-11-24T08:00:00Z", "one two three four five"),
        _story("b-hits", "2026-11-24T07:00:00Z", "one two three four five six", hits=2),
        _story("c-longer", "2026-11-24T07:00:00Z", "one two three four five six"),
        _story("d-undated", None, "one two three"),  # falls back to fetched_at (09:00)
    ]
    random.Random(1).shuffle(stories)
    hasher = MinHasher(MinHashConfig())
    by_story = [s.story_id for s in sorted(stories, key=story_key)]
    by_print = [
        f.story_id
        for f in sorted(map(hasher.fingerprint, stories), key=lambda f: f.canonical_key())
    ]
    assert by_story == by_print == ["c-longer", "z-early", "b-hits", "a-later", "d-undated"]
