"""Place tagging against hand labels: precision and recall over (page, country) pairs.

    python -m benchmarks.places LABELS BODIES [BODIES ...] --json OUT [--cv K]

LABELS is a file shaped like ``tests/fixtures/places_labels.json`` (labelling guidelines inside:
``{"pages": {id: {"url", "countries": [ISO alpha-2, ...]}}}``). Each BODIES is an
article-benchmark ``ground-truth.json`` (``{id: {"articleBody", "url"}}``) or its folder, or a
``news-html-newspaper`` folder (``index.json`` + ``text/<name>.txt``, the name is the page id).
Each labelled page's body is tagged as a
story text without title or dateline (the labels were made from the body alone), and every
(page, country) pair is a true positive, a false positive or a false negative. Every error is
listed with its page URL and the phrase behind it: for a false positive the mentions that counted
for the country, for a false negative the candidate mentions of it that were dropped and why (none
at all: the gazetteer does not know the name).

``--ablation`` also scores the pages with each named matching rule switched off in turn
(``transforms.tags.place_mentions.RULES``), so a rule can be kept only if it helps, or at least
does not hurt, on every labelled set: the 60 pages the rules were written against and the 40
held-out pages.

``--cv K`` splits the pages into K folds fixed by page id and reports the figures per fold, so a
rule tuned on some labelled pages can be checked on the others (there is nothing to fit inside the
tagger, so out-of-fold and visible figures are the same pages scored the same way; the folds show
how much the figures move between samples).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks import figures_json


def _fold(page_id: str, k: int) -> int:
    return int(hashlib.sha256(page_id.encode("utf-8")).hexdigest()[:12], 16) % k


def _phrases(mentions: Iterable[Any], code: str, counted: bool) -> list[str]:
    """Distinct phrases of mentions of ``code`` that counted (or were dropped), with reasons."""
    out: list[str] = []
    for mention in mentions:
        codes = (mention.forced,) if mention.forced else mention.entry.codes
        if code not in codes:
            continue
        if counted and not mention.dropped:
            phrase = mention.surface
        elif not counted and mention.dropped:
            phrase = f"{mention.surface} ({mention.dropped})"
        else:
            continue
        if phrase not in out:
            out.append(phrase)
    return out


def score(pairs: Iterable[tuple[set[str], set[str]]]) -> dict[str, float | int]:
    tp = fp = fn = 0
    for gold, predicted in pairs:
        tp += len(gold & predicted)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


def load_bodies(path: Path) -> dict[str, dict[str, str]]:
    """``{id: {"articleBody", "url"}}`` from one evaluation set (either layout)."""
    if path.is_dir() and (path / "ground-truth.json").is_file():
        path = path / "ground-truth.json"
    if path.is_file():
        bodies: dict[str, dict[str, str]] = json.loads(path.read_text("utf-8"))
        return bodies
    index = path / "index.json"
    if not index.is_file() or not (path / "text").is_dir():
        raise SystemExit(
            f"{path}: neither a ground-truth.json (article-extraction-benchmark) nor a folder "
            "with index.json and text/ (news-html-newspaper)"
        )
    out: dict[str, dict[str, str]] = {}
    for name, item in json.loads(index.read_text("utf-8")).items():
        text = path / (item.get("text") or f"text/{name}.txt")
        if text.is_file():
            out[name] = {"articleBody": text.read_text("utf-8"), "url": item.get("url") or ""}
    return out


def ablation(labels_path: Path, bodies_paths: Path | Iterable[Path]) -> dict[str, Any]:
    """Precision and recall with each named rule switched off (the tables built once)."""
    from transforms.tags.gazetteer import SHORT_CITY_NAMES, build_tables
    from transforms.tags.place_mentions import RULES
    from transforms.tags.places import Gazetteer, PlacesConfig

    paths = [bodies_paths] if isinstance(bodies_paths, Path) else list(bodies_paths)
    tables = build_tables(PlacesConfig())
    out: dict[str, Any] = {}
    for rule in RULES:
        config = PlacesConfig(rules_off=frozenset({rule}))
        own = build_tables(config) if rule == SHORT_CITY_NAMES else tables
        result = run(labels_path, paths, gazetteer=Gazetteer(own, config))
        out[rule] = {
            "precision": result["precision"],
            "recall": result["recall"],
            **result["counts"],
        }
    return out


def run(
    labels_path: Path, bodies_paths: Path | Iterable[Path], cv: int = 0, gazetteer: Any = None
) -> dict:
    from transforms.tags.places import Gazetteer

    labels = json.loads(labels_path.read_text("utf-8"))
    bodies: dict[str, dict[str, str]] = {}
    for path in [bodies_paths] if isinstance(bodies_paths, Path) else bodies_paths:
        bodies.update(load_bodies(path))
    gazetteer = gazetteer or Gazetteer.build()
    false_positives: list[dict[str, Any]] = []
    false_negatives: list[dict[str, Any]] = []
    results: dict[str, tuple[set[str], set[str]]] = {}
    missing = []
    for page_id, label in sorted(labels["pages"].items()):
        if page_id not in bodies:
            missing.append(page_id)
            continue
        url = label.get("url") or bodies[page_id].get("url") or page_id
        trace: list[Any] = []
        predicted = set(gazetteer.tag("", bodies[page_id]["articleBody"], trace=trace).places)
        gold = set(label["countries"])
        results[page_id] = (gold, predicted)
        for code in sorted(predicted - gold):
            false_positives.append(
                {
                    "page": page_id,
                    "url": url,
                    "country": code,
                    "phrases": _phrases(trace, code, True),
                }
            )
        for code in sorted(gold - predicted):
            false_negatives.append(
                {
                    "page": page_id,
                    "url": url,
                    "country": code,
                    "phrases": _phrases(trace, code, False),
                }
            )
    totals = score(results.values())
    out: dict[str, Any] = {
        "pages": len(results),
        "precision": totals["precision"],
        "recall": totals["recall"],
        "counts": {k: totals[k] for k in ("tp", "fp", "fn")},
        "false_positives": false_positives,
        "false_negatives": false_negatives,
        "missing_bodies": missing,
    }
    batches = sorted({label.get("batch") for label in labels["pages"].values()} - {None})
    if batches:
        out["batches"] = {
            str(batch): score(
                pair
                for page_id, pair in results.items()
                if labels["pages"][page_id].get("batch") == batch
            )
            for batch in batches
        }
    if cv:
        out["folds"] = [
            score(pair for page_id, pair in results.items() if _fold(page_id, cv) == fold)
            for fold in range(cv)
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.places", description=__doc__)
    parser.add_argument("labels", type=Path, help="hand labels (places_labels.json shape)")
    parser.add_argument(
        "bodies",
        type=Path,
        nargs="+",
        help="ground-truth.json or a set folder (article-benchmark, news-html-newspaper)",
    )
    parser.add_argument("--json", type=Path, help="write the figures and errors here")
    parser.add_argument("--cv", type=int, default=0, metavar="K", help="also per-fold figures")
    parser.add_argument(
        "--ablation", action="store_true", help="also the figures with each rule switched off"
    )
    args = parser.parse_args(argv)
    for path in (args.labels, *args.bodies):
        if not path.exists():
            parser.error(f"{path}: no such file or folder")
    if args.cv == 1 or args.cv < 0:
        parser.error("--cv needs at least 2 folds")
    result = run(args.labels, args.bodies, args.cv)
    if args.ablation:
        result["ablation"] = ablation(args.labels, args.bodies)
    print(
        f"{result['pages']} pages: precision {result['precision']:.4f} recall "
        f"{result['recall']:.4f} ({result['counts']})"
    )
    for batch, figures in (result.get("batches") or {}).items():
        print(
            f"  batch {batch}: precision {figures['precision']:.4f} recall {figures['recall']:.4f}"
        )
    for fold, figures in enumerate(result.get("folds") or ()):
        print(f"  fold {fold}: precision {figures['precision']:.4f} recall {figures['recall']:.4f}")
    for rule, figures in (result.get("ablation") or {}).items():
        print(
            f"  without {rule}: precision {figures['precision']:.4f} recall "
            f"{figures['recall']:.4f} (fp {figures['fp']}, fn {figures['fn']})"
        )
    for kind in ("false_positives", "false_negatives"):
        for error in result[kind]:
            print(f"  {kind[:-1]} {error['country']} {error['url'][:70]} {error['phrases']}")
    if result["missing_bodies"]:
        print(f"  labelled pages without a body: {len(result['missing_bodies'])}")
    figures_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
