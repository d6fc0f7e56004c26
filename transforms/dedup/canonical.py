"""The one canonical order: which story of a cluster is the canonical, in batch and streaming.

The canonical of a cluster is an agency item (a story read from a wire file,
``transforms/sources/wire``: the original the web pages republish) before any web copy; then the
earliest published story (``published_at``, else ``fetched_at``), then the one with fewer
cleaning-rule hits (less residue removed), then the longer text, then the smallest story id.
Batch sorts fingerprints and stories by it; streaming sorts the stories of one pane by it in every
bucket so copies that arrive together agree on one canonical, and breaks ties between two
undecided copies with it; the fingerprint store's records carry the fields it needs (``agency``,
``published``, ``cleaning_hits``, ``text_length``). A cluster written by an earlier run keeps its
canonical: an agency item that arrives after its web copies were stored joins their cluster.

The key is one string, not a tuple, so it can travel through a shuffle or sit in keyed state as
plain UTF-8 and still compare exactly like the tuple it encodes: ``0`` for an agency item and
``1`` for a web page, second-precision ISO UTC time
(``MISSING_TIME`` sorts after every date, so an undated story never wins "earliest"), hits and
the complement of the text length zero-padded to fixed widths, then the id, separated by a
character that sorts below every printable one.

``BUCKET_ANCHORS`` is how many members a full bucket (over ``max_bucket_size``) still compares
every newcomer with: the first ones in the bucket's own order (smallest ids in batch, earliest
members in streaming), so a story copied hundreds of times still finds its first copies while the
work per bucket stays linear.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from transforms.core.timefmt import parse_iso, utc_iso

if TYPE_CHECKING:
    from transforms.core.records import Story

logger = logging.getLogger(__name__)

MISSING_TIME = "~"  # sorts after every ISO timestamp: undated stories never win "earliest"
BUCKET_ANCHORS = 2
_SEP = "\x1f"
_HITS_WIDTH = 9
_LENGTH_SPAN = 10**12  # texts are capped far below this (--max_text_chars)


def sortable_time(value: str | None) -> str:
    """Second-precision ISO UTC, so offsets like ``+00:00`` and ``Z`` compare correctly."""
    if not value:
        return MISSING_TIME
    moment = parse_iso(value)
    if moment is None:
        logger.debug("unparseable timestamp %r treated as missing", value)
        return MISSING_TIME
    return utc_iso(moment)


def canonical_key(
    published: str, cleaning_hits: int, text_length: int, story_id: str, agency: bool = False
) -> str:
    """Sort key: the smallest key of a cluster is its canonical (``published`` already sortable)."""
    hits = min(max(cleaning_hits, 0), 10**_HITS_WIDTH - 1)
    shorter = _LENGTH_SPAN - min(max(text_length, 0), _LENGTH_SPAN)
    source = "0" if agency else "1"
    return _SEP.join((source, published, f"{hits:0{_HITS_WIDTH}d}", f"{shorter:013d}", story_id))


def is_agency_item(story: Story) -> bool:
    """Read from an agency's wire file (NewsML-G2, ninjs, NITF), not from a web page."""
    return story.wire_guid is not None


def story_key(story: Story) -> str:
    """The canonical key of a story (what its fingerprint's key is too)."""
    return canonical_key(
        sortable_time(story.published_at or story.fetched_at),
        story.cleaning_hit_count,
        len(story.text),
        story.story_id,
        agency=is_agency_item(story),
    )
