"""A decision joined back onto its story sets exactly the dedup fields."""

from __future__ import annotations

from tests.transforms.dedup.helpers import story, words
from transforms.dedup.decisions import DUPLICATE, NEAR_DUPLICATE, Decision


def test_apply_sets_the_cluster_fields_and_nothing_else() -> None:
    original = story("copy", words(1))
    decision = Decision("copy", DUPLICATE, "orig", 3, "orig", NEAR_DUPLICATE, 0.81)
    applied = decision.apply(original)
    assert (applied.cluster_id, applied.cluster_size, applied.duplicate_of) == ("orig", 3, "orig")
    assert (applied.duplicate_reason, applied.similarity) == (NEAR_DUPLICATE, 0.81)
    cleared = applied.replace(
        cluster_id=None, cluster_size=1, duplicate_of=None, duplicate_reason=None, similarity=None
    )
    assert cleared == original
