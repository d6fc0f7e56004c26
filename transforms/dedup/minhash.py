"""MinHash fingerprints, LSH band keys and pair verification for near-duplicate stories.

Why these choices
-----------------
*Shingles.* A story is normalised exactly like the exact-text hash (NFKC, case-folded, punctuation
to spaces; ``records.normalise_for_hash``) and cut into tokens: words for space-separated scripts
and single characters for scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar),
so Chinese or Japanese text does not become one giant "word". Shingles are ``shingle_size``
consecutive tokens (default 3). Smaller shingles keep more of a copy's shingles under word-level
edits: with a share ``r`` of words substituted, about ``(1 - r) ** k`` of the shingles survive, so
at ``r = 0.1`` a 3-shingle copy keeps 73 % (Jaccard ~0.57) where a 5-shingle copy keeps 59 %
(Jaccard ~0.42). Different stories that share a whole background paragraph score about the same
for k = 3..5 because the shared paragraph is shared shingle for shingle.

A text shorter than the shingle size becomes one shingle made of *all* its tokens, so two short
texts only collide when they are identical; an empty text has no shingles and is never clustered
(it would otherwise share the all-maximum signature with every other empty text).

*Signatures.* Each token is hashed once with xxh64 (seeded); a shingle's hash is a polynomial
roll over its token hashes (vectorised over the whole story with numpy, uint64 wrap-around) and
finalised with ``fmix64`` (the MurmurHash3 finaliser). Permutation ``i`` is the multiply-add-shift
hash ``(a_i * x + b_i) >> 32`` over the shingle hash's top 32 bits (odd 64-bit ``a_i``, pairwise
independent), computed in place on a (shingles x permutations) uint64 block; the signature is the
uint32 minimum per permutation. Chosen by measurement (``python -m benchmarks.minhash_speed``
on neardup-wire, 128 permutations, shared 2-core machine): 1.34 ms per story against 1.83 ms for
datasketch's ``MinHash.update_batch`` (SHA-1 per shingle, then ``(a x + b) mod p``) on the same
shingles; a first version with ``fmix64`` per permutation was no faster than datasketch. The same
shingle hashes also give the bottom-k sample used for containment, which datasketch would not.

*LSH threshold maths.* With ``b`` bands of ``r`` rows, two stories of Jaccard similarity ``s``
share at least one band key with probability ``P(s) = 1 - (1 - s**r) ** b``; the curve's steepest
point is near ``(1 / b) ** (1 / r)``. The default, 42 bands x 3 rows (126 of 128 permutations), puts
that point at ~0.29 and gives::

    s      0.1    0.2    0.3    0.4    0.5    0.6    0.8
    P(s)   0.04   0.29   0.68   0.94   0.996  >0.999 >0.999

The threshold is deliberately low: LSH only *proposes* candidates; every candidate is then
verified, so recall is set by the verifier and precision does not depend on the banding. The low
threshold lets abridged copies (low Jaccard, high containment) reach the verifier.

*Verification.* From two signatures the Jaccard estimate is the share of equal positions
(standard error ``sqrt(J (1 - J) / 128)`` ~0.044 at J = 0.5). Containment of the smaller set in the
larger one follows from the estimate and the exact shingle-set sizes ``|A|``, ``|B|``:
``|A n B| = J (|A| + |B|) / (1 + J)`` and ``C = |A n B| / min(|A|, |B|)``. A pair is a duplicate
when ``J >= jaccard_threshold`` (default 0.5), or when ``C >= containment_threshold`` (default
0.8) *and* ``J >= containment_min_jaccard`` (default 0.2: below it the size ratio is so lopsided
that the containment estimate is mostly noise) *and* the smaller story has at least
``containment_min_shingles`` shingles (so a one-line "Read more" is never "contained" in every
story). Agency background paragraphs shared by different stories give low J and low C and stay
apart.

*Band keys* are bytes: one byte of band index followed by the 8-byte xxh64 of that band's rows, so
equal rows in different bands never collide and keys group without pickling.
"""

