"""Synthetic news-like text for dedup and MinHash tests.

Words from one small news vocabulary with numbered variants: texts from different seeds share
their vocabulary, as unrelated stories do, so near-duplicate detection must tell copies from
merely similar wording.
"""

from __future__ import annotations

import random

_NEWS_WORDS = (
    "minister said talks would continue next week after the parliament voted against "
    "the budget plan while protesters gathered outside the building in the capital city "
    "police reported several arrests officials declined to comment on the negotiations "
    "analysts expect markets to react strongly as the central bank weighs interest rates "
    "exporters warned of shortages farmers blocked roads and the opposition called for "
    "early elections citing corruption and a slowing economy across the northern regions"
)
NEWS_WORDS = tuple(_NEWS_WORDS.split())


def synthetic_text(seed: int, n: int, variants: int) -> str:
    """``n`` words, each a vocabulary word with one of ``variants`` numeric suffixes."""
    rng = random.Random(seed)
    return " ".join(rng.choice(NEWS_WORDS) + str(rng.randrange(variants)) for _ in range(n))
