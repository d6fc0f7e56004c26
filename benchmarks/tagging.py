"""Cost of tagging a story against the cost of extracting it, on real article pages.

    python -m benchmarks.tagging ../shared/data/article-extraction-benchmark --json out.json

For every ``html/*.html.gz`` page: time trafilatura's ``bare_extraction`` (the extraction
stage's call), build a Story from its title, text, author and detected language (untimed), then
time ``Tagger.tag`` on it.
Prints the median milliseconds per story of each, the ratio (the budget is tagging < 10% of
extraction), the one-off build time of the tagger, and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import figures_json


def _story(page_id: str, title: str, text: str, authors: tuple[str, ...], language: str = "en"):
    from transforms.core.records import Story, story_id_for

    url = f"https://benchmark.invalid/{page_id}"
    return Story(
        story_id=story_id_for(url),
        entry_id=page_id,
        url=url,
        canonical_url=url,
        site="benchmark.invalid",
        feed_url="",
        title=title,
        text=text,
        fetched_at="2026-01-01T00:00:00Z",
        authors=authors,
        language=language,
    )


def run(folder: Path, limit: int | None, repeat: int) -> dict:
    import trafilatura

    from transforms.language.stage import LanguageConfig, LanguageIdentifier
    from transforms.tags.stage import TagConfig, Tagger

    pages = sorted((folder / "html").glob("*.html.gz"))[:limit]
    if not pages:
        raise SystemExit(f"no html/*.html.gz pages under {folder}")
    started = time.perf_counter()
    tagger = Tagger(TagConfig())
    build_ms = (time.perf_counter() - started) * 1000
    # untimed: tagging sees the language
    identifier = LanguageIdentifier(LanguageConfig().identifier_config())

    extract_ms: list[float] = []
    tag_ms: list[float] = []
    text_chars: list[int] = []
    for path in pages:
        html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        best_extract = best_tag = float("inf")
        doc: Any = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            doc = trafilatura.bare_extraction(
                html, with_metadata=True, include_comments=False, deduplicate=False
            )
            best_extract = min(best_extract, time.perf_counter() - t0)
        text = (doc.text or "") if doc is not None else ""
        title = (doc.title or "") if doc is not None else ""
        authors = tuple(a.strip() for a in ((doc.author or "") if doc else "").split(";") if a)
        language = identifier.detect(f"{title}\n{text}").language
        story = _story(path.name.split(".")[0], title, text, authors, language)
        for _ in range(repeat):
            t0 = time.perf_counter()
            tagger.tag(story)
            best_tag = min(best_tag, time.perf_counter() - t0)
        extract_ms.append(best_extract * 1000)
        tag_ms.append(best_tag * 1000)
        text_chars.append(len(text))

    extract_median = statistics.median(extract_ms)
    tag_median = statistics.median(tag_ms)
    return {
        "pages": len(pages),
        "repeat": repeat,
        "median_text_chars": statistics.median(text_chars),
        "extract_ms_median": round(extract_median, 3),
        "tag_ms_median": round(tag_median, 3),
        "tag_ms_p90": round(sorted(tag_ms)[int(0.9 * (len(tag_ms) - 1))], 3),
        "tag_to_extract_ratio": round(tag_median / extract_median, 4),
        "tagger_build_ms": round(build_ms, 1),
        "budget_ratio": 0.10,
        "within_budget": tag_median / extract_median < 0.10,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="article-extraction-benchmark folder")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings per page")
    args = parser.parse_args(argv)
    figures = run(args.folder, args.limit, max(1, args.repeat))
    print(
        f"{figures['pages']} pages: extraction {figures['extract_ms_median']:.2f} ms, "
        f"tagging {figures['tag_ms_median']:.2f} ms (p90 {figures['tag_ms_p90']:.2f}) "
        f"median per story; ratio {figures['tag_to_extract_ratio']:.3f} "
        f"(budget < {figures['budget_ratio']}); tagger built once in "
        f"{figures['tagger_build_ms']:.0f} ms"
    )
    figures_json(figures, args.json)
    return 0 if figures["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
