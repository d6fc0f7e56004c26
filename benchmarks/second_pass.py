"""When is trafilatura's second (standard-mode) pass worth its CPU? Threshold by cross-validation.

    python -m benchmarks.second_pass ../shared/data [--json OUT]

The extract stage runs precision mode and falls back to standard mode when precision kept less
than half as much; the standard pass costs about a third of a page's extraction CPU and, on the
shared sets, changes the result on a few pages only. This benchmark asks for which length of the
precise text the second pass can be skipped: on every page of every evaluation set under the data
folder (article-extraction-benchmark and news-html-newspaper scored with word-4-gram shingles,
trafilatura-eval with its segment metric) it computes both the result with the second pass and
the result without it, then, for each candidate threshold T ("run the second pass only when the
precise text is shorter than T characters"), each set's F1 and recall.

(Measured before gap filling: with it, the standard pass also decides which paragraphs precision
mode dropped, and the threshold is chosen with the other pass settings by ``benchmarks.extraction
--cv``; this benchmark still shows where the fallback alone changes the result.)

The threshold is chosen by leave-one-set-out cross-validation: on all sets but one, the smallest T
whose F1 and recall are not lower than always running the pass on any of them; then checked on
the set left out. The chosen value is the largest T any fold picked (the safe side).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from benchmarks import figures_json
from benchmarks.extraction import (
    LAYOUT_AEB,
    Page,
    _read_html,
    detect_layout,
    load_pages,
    page_record,
)
from benchmarks.extraction_metrics import SegmentCounts, aggregate_shingle_scores, score_document
from transforms.core.records import Story
from transforms.extract.config import ExtractConfig
from transforms.extract.passes import extract_page
from transforms.extract.story import build_story

CANDIDATES = (0, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 1_000_000_000)
ALWAYS = CANDIDATES[-1]


def newspaper_pages(root: Path) -> list[Page]:
    index: dict[str, dict[str, Any]] = json.loads((root / "index.json").read_text("utf-8"))
    pages = []
    for key in sorted(index):
        item = index[key]
        pages.append(
            Page(
                key=key,
                url=item.get("url") or "",
                html=_read_html(root / item["html"]),
                truth=(root / item["text"]).read_text("utf-8"),
            )
        )
    return pages


def sets_under(data: Path) -> dict[str, tuple[str, list[Page]]]:
    found: dict[str, tuple[str, list[Page]]] = {}
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        if (folder / "index.json").is_file() and (folder / "text").is_dir():
            found[folder.name] = ("shingles", newspaper_pages(folder))
            continue
        try:
            layout = detect_layout(folder)
        except SystemExit:
            continue
        metric = "shingles" if layout == LAYOUT_AEB else "segments"
        found[folder.name] = (metric, list(load_pages(folder, layout)))
    return found


def page_outcomes(page: Page, config: ExtractConfig) -> dict[str, Any]:
    """Text with the second pass and without it, and the precise text's length."""
    record = page_record(page)
    url = record.final_url
    always = dataclasses.replace(config, second_pass_below_chars=ALWAYS)
    with_pass = extract_page(record.html, url, always, record.fetched_at)
    started = time.process_time()
    without = extract_page(record.html, url, _no_second_pass(config), record.fetched_at)
    cpu_without = time.process_time() - started
    texts = {}
    for name, extracted in (("with", with_pass), ("without", without)):
        result, _cleaned = build_story(record, extracted, config)
        texts[name] = result.text if isinstance(result, Story) else ""
    precise = without if without.mode == "precision" else None
    return {
        "precise_chars": len(precise.text) if precise else 0,
        "texts": texts,
        "changed": texts["with"] != texts["without"],
        "cpu_without": cpu_without,
    }


def _no_second_pass(config: ExtractConfig) -> ExtractConfig:
    return dataclasses.replace(config, fallback_ratio=0.0, second_pass_below_chars=0)


def score(metric: str, pages: list[Page], texts: list[str]) -> dict[str, float]:
    if metric == "shingles":
        summary = aggregate_shingle_scores(
            score_document(p.truth, t) for p, t in zip(pages, texts, strict=True)
        )
    else:
        counts = SegmentCounts()
        for page, text in zip(pages, texts, strict=True):
            counts.add(text, page.with_segments, page.without_segments)
        summary = counts.summary()
    return {k: round(v, 4) for k, v in summary.items() if k in ("f1", "recall", "precision")}


def evaluate(sets: dict[str, tuple[str, list[Page]]], config: ExtractConfig) -> dict[str, Any]:
    per_set: dict[str, dict[str, Any]] = {}
    for name, (metric, pages) in sets.items():
        outcomes = [page_outcomes(page, config) for page in pages]
        by_threshold = {}
        for threshold in CANDIDATES:
            texts = [
                o["texts"]["with"] if o["precise_chars"] < threshold else o["texts"]["without"]
                for o in outcomes
            ]
            runs = sum(o["precise_chars"] < threshold for o in outcomes)
            by_threshold[threshold] = {**score(metric, pages, texts), "second_passes": runs}
        per_set[name] = {
            "pages": len(pages),
            "pages_changed_by_second_pass": sum(o["changed"] for o in outcomes),
            "precise_chars_where_it_changed": sorted(
                o["precise_chars"] for o in outcomes if o["changed"]
            ),
            "by_threshold": by_threshold,
        }
    return per_set


def _not_lower(row: dict[str, float], base: dict[str, float]) -> bool:
    return row["f1"] >= base["f1"] and row["recall"] >= base["recall"]


def cross_validate(per_set: dict[str, dict[str, Any]]) -> dict[str, Any]:
    folds = {}
    for held_out in per_set:
        train = [name for name in per_set if name != held_out]
        chosen = next(
            t
            for t in CANDIDATES
            if all(
                _not_lower(per_set[n]["by_threshold"][t], per_set[n]["by_threshold"][ALWAYS])
                for n in train
            )
        )
        test = per_set[held_out]["by_threshold"]
        folds[held_out] = {
            "chosen_on_the_others": chosen,
            "held_out": test[chosen],
            "held_out_always": test[ALWAYS],
            "not_lower": _not_lower(test[chosen], test[ALWAYS]),
        }
    return {"folds": folds, "threshold": max(f["chosen_on_the_others"] for f in folds.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="folder holding the evaluation sets")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    sets = sets_under(args.data)
    per_set = evaluate(sets, ExtractConfig())
    result = {"sets": per_set, "cross_validation": cross_validate(per_set)}
    for name, row in per_set.items():
        always = row["by_threshold"][ALWAYS]
        print(
            f"{name}: {row['pages']} pages, changed by the second pass: "
            f"{row['pages_changed_by_second_pass']}"
            f" (precise chars {row['precise_chars_where_it_changed']}); always: {always}"
        )
    for name, fold in result["cross_validation"]["folds"].items():
        print(f"held out {name}: T={fold['chosen_on_the_others']} -> {fold['held_out']}")
    print(f"threshold: {result['cross_validation']['threshold']}")
    if args.json:
        figures_json(result, args.json, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