from __future__ import annotations

import base64
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from transforms.core.records import ALNUM_RUN, Story, stable_hash
from transforms.dedup.canonical import canonical_key, is_agency_item, sortable_time
from transforms.dedup.config import SAMPLE_KEY_TAG
from transforms.dedup.config import MinHashConfig as MinHashConfig  # re-exported: callers' import

if TYPE_CHECKING:  # numpy is imported lazily so the module pickles and imports cheaply
    import numpy as np

logger = logging.getLogger(__name__)

_NO_SPACE_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u312f"  # Bopomofo
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
)
_WORD_RE = ALNUM_RUN  # the exact-hash words (records.normalise_for_hash)
_NO_SPACE_RE = re.compile(f"[{_NO_SPACE_SCRIPTS}]")
_MIXED_TOKEN_RE = re.compile(f"[{_NO_SPACE_SCRIPTS}]|(?:(?![{_NO_SPACE_SCRIPTS}])[^\\W_])+")

_U64 = (1 << 64) - 1
_ROLL_PRIME = 0x9E3779B97F4A7C15  # odd 64-bit multiplier (golden ratio); any odd constant works
_FMIX_C1 = 0xFF51AFD7ED558CCD
_FMIX_C2 = 0xC4CEB9FE1A85EC53
_ROW_CHUNK = 4096  # shingles hashed per block, bounds the (shingles x permutations) matrix


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """Word tokens of the exact-hash normal form (runs of alphanumerics, CJK one per char)."""
    return _words_and_tokens(text)[1]


def _words_and_tokens(text: str) -> tuple[list[str], list[str]]:
    """The exact-hash words and the shingling tokens, from one normalisation pass."""
    folded = _folded(text)
    words = _WORD_RE.findall(folded)
    if _NO_SPACE_RE.search(folded):
        return words, _MIXED_TOKEN_RE.findall(folded)
    return words, words


def _fmix64(values: np.ndarray) -> np.ndarray:
    import numpy as np

    z = values ^ (values >> np.uint64(33))
    z = z * np.uint64(_FMIX_C1)
    z = z ^ (z >> np.uint64(33))
    z = z * np.uint64(_FMIX_C2)
    return z ^ (z >> np.uint64(33))


