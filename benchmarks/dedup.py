"""Dedup quality on a labelled near-duplicate set: ``python -m benchmarks.dedup DIR --json OUT``.

DIR is laid out like ``../shared/data/neardup-wire`` (``stories.jsonl`` + ``clusters.json``). The
stories go through the project's dedup transform in a real DirectRunner pipeline; the figures are
pairwise precision/recall over story pairs and the share of true multi-story clusters whose
canonical is their earliest-published member.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from benchmarks import figures_json
from transforms.core.records import Story
from transforms.dedup.minhash import MinHashConfig
from transforms.dedup.stage import DedupConfig, DeduplicateStories, StoreFingerprints

logger = logging.getLogger(__name__)


def story_from_labelled(record: dict[str, Any]) -> Story:
    """A labelled-set line as the Story the extract stage would have produced."""
    return Story(
        story_id=record["id"],
        entry_id=record["id"],
        url=record["url"],
        canonical_url=record["url"],
        site=record.get("source", ""),
        feed_url="",
        title=record.get("title", ""),
        text=record["text"],
        fetched_at=record["published_at"],
        published_at=record["published_at"],
    )  # content_hash left empty: the dedup stage derives it as extract would


def _assignment(story: Story) -> str:
    return json.dumps(
        {
            "id": story.story_id,
            "cluster_id": story.cluster_id,
            "duplicate_of": story.duplicate_of,
            "reason": story.duplicate_reason,
            "similarity": story.similarity,
        },
        sort_keys=True,
    )


def run_dedup(
    stories_jsonl: str,
    out_dir: str,
    config: MinHashConfig | DedupConfig,
    options: dict[str, Any] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Runs DeduplicateStories over a JSONL file; returns canonical and duplicate assignments.

    With a ``DedupConfig`` that has a ``state_location`` the run also reads and appends the
    fingerprint store, as a scheduled production run does.
    """
    if isinstance(config, MinHashConfig):
        config = DedupConfig(minhash=config)
    pipeline_options = PipelineOptions(flags=[], runner="DirectRunner", **(options or {}))
    with beam.Pipeline(options=pipeline_options) as p:
        stories = (
            p
            | "ReadStories" >> beam.io.ReadFromText(stories_jsonl)
            | "ParseStories" >> beam.Map(lambda line: story_from_labelled(json.loads(line)))
        )
        outputs = stories | "Dedup" >> DeduplicateStories(config)
        _ = outputs["fingerprints"] | "Store" >> StoreFingerprints(config)
        for key in ("ok", "duplicates"):
            _ = (
                outputs[key]
                | f"Describe{key.title()}" >> beam.Map(_assignment)
                | f"Write{key.title()}"
                >> beam.io.WriteToText(os.path.join(out_dir, key), file_name_suffix=".jsonl")
            )
    result: dict[str, list[dict[str, Any]]] = {}
    for key in ("ok", "duplicates"):
        rows: list[dict[str, Any]] = []
        for name in sorted(os.listdir(out_dir)):
            if name.startswith(key + "-") and name.endswith(".jsonl"):
                with open(os.path.join(out_dir, name), encoding="utf-8") as handle:
                    rows.extend(json.loads(line) for line in handle if line.strip())
        result[key] = rows
    return result


def _pairs(groups: Iterable[list[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in groups:
        out.update(itertools.combinations(sorted(members), 2))
    return out


def score(
    truth: dict[str, list[str]],
    published: dict[str, str],
    assignments: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """Pairwise P/R and canonical accuracy of predicted clusters against labelled clusters."""
    predicted: dict[str, str] = {}
    canonicals = {row["id"] for row in assignments["ok"]}
    for row in assignments["ok"] + assignments["duplicates"]:
        predicted[row["id"]] = row["cluster_id"]
    by_cluster: dict[str, list[str]] = {}
    for story_id, cluster in sorted(predicted.items()):
        by_cluster.setdefault(cluster, []).append(story_id)
    true_pairs = _pairs(truth.values())
    found_pairs = _pairs(by_cluster.values())
    hits = len(true_pairs & found_pairs)
    precision = hits / len(found_pairs) if found_pairs else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    multi = [members for members in truth.values() if len(members) >= 2]
    correct = 0
    for members in multi:
        original = min(members, key=lambda s: (published[s], s))
        votes = Counter(predicted.get(s) for s in members).most_common(1)[0][0]
        if original in canonicals and votes == predicted.get(original):
            correct += 1
    return {
        "stories": len(published),
        "stories_assigned": len(predicted),
        "pairs_precision": round(precision, 4),
        "pairs_recall": round(recall, 4),
        "canonical_accuracy": round(correct / len(multi), 4) if multi else 1.0,
        "clusters_found": len(by_cluster),
        "clusters_true": len(truth),
    }


def evaluate(directory: str, config: MinHashConfig | None = None) -> dict[str, Any]:
    config = config or MinHashConfig()
    stories_path = os.path.join(directory, "stories.jsonl")
    with open(os.path.join(directory, "clusters.json"), encoding="utf-8") as handle:
        truth = json.load(handle)
    published: dict[str, str] = {}
    with open(stories_path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = story_from_labelled(json.loads(line))
                published[record.story_id] = record.published_at or ""
    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as out_dir:
        started = time.perf_counter()
        assignments = run_dedup(stories_path, out_dir, config)
        seconds = time.perf_counter() - started
    figures = score(truth, published, assignments)
    figures["seconds"] = round(seconds, 2)
    figures["config"] = str(config)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="folder with stories.jsonl and clusters.json")
    parser.add_argument("--json", dest="json_out", help="write the figures to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    figures = evaluate(args.directory)
    print(figures_json(figures, args.json_out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
