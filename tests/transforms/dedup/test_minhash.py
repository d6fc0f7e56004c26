"""MinHash fingerprints and pair verification, called directly (no pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.textgen import synthetic_text
from transforms.core.records import Story, content_hash_for
from transforms.dedup.minhash import (
    Fingerprint,
    MinHashConfig,
    MinHasher,
    containment_estimate,
    tokens,
    verify,
)


def _text(seed: int, n: int = 300) -> str:
    return synthetic_text(seed, n, variants=50)


def _story(story_id: str, text: str, **kw) -> Story:
    return Story(
        story_id=story_id,
        entry_id=story_id,
        url=f"https://x.example/{story_id}",
        canonical_url=f"https://x.example/{story_id}",
        site="x.example",
        feed_url="",
        title="",
        text=text,
        fetched_at="2026-11-24T06:00:00Z",
        **kw,
    )


@pytest.fixture(scope="module")
def hasher() -> MinHasher:
    return MinHasher(MinHashConfig())


def _fp(hasher: MinHasher, text: str, story_id: str = "a") -> Fingerprint:
    return hasher.fingerprint(_story(story_id, text))


def test_tokens_fold_case_punctuation_and_split_cjk() -> None:
    assert tokens("Hello, WORLD! “Quoted” text") == ["hello", "world", "quoted", "text"]
    assert tokens("東京で地震 news") == ["東", "京", "で", "地", "震", "news"]


def test_signature_is_deterministic_across_hasher_instances() -> None:
    text = _text(1)
    one = MinHasher(MinHashConfig()).fingerprint(_story("a", text))
    two = MinHasher(MinHashConfig()).fingerprint(_story("a", text))
    assert one == two
    other_seed = MinHasher(MinHashConfig(seed=2)).fingerprint(_story("a", text))
    assert other_seed.signature != one.signature


def test_jaccard_estimate_tracks_exact_jaccard(hasher: MinHasher) -> None:
    base = _text(3, 600).split()
    for keep in (0.9, 0.7, 0.5):
        copy = " ".join(base[: int(len(base) * keep)])
        a = hasher.shingle_hashes(" ".join(base))
        b = hasher.shingle_hashes(copy)
        exact = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
        verdict = verify(_fp(hasher, " ".join(base)), _fp(hasher, copy, "b"), hasher.config)
        assert abs(verdict.jaccard - exact) < 0.15, (keep, exact, verdict)


def test_abridged_copy_is_contained_even_when_jaccard_is_low(hasher: MinHasher) -> None:
    full = _text(4, 2000)
    lead = " ".join(full.split()[:500])  # a quarter of the story
    verdict = verify(_fp(hasher, full), _fp(hasher, lead, "b"), hasher.config)
    assert verdict.jaccard < hasher.config.jaccard_threshold
    assert verdict.containment > 0.95
    assert verdict.duplicate


def test_shared_background_paragraph_is_not_a_duplicate(hasher: MinHasher) -> None:
    background = _text(99, 80)
    a = _fp(hasher, _text(5) + " " + background)
    b = _fp(hasher, _text(6) + " " + background, "b")
    verdict = verify(a, b, hasher.config)
    assert not verdict.duplicate
    assert verdict.containment < 0.5


def test_texts_shorter_than_a_shingle_do_not_hash_alike(hasher: MinHasher) -> None:
    short = ["Breaking", "Read more", "Subscribe", "Live updates", "Video"]
    prints = [_fp(hasher, text, str(i)) for i, text in enumerate(short)]
    assert len({fp.signature for fp in prints}) == len(short)
    for i, a in enumerate(prints):
        for b in prints[i + 1 :]:
            assert not verify(a, b, hasher.config).duplicate
    assert verify(prints[1], _fp(hasher, "read MORE!", "x"), hasher.config).duplicate


def test_short_text_is_not_contained_in_a_long_story(hasher: MinHasher) -> None:
    story = _text(8, 400)
    snippet = " ".join(story.split()[10:16])
    assert not verify(_fp(hasher, story), _fp(hasher, snippet, "b"), hasher.config).duplicate


def test_empty_text_has_no_signature_and_never_matches(hasher: MinHasher) -> None:
    empty = _fp(hasher, "  ...  ")
    assert empty.empty and hasher.bucket_keys(empty) == []
    assert not verify(empty, _fp(hasher, "", "b"), hasher.config).duplicate


def test_bucket_keys_are_bytes_and_band_indexed(hasher: MinHasher) -> None:
    keys = hasher.bucket_keys(_fp(hasher, _text(9)))
    config = hasher.config
    assert len(keys) == config.bands + config.sample_keys
    assert all(isinstance(k, bytes) for k in keys)
    assert [k[0] for k in keys[: config.bands]] == list(range(config.bands))


def test_containment_estimate_is_exact_for_sets_within_the_sample(hasher: MinHasher) -> None:
    words = _text(10, 60).split()
    a = _fp(hasher, " ".join(words))
    b = _fp(hasher, " ".join(words[:30]), "b")
    shared = np.intersect1d(
        hasher.shingle_hashes(" ".join(words)),
        hasher.shingle_hashes(b_text := " ".join(words[:30])),
    )
    expected = len(shared) / len(hasher.shingle_hashes(b_text))
    value, evidence = containment_estimate(a, b)
    assert value == pytest.approx(expected)
    assert evidence == b.shingle_count


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fingerprint_content_hash_equals_the_records_content_hash(text: str) -> None:
    assert _HASHER.fingerprint(_story("x", text)).content_hash == content_hash_for(text)


_HASHER = MinHasher(MinHashConfig())
