"""The batch dedup's decisions without Beam, for small in-process loops.

The throughput benchmark's plain loop (``benchmarks/throughput.py``) runs every stage as a
function call; this is its dedup. It uses the same fingerprints, exact groups, bucket keys,
bucket cap, verification, components and canonical order as ``DedupStories`` (a test holds the
two equal), all in one process: for samples, never for a production run.
"""

from __future__ import annotations

from collections.abc import Iterable

from transforms.core.records import Story
from transforms.dedup.canonical import BUCKET_ANCHORS, story_key
from transforms.dedup.decisions import NEAR_DUPLICATE, SAME_TEXT
from transforms.dedup.minhash import MinHashConfig, MinHasher, verify


def deduplicate_in_memory(
    stories: Iterable[Story], config: MinHashConfig | None = None
) -> tuple[list[Story], list[Story]]:
    """The batch decisions without Beam, for small in-process loops (throughput benchmark).

    Same fingerprints, exact groups, bucket keys, verification, components and canonical order
    as ``DedupStories`` (a test holds the two equal); all in one process, so only for samples.
    """
    config = config or MinHashConfig()
    hasher = MinHasher(config)
    by_id = {story.story_id: story for story in stories}
    prints = {i: hasher.fingerprint(s) for i, s in by_id.items()}
    parent: dict[str, str] = {i: i for i in by_id}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    exact: dict[str, list[str]] = {}
    for i in sorted(by_id):
        if not prints[i].empty:
            exact.setdefault(prints[i].content_hash, []).append(i)
    reps = []
    for members in exact.values():
        members.sort(key=lambda i: prints[i].canonical_key())
        reps.append(members[0])
        for other in members[1:]:
            union(members[0], other)
    buckets: dict[bytes, list[str]] = {}
    for i in sorted(reps):
        for key in hasher.bucket_keys(prints[i]):
            buckets.setdefault(key, []).append(i)
    checked: set[tuple[str, str]] = set()
    for members in buckets.values():
        ids = sorted(set(members))
        anchors = ids[:BUCKET_ANCHORS] if len(ids) > config.max_bucket_size else ids
        for a in anchors:
            for b in ids:
                pair = (min(a, b), max(a, b))
                if a != b and pair not in checked:
                    checked.add(pair)
                    if verify(prints[pair[0]], prints[pair[1]], config).duplicate:
                        union(*pair)
    clusters: dict[str, list[str]] = {}
    for i in by_id:
        clusters.setdefault(find(i), []).append(i)
    kept, copies = [], []
    for members in clusters.values():
        members.sort(key=lambda i: story_key(by_id[i]))
        head = by_id[members[0]]
        size = len(members)
        kept.append(head.replace(cluster_id=head.story_id, cluster_size=size))
        for i in members[1:]:
            same = prints[i].content_hash == prints[head.story_id].content_hash
            similarity = (
                1.0 if same else verify(prints[i], prints[head.story_id], config).similarity
            )
            copies.append(
                by_id[i].replace(
                    cluster_id=head.story_id,
                    cluster_size=size,
                    duplicate_of=head.story_id,
                    duplicate_reason=SAME_TEXT if same else NEAR_DUPLICATE,
                    similarity=similarity,
                )
            )
    return kept, copies
