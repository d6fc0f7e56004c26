"""What dedup decides for one story, shared by the batch and streaming forms.

Every story leaves dedup with exactly one ``Decision``: the canonical of its cluster, a duplicate
of it (``same_text``, ``near_duplicate`` or, in streaming, ``same_url``) or, in batch with a
fingerprint store, ``already_stored`` (unless it is a newer version of a stored agency item: that
is decided like the stored version was). ``cluster_id`` is always the canonical's story id.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.core.records import Story

CANONICAL = "canonical"
DUPLICATE = "duplicate"
ALREADY_STORED = "already_stored"
SAME_TEXT = "same_text"
NEAR_DUPLICATE = "near_duplicate"
SAME_URL = "same_url"
# A newer version of an agency item whose earlier version an earlier run stored as a duplicate:
# it stays a duplicate in that cluster (batch, with a fingerprint store).
UPDATED_VERSION = "updated_version"


@dataclass(frozen=True)
class Decision:
    """What dedup decided for one story; joined back onto the Story at the end."""

    story_id: str
    kind: str  # canonical | duplicate | already_stored
    cluster_id: str
    cluster_size: int = 1
    duplicate_of: str | None = None
    reason: str | None = None  # same_text | near_duplicate
    similarity: float | None = None

    def apply(self, story: Story) -> Story:
        return story.replace(
            cluster_id=self.cluster_id,
            cluster_size=self.cluster_size,
            duplicate_of=self.duplicate_of,
            duplicate_reason=self.reason,
            similarity=self.similarity,
        )
