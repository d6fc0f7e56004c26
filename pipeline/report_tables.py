"""The report's tables built from the records it read: per-feed health, largest clusters.

Kept apart from the accounting so the shapes the HTML report renders (``HEALTH_KEYS``, the
cluster entries) are defined in one small place; every web-derived value is redacted here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from transforms.core.redact import redact_text, redact_url

HEALTH_KEYS = (
    "feed_url",
    "name",
    "entries_listed",
    "stories",
    "duplicates",
    "rejected",
    "dead_letters",
    "last_error",
    "last_success",
)


def feed_table(
    health: list[dict[str, Any]], per_feed: dict[str, Counter[str]]
) -> list[dict[str, Any]]:
    """One row per feed of the list: the shape the HTML report renders (``HEALTH_KEYS``)."""
    rows = []
    for row in sorted(health, key=lambda r: (r.get("feed_url") or "", r.get("name") or "")):
        url = redact_url(row.get("feed_url") or "")
        tally = per_feed.get(url, Counter())
        rows.append(
            {
                "feed_url": url,
                "name": row.get("name") or "",
                "entries_listed": int(row.get("entries_listed") or 0),
                "stories": tally["stories"],
                "duplicates": tally["duplicates"],
                "rejected": tally["rejected"],
                "dead_letters": tally["dead_letters"],
                "last_error": redact_text(row["last_error"]) if row.get("last_error") else None,
                "last_success": row.get("last_success"),
            }
        )
    return rows


MAX_CLUSTERS = 10
OUTCOME_LABELS = {
    "stories": "story",
    "duplicates": "duplicate",
    "rejected": "rejected",
    "errors": "dead letter",
}


def largest_clusters(
    canonicals: dict[str, dict[str, Any]], copies: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The clusters with the most copies in this run, each with its canonical and copies."""
    ranked = sorted(copies.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MAX_CLUSTERS]
    clusters = []
    for cluster_id, members in ranked:
        canonical = canonicals.get(cluster_id, {})
        clusters.append(
            {
                "cluster_id": cluster_id,
                "canonical": {
                    "story_id": cluster_id,
                    "title": canonical.get("title"),
                    "url": canonical.get("url"),
                    "feed_url": canonical.get("feed_url"),
                },
                "copies": [
                    {
                        "story_id": copy.get("story_id"),
                        "title": copy.get("title"),
                        "url": copy.get("url"),
                        "feed_url": copy.get("feed_url"),
                        "reason": copy.get("duplicate_reason"),
                        "similarity": copy.get("similarity"),
                    }
                    for copy in sorted(
                        members, key=lambda c: (-(c.get("similarity") or 0), c.get("url") or "")
                    )
                ],
            }
        )
    return clusters
