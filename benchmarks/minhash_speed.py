"""Signature speed: ``python -m benchmarks.minhash_speed DIR --json OUT``.

Times the project's MinHasher (xxh64 per token, numpy rolling shingle hash, multiply-add-shift
permutations) against datasketch's ``MinHash.update_batch`` (SHA-1 per shingle, then numpy
permutations) on the same stories, tokens and shingles, at the same permutation count. This is
the measurement behind the choice documented in ``transforms/dedup/minhash.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from benchmarks import figures_json
from transforms.dedup.minhash import MinHashConfig, MinHasher, tokens


def _texts(directory: str) -> list[str]:
    with open(os.path.join(directory, "stories.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def measure(texts: list[str], repeat: int = 3) -> dict[str, Any]:
    from datasketch import MinHash

    config = MinHashConfig()
    hasher = MinHasher(config)
    k = config.shingle_size

    def ours() -> None:
        for text in texts:
            hasher.signature(hasher.shingle_hashes(text))

    def datasketch() -> None:
        for text in texts:
            toks = tokens(text)
            shingles = [
                " ".join(toks[i : i + k]).encode("utf-8") for i in range(max(1, len(toks) - k + 1))
            ]
            sketch = MinHash(num_perm=config.num_perm, seed=config.seed)
            sketch.update_batch(shingles)

    figures: dict[str, Any] = {"stories": len(texts), "num_perm": config.num_perm}
    for name, fn in (("wirestream_ms_per_story", ours), ("datasketch_ms_per_story", datasketch)):
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - started)
        figures[name] = round(best / len(texts) * 1000, 3)
    figures["speedup"] = round(
        figures["datasketch_ms_per_story"] / figures["wirestream_ms_per_story"], 2
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="folder with stories.jsonl (e.g. neardup-wire)")
    parser.add_argument("--json", dest="json_out", help="write the figures to this file")
    args = parser.parse_args(argv)
    figures = measure(_texts(args.directory))
    print(figures_json(figures, args.json_out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
