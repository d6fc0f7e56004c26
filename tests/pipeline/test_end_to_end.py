"""Tier 3: the CLI end to end on the bundled sample, replayed and over real local HTTP."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from pipeline.__main__ import run
from transforms.core.schema import validate

pytestmark = pytest.mark.slow

SEED_TITLES = {
    "000": "Lukashenko does not expect Belarus-US relations to change after US vote",
    "001": "Russia plans closer cooperation with Belarus",
    "002": "Belarusian opposition leader promises to relook at all relations with Russia",
    "003": "Lukashenko says ties with US could improve if it admits 2020 defeat",
    "004": "Russia expects situation in Belarus to normalize soon",
}


def _records(root: Path, output: str) -> list[dict]:
    found = []
    for path in sorted((root / output).rglob("*.jsonl.gz")):
        found += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return found


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("part-*"))
    }


@pytest.fixture(scope="module")
def sample_run(sample_runs) -> Path:
    """The bundled sample's run (shared with other modules that only read it)."""
    return sample_runs.shared() / "output"


def test_every_seed_story_is_written(sample_run: Path) -> None:
    titles = {r["title"] for r in _records(sample_run, "stories")}
    for seed, title in SEED_TITLES.items():
        assert title in titles, f"seed {seed} missing from stories/"


def test_partitions_are_hive_style(sample_run: Path) -> None:
    story_files = list((sample_run / "stories").rglob("*.jsonl.gz"))
    assert story_files
    for path in story_files:
        date_dir, lang_dir = path.parent.parent.name, path.parent.name
        assert date_dir.startswith("date=") and len(date_dir) == len("date=2020-11-07")
        assert lang_dir == "lang=en"
    assert (sample_run / "stories" / "date=2020-11-07" / "lang=en").is_dir()


def test_url_in_two_feeds_is_one_story_and_one_duplicate(sample_run: Path) -> None:
    path = "/world/europe/lukashenko-says-us-ties-could-improve"
    stories = [r for r in _records(sample_run, "stories") if r["url"].endswith(path)]
    dups = [r for r in _records(sample_run, "duplicates") if path in r["url"]]
    assert len(stories) == 1
    assert len(dups) == 1
    assert dups[0]["duplicate_of"] == stories[0]["story_id"]
    assert dups[0]["duplicate_reason"] == "same_url"
    assert dups[0]["feed_url"] != stories[0]["feed_url"]


def test_missing_page_is_a_dead_letter(sample_run: Path) -> None:
    errors = _records(sample_run, "errors")
    missing = [e for e in errors if e["url"].endswith("minsk-metro-night-service")]
    assert len(missing) == 1
    assert missing[0]["stage"] == "fetch"
    assert missing[0]["reason"] == "http_4xx"
    assert "404" in missing[0]["error"]


def test_report_shows_the_invariant(sample_run: Path) -> None:
    report = json.loads((sample_run / "_run_report.json").read_text())
    inv = report["invariant"]
    assert inv["holds"] is True
    assert inv["entries_read"] == 8 + 3  # feed entries + the agency drop's items
    assert inv["entries_read"] == (
        inv["stories"] + inv["duplicates"] + inv["rejected"] + inv["dead_letters"]
    )
    assert report["partitions"]["stories/date=2020-11-07/lang=en"] == 1


def test_every_record_matches_the_schema(sample_run: Path) -> None:
    for output in ("stories", "duplicates", "rejected", "errors"):
        for record in _records(sample_run, output):
            assert validate(output, record) == [], (output, record.get("url"))


def test_rerun_is_byte_identical(sample_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert run(["--output", str(again)]) == 0
    assert _digests(again) == _digests(sample_run)


def test_jsonl_reads_back_as_hive_dataset(sample_run: Path) -> None:
    table = ds.dataset(sample_run / "stories", format="json", partitioning="hive").to_table()
    assert table.num_rows == len(_records(sample_run, "stories"))
    assert set(table.column("lang").to_pylist()) == {"en"}


def test_parquet_reads_back_as_hive_dataset(sample_runs) -> None:
    out = sample_runs.shared("--format", "parquet") / "output"  # the session's Parquet run
    table = ds.dataset(out / "stories", format="parquet", partitioning="hive").to_table()
    report = json.loads((out / "_run_report.json").read_text())
    assert table.num_rows == report["written"]["stories"] > 0
    assert "2020-11-07" in {str(d) for d in table.column("date").to_pylist()}
    errors = ds.dataset(out / "errors", format="parquet", partitioning="hive").to_table()
    assert errors.num_rows == report["written"]["errors"]


def test_sample_over_real_local_http(sample_server, sample_feeds: Path, tmp_path: Path) -> None:
    feeds = sample_server.write_feed_list(sample_feeds, tmp_path / "feeds.yaml")
    out = tmp_path / "live"
    assert (
        run(
            [
                "--feeds",
                str(feeds),
                "--output",
                str(out),
                "--run_id",
                "live",
                "--allow_private_networks",
                "--per_host_rps",  # one local host serves every feed and page
                "50",
            ]
        )
        == 0
    )
    titles = {r["title"] for r in _records(out, "stories")}
    assert set(SEED_TITLES.values()) <= titles
    report = json.loads((out / "_run_report.json").read_text())
    assert report["invariant"]["holds"] is True
    # the URL listed in two feeds was fetched once
    page = "/straits-daily.example/world/europe/lukashenko-says-us-ties-could-improve"
    assert sample_server.requests[page] == 1


def test_bad_feed_list_fails_fast(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - url: ftp://example.org/feed\n")
    assert run(["--feeds", str(bad), "--output", str(tmp_path / "o")]) == 2
    assert "http(s)" in capsys.readouterr().err
