"""Cost of tagging a story against the cost of extracting it, and what topics stories get.

    python -m benchmarks.tagging ../shared/data/article-extraction-benchmark --json out.json
    python -m benchmarks.tagging DIR [DIR ...] --topics tests/fixtures/topic_labels.json \
        [--heldout tests/fixtures/topic_labels_heldout.json] [--cv 5] --json OUT

For every ``html/*.html.gz`` page: time trafilatura's ``bare_extraction`` (the extraction
stage's call), build a Story from its title, text, author and detected language (untimed), then
time ``Tagger.tag`` on it.
Prints the median milliseconds per story of each, the ratio (the budget is tagging < 10% of
extraction), the one-off build time of the tagger, and writes the figures as JSON.

With ``--topics LABELS`` it measures topics instead: on every page of each DIR (the ground-truth
body with the page's title; article-extraction-benchmark or news-html-newspaper layout), how many
topics a story gets and how varied the first topics are, per set and overall; on the
hand-labelled pages of LABELS (``tests/fixtures/topic_labels.json``, guidelines inside), how often
the first topic is one the labeller accepts as the story's main subject, overall and per batch.
``--cv K`` adds the other scorings of ``benchmarks.topic_cv``, chosen and scored by K-fold
cross-validation over those pages; the pages of ``--heldout`` files are judged the same way but
take no part in any choice (``tests/fixtures/topic_labels_heldout.json``: labelled before any
scorer was run on them), and each setting chosen on the other pages is scored on them afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
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


def _page_title(folder: Path, page_id: str) -> tuple[str, tuple[str, ...]]:
    """The page's title and its own tags and categories as the extraction stage reads them
    (trafilatura's metadata), the tags normalised as the tag stage does."""
    from trafilatura import extract_metadata

    from transforms.extract.passes import split_list
    from transforms.extract.story import _merge
    from transforms.tags.publisher_tags import normalise_tags

    path = folder / "html" / f"{page_id}.html.gz"
    if not path.is_file():
        return "", ()
    html = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    metadata = extract_metadata(html)
    if metadata is None:
        return "", ()
    raw = _merge(split_list(metadata.tags), split_list(metadata.categories))
    return " ".join((metadata.title or "").split()), normalise_tags(raw)


def _spread(per_story: Counter[int], firsts: Counter[str], leading: Counter[tuple]) -> dict:
    """How many topics stories get and how varied the leading ones are."""
    stories = sum(per_story.values())
    tagged = stories - per_story.get(0, 0)
    # the same leading topics on many stories is the failure to catch; no topic is counted apart
    with_topics = Counter({lead: n for lead, n in leading.items() if lead})
    top_three, top_three_count = with_topics.most_common(1)[0] if with_topics else ((), 0)
    return {
        "pages": stories,
        "no_topic_share": round(per_story.get(0, 0) / stories, 3) if stories else 0.0,
        "topics_per_story": {str(k): v for k, v in sorted(per_story.items())},
        "mean_topics_per_story": round(sum(k * v for k, v in per_story.items()) / stories, 3)
        if stories
        else 0.0,
        "first_topics": dict(firsts.most_common()),
        "most_common_top_three": {
            "topics": list(top_three),
            "share": round(top_three_count / tagged, 3) if tagged else 0.0,
        },
    }


def _first_topic(judged: list[dict]) -> dict:
    predicted = [j for j in judged if j["topics"]]
    return {
        "labelled_pages": len(judged),
        "first_topic_right": sum(j["right"] for j in judged),
        "first_topic_accuracy": round(sum(j["right"] for j in judged) / len(judged), 4)
        if judged
        else None,
        "first_topic_precision": round(sum(j["right"] for j in predicted) / len(predicted), 4)
        if predicted
        else None,
    }


def load_labels(paths: Path | Sequence[Path]) -> dict[str, dict]:
    """The labelled pages of one or more label files (a page labelled twice is an error)."""
    pages: dict[str, dict] = {}
    for path in [paths] if isinstance(paths, Path) else paths:
        for page_id, label in json.loads(path.read_text("utf-8"))["pages"].items():
            if page_id in pages:
                raise SystemExit(f"{path}: page {page_id} is labelled in two files")
            pages[page_id] = label
    return pages


def topic_figures(
    folders: Path | list[Path],
    labels_path: Path | Sequence[Path],
    limit: int | None = None,
    cv: int | None = None,
    heldout: Sequence[Path] = (),
    taxonomy: str | None = None,
) -> dict:
    """Topics per story on every page, first-topic precision on the labelled pages, and with
    ``cv`` the candidate scorings of ``benchmarks.topic_cv`` out of fold on those pages (the
    pages of ``heldout`` label files are judged too, but take no part in choosing)."""
    from benchmarks.places import load_bodies
    from benchmarks.topic_cv import Page, cross_validate, document_frequencies, page_evidence
    from transforms.tags.publisher_tags import normalise_tags, trailing_tag_line
    from transforms.tags.topics import TopicMatcher, load_taxonomy

    labels = load_labels([labels_path] if isinstance(labels_path, Path) else [*labels_path])
    held = set(load_labels(list(heldout))) if heldout else set()
    labels.update(load_labels(list(heldout)) if heldout else {})
    matcher = TopicMatcher(load_taxonomy(taxonomy))
    total: tuple[Counter[int], Counter[str], Counter[tuple]] = (Counter(), Counter(), Counter())
    per_set: dict[str, dict] = {}
    judged: list[dict] = []
    evidence: list[Page] = []
    held_evidence: list[Page] = []
    every_body: list[str] = []
    # labelled pages whose URL section or own tags name a topic: is it one the labeller accepts
    filing = {
        source: {"pages": 0, "names_an_accepted_topic": 0, "names_only_other_topics": 0}
        for source in ("section", "tag")
    }
    for folder in [folders] if isinstance(folders, Path) else folders:
        bodies = load_bodies(folder)
        mine: tuple[Counter[int], Counter[str], Counter[tuple]] = (Counter(), Counter(), Counter())
        for page_id in sorted(bodies)[:limit]:
            title, page_tags = _page_title(folder, page_id)
            body = bodies[page_id].get("articleBody", "")
            url = bodies[page_id].get("url", "")
            tags = normalise_tags([*page_tags, *trailing_tag_line(body)])
            every_body.append(body)
            topics = matcher.topics(title, body, url, tags)
            for per_story, firsts, leading in (total, mine):
                per_story[len(topics)] += 1
                firsts[topics[0] if topics else "(none)"] += 1
                leading[topics[:3]] += 1
            if page_id in labels:
                accepted = labels[page_id]["topics"]
                for source in filing:
                    named = {
                        matcher.taxonomy.topics[hit.topic].id
                        for hit in matcher.filing(url, tags, every=True)
                        if hit.source == source
                    }
                    if named:
                        filing[source]["pages"] += 1
                        filing[source]["names_an_accepted_topic"] += bool(named & set(accepted))
                        filing[source]["names_only_other_topics"] += not named & set(accepted)
                first = topics[0] if topics else None
                right = first in accepted if accepted else first is None
                judged.append(
                    {
                        "page": page_id,
                        "url": labels[page_id].get("url", ""),
                        "batch": labels[page_id].get("batch"),
                        "title": title,
                        "labelled": accepted,
                        "topics": list(topics),
                        "right": right,
                    }
                )
                if cv:
                    page = page_evidence(matcher, page_id, title, body, accepted, url, tags)
                    (held_evidence if page_id in held else evidence).append(page)
        per_set[folder.name] = _spread(*mine)
    batches = sorted({j["batch"] for j in judged if j["batch"] is not None})
    figures = {
        **_spread(*total),
        "sets": per_set,
        **_first_topic(judged),
        "batches": {
            str(batch): _first_topic([j for j in judged if j["batch"] == batch])
            for batch in batches
        },
        "labelled_topics_per_story": dict(
            sorted(Counter(str(len(j["topics"])) for j in judged).items())
        ),
        "wrong": [j for j in judged if not j["right"]],
        "publisher_filing_on_labelled_pages": filing,
    }
    if cv:
        idf = document_frequencies(matcher, every_body)
        figures["cv"] = cross_validate(
            matcher,
            [replace(e, idf=idf) for e in evidence],
            cv,
            heldout=[replace(e, idf=idf) for e in held_evidence],
        )
    return figures


def _print_cv(cv: dict) -> None:
    print(
        f"cross-validation, {cv['folds']} folds {cv['fold_sizes']} over {cv['pages']} pages: "
        f"production scorer right on {cv['production_right']} ({cv['production_accuracy']})"
    )
    rows = [(f"{name} alone", r) for name, r in cv["alone"].items()]
    rows.append(("forward selection", cv["forward"]))
    rows += [(f"forward selection without {name}", r) for name, r in cv["ablation"].items()]
    if "heldout_pages" in cv:
        print(
            f"  held out ({cv['heldout_pages']} pages, no part in any choice): production "
            f"scorer right on {cv['heldout_production_right']}"
        )
    for label, r in rows:
        held = f"; held out {r['heldout_right']}" if "heldout_right" in r else ""
        print(
            f"  {label}: out of fold {r['out_of_fold_right']} ({r['out_of_fold_accuracy']}); "
            f"chosen on all pages {r['chosen_on_all_pages'] or 'off'} "
            f"(right {r['right_in_sample']} in-sample{held})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "folders",
        type=Path,
        nargs="+",
        help="evaluation-set folders (article-extraction-benchmark; news-html-newspaper too "
        "with --topics)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings per page")
    parser.add_argument(
        "--topics",
        type=Path,
        nargs="+",
        default=None,
        metavar="LABELS",
        help="measure topics (per story, and first-topic precision on these hand-label files)",
    )
    parser.add_argument(
        "--heldout",
        type=Path,
        nargs="+",
        default=(),
        metavar="LABELS",
        help="with --topics: more hand-label files judged like the others, but with --cv no "
        "part in choosing (each chosen setting is scored on them afterwards)",
    )
    parser.add_argument(
        "--taxonomy",
        default=None,
        metavar="FILE",
        help="with --topics: score this taxonomy instead of the bundled one (a candidate, such "
        "as benchmarks/data/taxonomy_iptc.yaml)",
    )
    parser.add_argument(
        "--cv",
        type=int,
        default=None,
        metavar="K",
        help="with --topics: candidate scorings (benchmarks.topic_cv) chosen and scored by "
        "K-fold cross-validation over the labelled pages (folds fixed by page id)",
    )
    args = parser.parse_args(argv)
    if args.topics is not None:
        topics = topic_figures(
            args.folders, args.topics, args.limit, args.cv, args.heldout, args.taxonomy
        )
        print(
            f"{topics['pages']} pages: {topics['mean_topics_per_story']} topics per story "
            f"{topics['topics_per_story']}; first topics {topics['first_topics']}"
        )
        print(
            f"labelled pages: first topic right on {topics['first_topic_right']} of "
            f"{topics['labelled_pages']} ({topics['first_topic_accuracy']}), precision "
            f"{topics['first_topic_precision']} over pages with a topic"
        )
        for batch, figures in topics["batches"].items():
            print(
                f"  batch {batch}: first topic right on {figures['first_topic_right']} of "
                f"{figures['labelled_pages']} ({figures['first_topic_accuracy']}), precision "
                f"{figures['first_topic_precision']}"
            )
        for name, spread in topics["sets"].items():
            print(
                f"  {name}: {spread['pages']} pages, {spread['mean_topics_per_story']} topics "
                f"per story {spread['topics_per_story']}"
            )
        for source, counts in topics["publisher_filing_on_labelled_pages"].items():
            print(
                f"  {source} names a topic on {counts['pages']} labelled pages: an accepted one "
                f"on {counts['names_an_accepted_topic']}, only others on "
                f"{counts['names_only_other_topics']}"
            )
        for wrong in topics["wrong"]:
            print(
                f"  wrong: {wrong['url'][:70]} labelled {wrong['labelled']} got {wrong['topics']}"
            )
        if "cv" in topics:
            _print_cv(topics["cv"])
        figures_json(topics, args.json)
        return 0
    if args.cv is not None or args.heldout or args.taxonomy:
        parser.error("--cv, --heldout and --taxonomy need --topics")
    if len(args.folders) > 1:
        parser.error("the timing measure reads one folder (several only with --topics)")
    figures = run(args.folders[0], args.limit, max(1, args.repeat))
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
