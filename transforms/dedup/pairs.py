"""Batch candidate pairs: LSH buckets propose pairs, a keyed join verifies each one.

A bucket of up to ``max_bucket_size`` members proposes all its pairs; a bigger one (boilerplate,
or a story copied hundreds of times) proposes only the pairs with its ``BUCKET_ANCHORS`` smallest
ids, so work stays linear in the bucket and is counted (``dedup_buckets_capped``). Stored-stored
pairs are never proposed: an earlier run decided them. Pairs are verified with ``minhash.verify``
after two CoGroupByKeys attach each side's fingerprint, so only verified pairs become edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.dedup.canonical import BUCKET_ANCHORS
from transforms.dedup.minhash import Fingerprint, MinHashConfig, MinHasher, verify

NAMESPACE = "wirestream"
SEP = "\x1f"


def _counter(name: str) -> Metrics.DelegatingCounter:
    return Metrics.counter(NAMESPACE, f"dedup_{name}")


# ---------------------------------------------------------------------------------------------
# 3: band buckets -> candidate pairs


class BandKeysFn(beam.DoFn):
    def __init__(self, config: MinHashConfig) -> None:
        self._config = config

    def setup(self) -> None:
        self._hasher = MinHasher(self._config)

    def process(self, fp: Fingerprint) -> Iterator[tuple[bytes, tuple[str, bool]]]:
        for key in self._hasher.bucket_keys(fp):
            yield key, (fp.story_id, fp.stored)


class BucketPairsFn(beam.DoFn):
    def __init__(self, max_bucket_size: int) -> None:
        self._max = max_bucket_size
        self._capped = _counter("buckets_capped")
        self._capped_members = _counter("bucket_members_capped")
        self._proposed = _counter("candidate_pairs")

    def process(self, element: tuple[bytes, Iterable[tuple[str, bool]]]) -> Iterator[str]:
        _, members = element
        small: dict[str, bool] | None = {}  # story id -> stored, while the bucket is small
        anchors: list[tuple[str, bool]] = []  # the smallest ids, kept in any case
        any_new = False
        for story_id, stored in members:
            any_new = any_new or not stored
            if small is not None:
                small[story_id] = stored
                if len(small) > self._max:
                    small = None  # over-full: from here on only anchors, O(max) memory
            anchors = sorted({*anchors, (story_id, stored)})[:BUCKET_ANCHORS]
        if not any_new:
            return
        if small is not None:
            ids = sorted(small)
            pairs = [(a, b, small[a] and small[b]) for i, a in enumerate(ids) for b in ids[i + 1 :]]
            yield from self._emit(pairs)
            return
        self._capped.inc()
        anchor_ids = {story_id for story_id, _ in anchors}
        seen: set[tuple[str, str]] = set()
        pairs = []
        for story_id, stored in members:  # second pass over the (re-iterable) bucket
            self._capped_members.inc()
            for anchor, anchor_stored in anchors:
                pair = (min(anchor, story_id), max(anchor, story_id))
                if anchor != story_id and pair not in seen:
                    if story_id in anchor_ids:
                        seen.add(pair)
                    pairs.append((*pair, stored and anchor_stored))
        yield from self._emit(pairs)

    def _emit(self, pairs: Iterable[tuple[str, str, bool]]) -> Iterator[str]:
        for a, b, both_stored in pairs:
            if not both_stored:  # stored-stored pairs were decided by an earlier run
                self._proposed.inc()
                yield f"{a}{SEP}{b}"


# ---------------------------------------------------------------------------------------------
# 4: verification


def _attach_left(element: tuple[str, dict[str, list]]) -> Iterator[tuple[str, Fingerprint]]:
    _, grouped = element
    if not grouped["fp"]:
        return
    left = grouped["fp"][0]
    for right_id in sorted(set(grouped["pairs"])):  # a pair proposed by several buckets
        yield right_id, left


class _VerifyFn(beam.DoFn):
    def __init__(self, config: MinHashConfig) -> None:
        self._config = config
        self._accepted = _counter("pairs_verified")
        self._refused = _counter("pairs_refused")

    def process(self, element: tuple[str, dict[str, list]]) -> Iterator[tuple[str, str]]:
        _, grouped = element
        if not grouped["fp"]:
            return
        right = grouped["fp"][0]
        for left in grouped["lefts"]:
            if verify(left, right, self._config).duplicate:
                self._accepted.inc()
                yield left.story_id, right.story_id
            else:
                self._refused.inc()


class VerifyCandidates(beam.PTransform):
    """Candidate pair strings + fingerprints keyed by id -> verified edges (a, b) with a < b."""

    def __init__(self, config: MinHashConfig, fingerprints_by_id: beam.PCollection) -> None:
        super().__init__()
        self._config = config
        self._by_id = fingerprints_by_id

    def expand(self, pairs: beam.PCollection) -> beam.PCollection:
        split = pairs | "SplitPair" >> beam.Map(lambda p: tuple(p.split(SEP, 1)))
        lefts = (
            {"fp": self._by_id, "pairs": split}
            | "JoinLeft" >> beam.CoGroupByKey()
            | "AttachLeft" >> beam.FlatMap(_attach_left)
        )
        return (
            {"fp": self._by_id, "lefts": lefts}
            | "JoinRight" >> beam.CoGroupByKey()
            | "Verify" >> beam.ParDo(_VerifyFn(self._config))
        )
