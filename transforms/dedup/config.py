"""MinHash and verification settings, and their command-line flags.

``MinHashConfig`` is what makes two fingerprints comparable (``name``: shingle size, permutations,
banding, seed, sample size) plus the verification thresholds and the bucket cap; the LSH maths
behind the defaults is in ``transforms/dedup/minhash.py``. ``str(config)`` names every knob and
goes into the run report; ``name`` is part of the fingerprint store's path.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

SAMPLE_KEY_TAG = 0xFF  # first byte of bucket keys made from bottom-k sample values


@dataclass(frozen=True)
class MinHashConfig:
    """Fingerprint and verification knobs; ``str()`` names the fingerprint store's folder.

    Two runs may only compare signatures made with the same shingle size, permutation count and
    seed, so that part of the string form (``name``) is part of the store path: changing it starts
    a fresh store instead of comparing incompatible signatures.
    """

    shingle_size: int = 3
    num_perm: int = 128
    bands: int = 42
    rows: int = 3
    seed: int = 1
    jaccard_threshold: float = 0.5
    containment_threshold: float = 0.8
    containment_min_shingles: int = 20
    sample_size: int = 128
    sample_keys: int = 8
    containment_min_samples: int = 16
    max_bucket_size: int = 200

    def __post_init__(self) -> None:
        if self.shingle_size < 1:
            raise ValueError("shingle_size must be >= 1")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows ({self.bands} x {self.rows}) exceeds num_perm ({self.num_perm}); "
                "raise --dedup_num_perm or lower bands/rows"
            )
        if not 0 < self.bands < SAMPLE_KEY_TAG:
            raise ValueError("bands must be in 1..254 (the band index is one byte of the key)")
        if not 0 <= self.sample_keys <= self.sample_size:
            raise ValueError("sample_keys must be between 0 and sample_size")
        if self.max_bucket_size < 2:
            raise ValueError("max_bucket_size must be >= 2")

    @property
    def name(self) -> str:
        """The part of the config that makes signatures comparable."""
        return (
            f"minhash_k{self.shingle_size}_p{self.num_perm}_b{self.bands}x{self.rows}"
            f"_s{self.seed}_m{self.sample_size}"
        )

    def __str__(self) -> str:
        return (
            f"{self.name}_j{self.jaccard_threshold:g}_c{self.containment_threshold:g}"
            f"_cm{self.containment_min_shingles}_cs{self.containment_min_samples}"
            f"_sk{self.sample_keys}"
            f"_cap{self.max_bucket_size}"
        )

    def candidate_probability(self, similarity: float) -> float:
        """P(two stories of this Jaccard similarity share a band key)."""
        return 1.0 - (1.0 - similarity**self.rows) ** self.bands


def add_arguments(parser: argparse._ActionsContainer) -> None:
    """MinHash flags (registered by ``transforms.dedup.stage.add_arguments``)."""
    defaults = MinHashConfig()
    parser.add_argument(
        "--dedup_shingle_size",
        type=int,
        default=defaults.shingle_size,
        help="Words (or CJK/Thai characters) per shingle for near-duplicate MinHash.",
    )
    parser.add_argument(
        "--dedup_num_perm",
        type=int,
        default=defaults.num_perm,
        help="MinHash permutations per signature (changing it starts a new fingerprint store).",
    )
    parser.add_argument(
        "--dedup_bands",
        type=int,
        default=defaults.bands,
        help="LSH bands; with --dedup_rows sets the candidate threshold ~(1/bands)^(1/rows).",
    )
    parser.add_argument(
        "--dedup_rows", type=int, default=defaults.rows, help="Signature rows per LSH band."
    )
    parser.add_argument(
        "--dedup_seed", type=int, default=defaults.seed, help="Seed of the MinHash hash family."
    )
    parser.add_argument(
        "--dedup_jaccard_threshold",
        type=float,
        default=defaults.jaccard_threshold,
        help="Estimated Jaccard similarity at or above which two stories are near-duplicates.",
    )
    parser.add_argument(
        "--dedup_containment_threshold",
        type=float,
        default=defaults.containment_threshold,
        help="Estimated containment of the shorter story in the longer one that also counts "
        "as a duplicate (abridged copies).",
    )
    parser.add_argument(
        "--dedup_max_bucket_size",
        type=int,
        default=defaults.max_bucket_size,
        help="LSH buckets with more members than this are compared against a few anchors "
        "only, not all pairs (bounds work on boilerplate buckets).",
    )
