"""Language-identification benchmark on a folder laid out like ``../shared/data/language-lingua``.

    python -m benchmarks.language DIR --json OUT [--limit-per-language N] [--workers 2]

``DIR`` holds ``sentences/<code>.txt`` and ``word-pairs/<code>.txt`` (one text per line, the
file name is the gold ISO 639-1 code). Three kinds are scored:

- ``paragraphs``: five random sentences of one file joined (20 per language, fixed seed), i.e.
  news-length text, where an answer is expected;
- ``sentences``: every line (or a fixed-seed sample of N per language);
- ``word-pairs``: two words, mostly too short to tell, where ``und`` beats a confident wrong
  answer.

For each kind the JSON has ``n``, ``und_share``, ``accuracy_answered``, ``worst_confusions`` (gold
→ predicted, most frequent first), ``confident_wrong_share`` (wrong answers with probability
≥ 0.9, over all texts), timing, and per-language figures. Texts are spread over ``--workers``
processes, each building the identifier once, as a Beam worker would.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks import figures_json
from transforms.language.identifier import UND, LangIdConfig, LanguageIdentifier

logger = logging.getLogger(__name__)

KINDS = ("paragraphs", "sentences", "word-pairs")
PARAGRAPHS_PER_LANGUAGE = 20
SENTENCES_PER_PARAGRAPH = 5
CONFIDENT = 0.9
#: ISO 639-3 macrolanguages among the 75 (Malay, Serbo-Croatian, Norwegian): a confusion inside
#: one is reported apart, because the test files themselves mix their members.
MACROLANGUAGES = ({"ms", "id"}, {"bs", "hr", "sr"}, {"nb", "nn"})

_identifier: LanguageIdentifier | None = None


def _init_worker(config: LangIdConfig) -> None:
    global _identifier
    _identifier = LanguageIdentifier(config)


def _detect_chunk(texts: Sequence[str]) -> list[tuple[str, float]]:
    assert _identifier is not None
    out = []
    for text in texts:
        guess = _identifier.detect(text)
        out.append((guess.language, guess.probability))
    return out


def read_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def load_kind(
    root: Path,
    kind: str,
    limit: int | None,
    seed: int,
    paragraphs_per_language: int = PARAGRAPHS_PER_LANGUAGE,
) -> list[tuple[str, str]]:
    """(gold, text) pairs; a limit takes a fixed-seed sample per language, not the file head."""
    source = "sentences" if kind == "paragraphs" else kind
    items: list[tuple[str, str]] = []
    for path in sorted((root / source).glob("*.txt")):
        gold = path.stem
        lines = read_lines(path)
        rng = random.Random(f"{seed}:{kind}:{gold}")
        if kind == "paragraphs":
            if len(lines) < SENTENCES_PER_PARAGRAPH:
                continue
            for _ in range(paragraphs_per_language):
                items.append((gold, " ".join(rng.sample(lines, SENTENCES_PER_PARAGRAPH))))
            continue
        if limit is not None and len(lines) > limit:
            lines = rng.sample(lines, limit)
        items.extend((gold, line) for line in lines)
    return items


def score(
    items: Sequence[tuple[str, str]], answers: Sequence[tuple[str, float]], seconds: float
) -> dict[str, Any]:
    n = len(items)
    und = sum(1 for lang, _ in answers if lang == UND)
    answered = n - und
    correct = sum(1 for (gold, _), (lang, _) in zip(items, answers, strict=True) if lang == gold)
    confident_wrong = sum(
        1
        for (gold, _), (lang, prob) in zip(items, answers, strict=True)
        if lang not in (UND, gold) and prob >= CONFIDENT
    )
    confusions = Counter(
        (gold, lang)
        for (gold, _), (lang, _) in zip(items, answers, strict=True)
        if lang not in (UND, gold)
    )
    same_macro = sum(
        count
        for (gold, lang), count in confusions.items()
        if any(gold in group and lang in group for group in MACROLANGUAGES)
    )
    per_language: dict[str, dict[str, int]] = {}
    for (gold, _), (lang, _) in zip(items, answers, strict=True):
        row = per_language.setdefault(gold, {"n": 0, "und": 0, "correct": 0})
        row["n"] += 1
        row["und"] += lang == UND
        row["correct"] += lang == gold
    return {
        "n": n,
        "und_share": round(und / n, 4) if n else 0.0,
        "accuracy_answered": round(correct / answered, 4) if answered else 0.0,
        "accuracy_all": round(correct / n, 4) if n else 0.0,
        "accuracy_answered_macrolanguage": (
            round((correct + same_macro) / answered, 4) if answered else 0.0
        ),
        "confident_wrong_share": round(confident_wrong / n, 4) if n else 0.0,
        "worst_confusions": [
            {"gold": gold, "predicted": lang, "count": count}
            for (gold, lang), count in sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))[
                :15
            ]
        ],
        "seconds": round(seconds, 2),
        "ms_per_text": round(1000 * seconds / n, 3) if n else 0.0,
        "per_language": dict(sorted(per_language.items())),
    }


def run(
    root: Path,
    config: LangIdConfig,
    limit: int | None = None,
    workers: int = 2,
    seed: int = 0,
    kinds: Sequence[str] = KINDS,
    paragraphs_per_language: int = PARAGRAPHS_PER_LANGUAGE,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    started = time.perf_counter()
    if workers <= 0:
        # In-process (tests, profiling): no pool, the identifier is built here once.
        _init_worker(config)
        load_seconds = time.perf_counter() - started
        for kind in kinds:
            items = load_kind(root, kind, limit, seed, paragraphs_per_language)
            begun = time.perf_counter()
            answers = _detect_chunk([text for _, text in items])
            results[kind] = score(items, answers, time.perf_counter() - begun)
    else:
        ctx = get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(config,)) as pool:
            # Warm every worker: model loading is a per-worker cost, reported separately.
            pool.map(_detect_chunk, [["warm up the models with a sentence"]] * workers)
            load_seconds = time.perf_counter() - started
            for kind in kinds:
                items = load_kind(root, kind, limit, seed, paragraphs_per_language)
                texts = [text for _, text in items]
                chunks = [texts[i : i + 200] for i in range(0, len(texts), 200)]
                begun = time.perf_counter()
                answers = [a for chunk in pool.map(_detect_chunk, chunks) for a in chunk]
                results[kind] = score(items, answers, time.perf_counter() - begun)
    results["_meta"] = {
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "workers": workers,
        "limit_per_language": limit,
        "seed": seed,
        "model_load_seconds": round(load_seconds, 2),
        "languages": len({p.stem for p in (root / "sentences").glob("*.txt")}),
    }
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"{'kind':<12}{'n':>8}{'und':>8}{'acc(ans)':>10}{'conf.wrong':>12}{'ms/text':>9}{'s':>8}")
    for kind in KINDS:
        if kind not in results:
            continue
        row = results[kind]
        print(
            f"{kind:<12}{row['n']:>8}{row['und_share']:>8.2%}{row['accuracy_answered']:>10.2%}"
            f"{row['confident_wrong_share']:>12.2%}{row['ms_per_text']:>9.2f}{row['seconds']:>8.1f}"
        )
        worst = ", ".join(
            f"{c['gold']}→{c['predicted']} {c['count']}" for c in row["worst_confusions"][:8]
        )
        print(f"{'':<12}worst: {worst}")
    meta = results.get("_meta", {})
    print(f"model load (incl. pool start): {meta.get('model_load_seconds')} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.language", description=__doc__)
    parser.add_argument("dir", type=Path, help="folder with sentences/ and word-pairs/")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--limit-per-language",
        type=int,
        default=None,
        help="sample N lines per language and kind (fixed seed); default: all lines",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes (default 2; 0 = in this process)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--engine", default=LangIdConfig.engine, help="combined|langdetect|lingua")
    parser.add_argument("--min-chars", type=int, default=LangIdConfig.min_chars)
    parser.add_argument("--threshold", type=float, default=LangIdConfig.threshold)
    parser.add_argument("--close-margin", type=float, default=LangIdConfig.close_margin)
    parser.add_argument("--low-accuracy", action="store_true", help="lingua low-accuracy mode")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (args.dir / "sentences").is_dir():
        parser.error(f"{args.dir} has no sentences/ folder (expected the language-lingua layout)")
    config = LangIdConfig(
        engine=args.engine,
        min_chars=args.min_chars,
        threshold=args.threshold,
        close_margin=args.close_margin,
        lingua_low_accuracy=args.low_accuracy,
    )
    results = run(args.dir, config, args.limit_per_language, args.workers, args.seed, args.kinds)
    print_table(results)
    figures_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
