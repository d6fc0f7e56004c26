"""Extraction benchmark: our extraction + cleaning against plain trafilatura, same pages, one run.

    python -m benchmarks.extraction DIR --json OUT [--limit N]

DIR is laid out either like ``article-extraction-benchmark`` (``ground-truth.json`` + ``html/``,
scored with the benchmark's word-4-gram shingle metric) or like ``trafilatura-eval``
(``annotations.json`` + ``html/``, scored with trafilatura's with/without segment metric); the
layout is detected from the files present. Plain trafilatura is ``trafilatura.extract`` with its
default settings on the same decoded page. Besides the scores, the run reports how often each
cleaning rule fired and how many removed lines were in fact part of the ground-truth article
(the safety check: it should be zero), and pages per second for both extractors.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import figures_json
from benchmarks.extraction_metrics import (
    SegmentCounts,
    aggregate_shingle_scores,
    score_document,
    tokenize,
)
from transforms.core.records import FeedEntry, FetchedPage, Story, stable_hash
from transforms.extract.cleaning import REPEATED_PARAGRAPH, Cleaned
from transforms.extract.stage import ExtractConfig, build_story, extract_page

logger = logging.getLogger(__name__)

LAYOUT_AEB = "article-extraction-benchmark"
LAYOUT_TE = "trafilatura-eval"
BENCH_FETCHED_AT = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Page:
    key: str
    url: str
    html: str
    truth: str = ""
    with_segments: tuple[str, ...] = ()
    without_segments: tuple[str, ...] = ()


def detect_layout(root: Path) -> str:
    if (root / "ground-truth.json").is_file():
        return LAYOUT_AEB
    if (root / "annotations.json").is_file():
        return LAYOUT_TE
    raise SystemExit(
        f"{root}: neither ground-truth.json (article-extraction-benchmark layout) nor "
        "annotations.json (trafilatura-eval layout) found; point DIR at one of those folders"
    )


def _read_html(path: Path) -> str:
    from trafilatura.utils import decode_file

    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    decoded = decode_file(raw)
    return decoded if isinstance(decoded, str) else decoded.decode("utf-8", "replace")


def _html_path(root: Path, key: str) -> Path | None:
    for name in (f"{key}.html.gz", f"{key}.html"):
        if (root / "html" / name).is_file():
            return root / "html" / name
    return None


def load_pages(root: Path, layout: str, limit: int | None = None) -> Iterator[Page]:
    name = "ground-truth.json" if layout == LAYOUT_AEB else "annotations.json"
    meta: dict[str, dict[str, Any]] = json.loads((root / name).read_text("utf-8"))
    keys = sorted(meta)[:limit] if limit else sorted(meta)
    for key in keys:
        path = _html_path(root, key)
        if path is None:
            logger.warning("no html for %s", key)
            continue
        item = meta[key]
        yield Page(
            key=key,
            url=item.get("url") or "",
            html=_read_html(path),
            truth=item.get("articleBody", ""),
            with_segments=tuple(item.get("with", ())),
            without_segments=tuple(item.get("without", ())),
        )


def page_record(page: Page) -> FetchedPage:
    entry = FeedEntry(
        entry_id=stable_hash("bench", page.key),
        feed_url="",
        feed_name="benchmark",
        url=page.url,
        canonical_url=page.url,
    )
    return FetchedPage(
        entry=entry,
        final_url=page.url,
        status=200,
        content_type="text/html",
        html=page.html,
        fetched_at=BENCH_FETCHED_AT,
    )


def ours(page: Page, config: ExtractConfig) -> tuple[str, Story | None, Cleaned]:
    record = page_record(page)
    extracted = extract_page(record.html, record.final_url, config, record.fetched_at)
    result, cleaned = build_story(record, extracted, config)
    if isinstance(result, Story):
        return result.text, result, cleaned
    return "", None, cleaned


def plain_trafilatura(page: Page) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url or None) or ""


# What each piece contributes, for --variants: trafilatura's own options, and our pipeline with
# parts switched off (same pages, same metric).
TRAFILATURA_VARIANTS: dict[str, dict[str, Any]] = {
    "trafilatura_no_comments": {"include_comments": False},
    "trafilatura_precision": {"include_comments": False, "favor_precision": True},
    "trafilatura_recall": {"include_comments": False, "favor_recall": True},
    "trafilatura_fast": {"include_comments": False, "fast": True},
    "trafilatura_no_tables": {"include_comments": False, "include_tables": False},
}
OUR_VARIANTS: dict[str, ExtractConfig] = {
    "ours_no_cleaning": ExtractConfig(clean=False, parse_datelines=False),
    "ours_no_mode_fallback": ExtractConfig(fallback_ratio=0.0),
    "ours_standard_mode": ExtractConfig(mode="standard"),
}


def variant_text(page: Page, name: str) -> str:
    if name in TRAFILATURA_VARIANTS:
        import trafilatura

        options = TRAFILATURA_VARIANTS[name]
        return trafilatura.extract(page.html, url=page.url or None, **options) or ""
    return ours(page, OUR_VARIANTS[name])[0]


def wrongly_removed(cleaned: Cleaned, truth: str) -> list[tuple[str, str]]:
    """(rule, text) the cleaning removed that the ground-truth article contains (should be none).

    Text of three words or more counts when the ground truth holds it as a word sequence; a
    repeated paragraph counts only when the ground truth itself holds it more than once.
    """
    truth_tokens = " " + " ".join(tokenize(truth)) + " "
    wrong = []
    for rule, text in cleaned.removed:
        tokens = tokenize(text)
        needle = " " + " ".join(tokens) + " "
        if len(tokens) < 3:
            continue
        if truth_tokens.count(needle) >= (2 if rule == REPEATED_PARAGRAPH else 1):
            wrong.append((rule, text))
    return wrong


def run(
    root: Path,
    limit: int | None = None,
    config: ExtractConfig | None = None,
    variants: bool = False,
) -> dict:
    config = config or ExtractConfig()
    variant_names = [*TRAFILATURA_VARIANTS, *OUR_VARIANTS] if variants else []
    variant_scores: dict[str, list] = {name: [] for name in variant_names}
    variant_counts = {name: SegmentCounts() for name in variant_names}
    layout = detect_layout(root)
    pages = list(load_pages(root, layout, limit))
    timings = {"ours": 0.0, "trafilatura": 0.0}
    ours_scores, plain_scores = [], []
    ours_counts, plain_counts = SegmentCounts(), SegmentCounts()
    hits: Counter[str] = Counter()
    wrong: list[dict[str, str]] = []
    sources: Counter[str] = Counter()
    for page in pages:
        started = time.perf_counter()
        text, story, cleaned = ours(page, config)
        timings["ours"] += time.perf_counter() - started
        started = time.perf_counter()
        plain = plain_trafilatura(page)
        timings["trafilatura"] += time.perf_counter() - started
        if story is not None:
            hits.update(dict(story.cleaning_hits))
            sources[story.text_source] += 1
        else:
            sources["rejected"] += 1
        for name in variant_names:
            other = variant_text(page, name)
            if layout == LAYOUT_AEB:
                variant_scores[name].append(score_document(page.truth, other))
            else:
                variant_counts[name].add(other, page.with_segments, page.without_segments)
        if layout == LAYOUT_AEB:
            ours_scores.append(score_document(page.truth, text))
            plain_scores.append(score_document(page.truth, plain))
            for rule, line in wrongly_removed(cleaned, page.truth):
                wrong.append({"page": page.key, "rule": rule, "line": line[:200]})
        else:
            ours_counts.add(text, page.with_segments, page.without_segments)
            plain_counts.add(plain, page.with_segments, page.without_segments)
    if layout == LAYOUT_AEB:
        ours_summary = aggregate_shingle_scores(ours_scores)
        plain_summary = aggregate_shingle_scores(plain_scores)
    else:
        ours_summary, plain_summary = ours_counts.summary(), plain_counts.summary()
    n = len(pages)
    variant_summaries = {
        name: {
            k: round(v, 4)
            for k, v in (
                aggregate_shingle_scores(variant_scores[name])
                if layout == LAYOUT_AEB
                else variant_counts[name].summary()
            ).items()
        }
        for name in variant_names
    }
    return {
        "layout": layout,
        "n": n,
        "ours": {k: round(v, 4) for k, v in ours_summary.items()},
        "trafilatura": {k: round(v, 4) for k, v in plain_summary.items()},
        "pages_per_second": {k: round(n / v, 2) if v else None for k, v in sorted(timings.items())},
        "text_sources": dict(sorted(sources.items())),
        "cleaning_hits": dict(sorted(hits.items())),
        "wrongly_removed_lines": wrong,
        "variants": variant_summaries,
    }


def print_table(result: dict) -> None:
    print(f"{result['layout']}: {result['n']} pages")
    print(f"{'':14}{'F1':>8}{'precision':>11}{'recall':>9}{'accuracy':>10}{'pages/s':>9}")
    for name in ("ours", "trafilatura"):
        s = result[name]
        print(
            f"{name:14}{s['f1']:8.4f}{s['precision']:11.4f}{s['recall']:9.4f}"
            f"{s['accuracy']:10.4f}{result['pages_per_second'][name] or 0:9.1f}"
        )
    for name, s in result["variants"].items():
        print(
            f"  {name:24}{s['f1']:8.4f}{s['precision']:11.4f}{s['recall']:9.4f}"
            f"{s['accuracy']:10.4f}"
        )
    delta = {k: result["ours"][k] - result["trafilatura"][k] for k in ("f1", "precision", "recall")}
    print("ours - trafilatura: " + "  ".join(f"{k} {v:+.4f}" for k, v in delta.items()))
    print("cleaning hits: " + ", ".join(f"{k}={v}" for k, v in result["cleaning_hits"].items()))
    if result["layout"] == LAYOUT_AEB:
        wrong = len(result["wrongly_removed_lines"])
        print(f"lines removed that the ground truth contains: {wrong}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extraction", description=__doc__)
    parser.add_argument("dir", type=Path, help="benchmark folder (either supported layout)")
    parser.add_argument("--json", type=Path, help="write the result as JSON to this path")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also score trafilatura's options and our pipeline with parts switched off",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    result = run(args.dir, args.limit, variants=args.variants)
    print_table(result)
    figures_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
