"""Shared builders for the dedup tests: synthetic stories, a batch run read back from disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.report import counters_of
from tests.textgen import synthetic_text
from transforms.core.records import Story, content_hash_for
from transforms.dedup.stage import DedupConfig, DeduplicateStories, StoreFingerprints

REPO = Path(__file__).resolve().parents[3]
OUTPUTS = ("ok", "duplicates", "rejected", "dead")


def words(seed: int, n: int = 250) -> str:
    return synthetic_text(seed, n, variants=40)


def story(
    story_id: str,
    text: str,
    published: str | None = "2026-11-24T08:00:00Z",
    site: str = "a.example",
    **kw: Any,
) -> Story:
    return Story(
        story_id=story_id,
        entry_id=f"e-{story_id}",
        url=f"https://{site}/{story_id}",
        canonical_url=f"https://{site}/{story_id}",
        site=site,
        feed_url=f"https://{site}/feed",
        title="",
        text=text,
        fetched_at="2026-11-24T09:00:00Z",
        published_at=published,
        content_hash=content_hash_for(text),
        **kw,
    )


def describe(record: Any) -> str:
    return json.dumps(record.to_json(), sort_keys=True, default=list)


def run_dedup(
    tmp: Path, stories: list[Story], config: DedupConfig | None = None, name: str = "run"
) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """Runs the stage (and the store append) and reads every output back from disk."""
    config = config or DedupConfig()
    out = tmp / name
    p = beam.Pipeline(options=PipelineOptions(flags=[], runner="DirectRunner"))
    outputs = p | "Stories" >> beam.Create(stories) | "Dedup" >> DeduplicateStories(config)
    for key in OUTPUTS:
        _ = (
            outputs[key]
            | f"Describe{key}" >> beam.Map(describe)
            | f"Write{key}" >> beam.io.WriteToText(str(out / key), file_name_suffix=".jsonl")
        )
    _ = outputs["fingerprints"] | "Store" >> StoreFingerprints(config)
    result = p.run()
    result.wait_until_finish()
    records: dict[str, list[dict]] = {}
    for key in OUTPUTS:
        rows = []
        for path in sorted(out.glob(f"{key}-*.jsonl")):
            rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
        records[key] = sorted(rows, key=lambda r: r.get("story_id") or "")
    return records, counters_of(result)


def ids(rows: list[dict]) -> list[str]:
    return [r["story_id"] for r in rows]


def scenarios() -> list[Story]:
    timed, ties, exact, repeated = words(1), words(2), words(3), words(4, 120)
    short = ["Breaking", "Read more", "Live", "Watch video", "Subscribe now", "Photos", ""]
    stories = [
        story("time-late", timed + " one", "2026-11-24T10:00:00Z"),
        story("time-early", timed + " two", "2026-11-24T07:00:00+00:00"),
        story("time-undated", timed + " three", None),
        story("tie-hits", ties + " a", cleaning_hits=(("promo", 1),)),
        story("tie-short", ties + " b"),
        story("tie-long", ties + " b and a longer tail"),
        story("tie-b", ties + " c and a longer tail"),
        story("exact-1", exact, "2026-11-24T06:00:00Z"),
        story("exact-2", exact.upper() + " !!!", "2026-11-24T07:00:00Z"),
        story("exact-3", exact, "2026-11-24T08:00:00Z"),
        story("repeat", repeated + "\n" + repeated),
        *(story(f"short-{n}", text) for n, text in enumerate(short)),
        story("short-9", ""),  # two empty texts are not "the same story" either
        story("short-8", "read more!", "2026-11-24T10:00:00Z"),  # identical short text is
    ]
    for n in range(8):
        base = words(100 + n)
        stories.append(story(f"mix-s{n}", base, f"2026-11-24T0{n}:00:00Z"))
        if n % 3 == 0:
            abridged = " ".join(base.split()[:180])
            stories.append(story(f"mix-c{n}", abridged, "2026-11-24T09:30:00Z"))
    return stories
