"""Candidate pairs from buckets, called directly."""

from __future__ import annotations

from transforms.dedup.pairs import BucketPairsFn


def test_huge_bucket_is_capped_to_linear_work() -> None:
    fn = BucketPairsFn(max_bucket_size=50)
    members = [(f"s{n:05d}", False) for n in range(5000)]
    pairs = list(fn.process((b"\x00bucket", members)))
    assert len(pairs) <= 2 * len(members)
    assert len(set(pairs)) == len(pairs)
    small = list(fn.process((b"\x00bucket", members[:20])))
    assert len(small) == 20 * 19 // 2