class MinHasher:
    """Computes shingle sets, signatures and band keys for one config (build once per worker)."""

    def __init__(self, config: MinHashConfig) -> None:
        import numpy as np

        self.config = config
        state = (config.seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & _U64
        seeds = []
        for _ in range(config.num_perm):  # splitmix64 sequence: distinct, well-mixed seeds
            state = (state + 0x9E3779B97F4A7C15) & _U64
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _U64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64
            seeds.append(z ^ (z >> 31))
        values = np.array(seeds, dtype=np.uint64)
        self._mul = (values | np.uint64(1))[None, :]  # odd multipliers
        self._add = _fmix64(values)[None, :]

    def shingle_hashes(self, text: str) -> np.ndarray:
        """Sorted unique 64-bit shingle hashes (empty for a text without tokens)."""
        return self._shingles_of(tokens(text))

    def _shingles_of(self, toks: list[str]) -> np.ndarray:
        import numpy as np
        import xxhash

        if not toks:
            return np.zeros(0, dtype=np.uint64)
        seed = self.config.seed
        token_hashes = np.fromiter(
            (xxhash.xxh64_intdigest(tok.encode("utf-8"), seed) for tok in toks),
            dtype=np.uint64,
            count=len(toks),
        )
        k = min(self.config.shingle_size, len(toks))
        width = len(toks) - k + 1
        acc = token_hashes[:width].copy()
        prime = np.uint64(_ROLL_PRIME)
        with np.errstate(over="ignore"):
            for offset in range(1, k):
                acc = acc * prime + token_hashes[offset : offset + width]
            # Fold the width in so a short text "a b" (one shingle of 2) differs from k-grams.
            acc = _fmix64(acc ^ np.uint64(k))
        return np.unique(acc)

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        """uint32 MinHash signature of a non-empty shingle set."""
        import numpy as np

        keys = (shingles >> np.uint64(32))[:, None]  # 32-bit keys for multiply-add-shift
        mins = np.full(self.config.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for start in range(0, len(keys), _ROW_CHUNK):
                block = keys[start : start + _ROW_CHUNK] * self._mul
                block += self._add
                block >>= np.uint64(32)
                np.minimum(mins, block.min(axis=0), out=mins)
        return mins.astype(np.uint32)

    def band_keys(self, signature: np.ndarray) -> list[bytes]:
        import xxhash

        rows = self.config.rows
        keys = []
        for band in range(self.config.bands):
            chunk = signature[band * rows : (band + 1) * rows].tobytes()
            keys.append(bytes([band]) + xxhash.xxh64_digest(chunk, self.config.seed))
        return keys

    def bucket_keys(self, fingerprint: Fingerprint) -> list[bytes]:
        """LSH band keys plus keys of the smallest sampled shingle hashes (none when empty).

        Band keys find stories of similar size and content; an abridged copy of a long story
        has a low Jaccard similarity to it and may share no band, but when A is contained in
        B the smallest hashes of B that A holds are among A's smallest too, so the two share
        one of their ``sample_keys`` smallest values with probability about
        ``1 - (1 - |A| / |B|) ** sample_keys``.
        """
        import numpy as np

        if fingerprint.empty:
            return []
        keys = self.band_keys(np.frombuffer(fingerprint.signature, dtype=np.uint32))
        sample = np.frombuffer(fingerprint.sample, dtype=np.uint32)[: self.config.sample_keys]
        tag = bytes([SAMPLE_KEY_TAG])
        keys.extend(tag + int(value).to_bytes(4, "big") for value in sample)
        return keys

    def sample(self, shingles: np.ndarray) -> np.ndarray:
        """Bottom-k sketch: the ``sample_size`` smallest 32-bit shingle hashes, sorted."""
        import numpy as np

        low = np.unique((shingles & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        return low[: self.config.sample_size]

    def fingerprint(self, story: Story) -> Fingerprint:
        words, toks = _words_and_tokens(story.text)
        shingles = self._shingles_of(toks)
        content_hash = story.content_hash or stable_hash(" ".join(words), length=32)
        signature = self.signature(shingles).tobytes() if len(shingles) else b""
        sample = self.sample(shingles).tobytes() if len(shingles) else b""
        return Fingerprint(
            story_id=story.story_id,
            content_hash=content_hash,
            published=sortable_time(story.published_at or story.fetched_at),
            cleaning_hits=story.cleaning_hit_count,
            text_length=len(story.text),
            shingle_count=len(shingles),
            signature=signature,
            sample=sample,
            agency=is_agency_item(story),
            wire_version=story.wire_version or 0,
        )


@dataclass(frozen=True)
class Fingerprint:
    """What dedup needs from a story (no text): small enough to shuffle once per band.

    ``stored`` fingerprints come from earlier runs' store; they carry the cluster they were
    assigned to (``cluster_id``, named after that cluster's canonical) so new copies join it.
    """

    story_id: str
    content_hash: str
    published: str
    cleaning_hits: int
    text_length: int
    shingle_count: int
    signature: bytes  # uint32 little-endian x num_perm; b"" for a text without tokens
    sample: bytes = b""  # bottom-k sketch: smallest uint32 shingle hashes, sorted
    stored: bool = False
    cluster_id: str | None = None
    stored_on: str | None = None  # run date partition for stored fingerprints
    group_size: int = 1  # stories with exactly this text in the run (exact-dedup group)
    agency: bool = False  # an agency item: canonical before web copies (canonical.py)
    wire_version: int = 0  # agency items: a newer version of a stored story is written again

    @property
    def empty(self) -> bool:
        return not self.signature

    def canonical_key(self) -> str:
        """The story's place in the canonical order (``transforms/dedup/canonical.py``)."""
        return canonical_key(
            self.published, self.cleaning_hits, self.text_length, self.story_id, self.agency
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "content_hash": self.content_hash,
            "published": self.published,
            "cleaning_hits": self.cleaning_hits,
            "text_length": self.text_length,
            "shingle_count": self.shingle_count,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "sample": base64.b64encode(self.sample).decode("ascii"),
            "cluster_id": self.cluster_id,
            "agency": self.agency,
            "wire_version": self.wire_version,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any], stored_on: str | None = None) -> Fingerprint:
        return cls(
            story_id=record["story_id"],
            content_hash=record["content_hash"],
            published=record["published"],
            cleaning_hits=int(record["cleaning_hits"]),
            text_length=int(record["text_length"]),
            shingle_count=int(record["shingle_count"]),
            signature=base64.b64decode(record["signature"]),
            sample=base64.b64decode(record["sample"]),
            stored=True,
            cluster_id=record.get("cluster_id") or record["story_id"],
            stored_on=stored_on,
            agency=bool(record.get("agency", False)),  # absent in stores older than wire input
            wire_version=int(record.get("wire_version") or 0),
        )


def jaccard_estimate(sig_a: bytes, sig_b: bytes) -> float:
    import numpy as np

    a = np.frombuffer(sig_a, dtype=np.uint32)
    b = np.frombuffer(sig_b, dtype=np.uint32)
    return float(np.count_nonzero(a == b)) / len(a)


def containment_estimate(a: Fingerprint, b: Fingerprint) -> tuple[float, int]:
    """Share of the smaller story's shingles found in the larger one, and the evidence count.

    Both bottom-k sketches hold *every* shingle hash of their story below their own cut-off
    (the largest sampled value, or no cut-off when the whole set fits the sample), so below the
    lower of the two cut-offs membership is known exactly: the estimate is the share of the
    smaller story's sampled hashes under that cut-off that the other sketch also holds. A copy
    fully contained in a longer story scores 1.0 however lopsided the sizes; only the number of
    samples under the cut-off (returned as evidence) shrinks with the size ratio.
    """
    import numpy as np

    small, large = (a, b) if a.shingle_count <= b.shingle_count else (b, a)
    sample_small = np.frombuffer(small.sample, dtype=np.uint32)
    sample_large = np.frombuffer(large.sample, dtype=np.uint32)
    if not len(sample_small) or not len(sample_large):
        return 0.0, 0
    cutoff = np.uint32(0xFFFFFFFF)
    for fp, sample in ((small, sample_small), (large, sample_large)):
        if fp.shingle_count > len(sample):
            cutoff = min(cutoff, sample[-1])
    under = sample_small[sample_small <= cutoff]
    if not len(under):
        return 0.0, 0
    shared = np.intersect1d(under, sample_large[sample_large <= cutoff], assume_unique=True)
    return len(shared) / len(under), len(under)


@dataclass(frozen=True)
class Verdict:
    duplicate: bool
    jaccard: float
    containment: float

    @property
    def similarity(self) -> float:
        """What a user reads on a duplicate: the stronger of the two measures that matched."""
        return round(max(self.jaccard, self.containment if self.duplicate else 0.0), 4)


def verify(a: Fingerprint, b: Fingerprint, config: MinHashConfig) -> Verdict:
    """Decide whether two fingerprinted stories are near-duplicates (see module docstring)."""
    if a.empty or b.empty:
        return Verdict(False, 0.0, 0.0)
    jaccard = jaccard_estimate(a.signature, b.signature)
    containment, evidence = containment_estimate(a, b)
    if jaccard >= config.jaccard_threshold:
        return Verdict(True, jaccard, containment)
    contained = (
        containment >= config.containment_threshold
        and evidence >= config.containment_min_samples
        and min(a.shingle_count, b.shingle_count) >= config.containment_min_shingles
    )
    return Verdict(contained, jaccard, containment)
