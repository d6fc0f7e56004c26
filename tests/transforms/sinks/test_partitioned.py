"""WritePartitioned under a real DirectRunner: layout, determinism, atomic naming, formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.core.records import DeadLetter, Rejected, Story
from transforms.sinks.partitioned import WriteConfig, WritePartitioned, partition_of


def _story(i: int, lang: str, date: str) -> Story:
    return Story(
        story_id=f"s{i:03d}",
        entry_id=f"e{i:03d}",
        url=f"https://x.example/{i}",
        canonical_url=f"https://x.example/{i}",
        site="x.example",
        feed_url="https://x.example/f",
        title=f"title {i}",
        text=f"text {i}",
        fetched_at="2026-11-24T06:00:00Z",
        published_at=f"{date}T10:00:00Z",
        language=lang,
        places=("BY", "RU"),
        place_mentions=(("BY", 3), ("RU", 1)),
        agency="TASS",
    )


STORIES = [_story(i, "en" if i % 3 else "ru", "2026-11-2" + str(i % 2)) for i in range(30)]
DEAD = [
    DeadLetter(
        stage="fetch",
        reason="http_4xx",
        url="https://x.example/404",
        error="HTTP 404",
        entry_id="e999",
        at="2026-11-24T06:00:00Z",
    )
]
REJECTED = [
    Rejected(
        stage="extract",
        reason="too_short",
        url="https://x.example/short",
        entry_id="e998",
        at="2026-11-24T06:00:00Z",
    )
]


def _write(tmp: Path, stories: list[Story], **kw) -> Path:
    config = WriteConfig(output=str(tmp), run_id="t1", **kw)
    with beam.Pipeline(options=PipelineOptions(runner="DirectRunner")) as p:
        outputs = {
            "stories": p | "S" >> beam.Create(stories),
            "duplicates": p | "D" >> beam.Create([]),
            "rejected": p | "R" >> beam.Create(REJECTED),
            "errors": p | "E" >> beam.Create(DEAD),
        }
        _ = outputs | WritePartitioned(config)
    return tmp


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in gzip.decompress(path.read_bytes()).splitlines()]


def test_hive_layout_and_sorted_contents(tmp_path: Path) -> None:
    root = _write(tmp_path, STORIES)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jsonl.gz"))
    assert "stories/date=2026-11-20/lang=en/part-t1-00000-of-00001.jsonl.gz" in files
    assert "stories/date=2026-11-21/lang=ru/part-t1-00000-of-00001.jsonl.gz" in files
    assert "errors/date=2026-11-24/part-t1-00000-of-00001.jsonl.gz" in files
    assert "rejected/date=2026-11-24/part-t1-00000-of-00001.jsonl.gz" in files
    total = 0
    for path in root.glob("stories/*/*/*.jsonl.gz"):
        ids = [r["story_id"] for r in _lines(path)]
        assert ids == sorted(ids)
        total += len(ids)
    assert total == len(STORIES)
    assert not list(root.rglob(".temp*/*")), "temporary files left behind"


def test_input_order_does_not_change_bytes(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", STORIES)
    b = _write(tmp_path / "b", list(reversed(STORIES)))
    for path in a.rglob("*.jsonl.gz"):
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()


def test_partition_by_agency_and_country(tmp_path: Path) -> None:
    root = _write(tmp_path, STORIES[:3], partition_by=("agency", "country"))
    assert (root / "stories" / "agency=TASS" / "country=BY").is_dir()
    assert partition_of(STORIES[0].replace(places=()), ("country",)) == "country=none"


def test_shards_split_a_partition(tmp_path: Path) -> None:
    root = _write(tmp_path, STORIES, shards=4)
    names = {p.name for p in root.glob("stories/*/*/*.jsonl.gz")}
    assert len(names) > 1
    assert all(n.endswith("-of-00004.jsonl.gz") for n in names)


def test_parquet_has_one_schema_for_all_files(tmp_path: Path) -> None:
    root = _write(tmp_path, STORIES, file_format="parquet")
    table = ds.dataset(root / "stories", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(STORIES)
    assert table.schema.field("place_mentions").type.value_type.num_fields == 2


def test_unknown_partition_key_fails_before_running() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        WritePartitioned(WriteConfig(output="x", run_id="r", partition_by=("colour",)))


def test_failed_run_leaves_no_partial_files_and_reruns_cleanly(tmp_path: Path) -> None:
    broken = [*STORIES[:10], STORIES[10].replace(language_confidence="not a number")]
    with pytest.raises(Exception):  # noqa: B017 - any failure inside the runner will do
        _write(tmp_path / "out", broken, file_format="parquet")
    out = tmp_path / "out"
    finals = [
        p
        for p in out.rglob("*.parquet")
        if not any(part.startswith(".temp") for part in p.relative_to(out).parts)
    ]
    assert finals == [], "a failed run must not leave files under final names"
    # Readers that follow Hive conventions skip the dot-prefixed temporary folder.
    _write(out, STORIES[:10], file_format="parquet")
    clean = _write(tmp_path / "clean", STORIES[:10], file_format="parquet")
    table = ds.dataset(out / "stories", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 10
    for path in clean.rglob("*.parquet"):
        assert path.read_bytes() == (out / path.relative_to(clean)).read_bytes()
