"""DeduplicateStories (batch) under a real DirectRunner: seeds, scenarios, flags."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tests.transforms.dedup.helpers import REPO, ids, run_dedup, scenarios, story
from transforms.dedup import stage as dedup

# ---------------------------------------------------------------------------------------------
# seeds


def _seed(shared_dir: Path, prefix: str) -> str:
    (path,) = (shared_dir / "seeds").glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_seeds_spun_copy_joins_its_original_and_background_sharers_stay_apart(
    tmp_path: Path, shared_dir: Path
) -> None:
    spun = _seed(shared_dir, "001")
    original = spun.split("\nrewrite this title", 1)[0]
    assert len(original) < len(spun) * 0.6  # the spinner residue and second copy follow
    stories = [story(f"seed{n}", _seed(shared_dir, n)) for n in ("000", "002", "003", "004")]
    stories += [
        story("orig001", original, "2025-01-27T09:00:00Z", site="dw.example"),
        story("spun001", spun, "2025-01-27T15:00:00Z", site="newsfarm.example"),
    ]
    records, _ = run_dedup(tmp_path, stories)
    assert ids(records["ok"]) == ["orig001", "seed000", "seed002", "seed003", "seed004"]
    assert len({r["cluster_id"] for r in records["ok"]}) == 5  # 000 and 004 stay apart
    (copy,) = records["duplicates"]
    assert copy["story_id"] == "spun001"
    assert copy["duplicate_of"] == "orig001" and copy["cluster_id"] == "orig001"
    assert copy["duplicate_reason"] == "near_duplicate"
    assert copy["similarity"] >= 0.8
    assert next(r for r in records["ok"] if r["story_id"] == "orig001")["cluster_size"] == 2


# ---------------------------------------------------------------------------------------------
# one run over independent scenarios (distinct texts), each test reads its own slice


def _slice(run: dict, output: str, prefix: str) -> list[str]:
    return sorted(i for i in run[output] if i.startswith(prefix))


def test_canonical_is_earliest_then_fewer_hits_then_longer_then_id(scenario_run: dict) -> None:
    assert _slice(scenario_run, "ok", "time-") == ["time-early"]
    copies = [scenario_run["duplicates"][i] for i in ("time-late", "time-undated")]
    assert {c["duplicate_of"] for c in copies} == {"time-early"}
    assert _slice(scenario_run, "ok", "tie-") == ["tie-b"]  # no hits, longest, smallest id


def test_exact_copies_are_same_text_duplicates(scenario_run: dict) -> None:
    assert _slice(scenario_run, "ok", "exact-") == ["exact-1"]
    for story_id in ("exact-2", "exact-3"):
        copy = scenario_run["duplicates"][story_id]
        assert copy["duplicate_reason"] == "same_text"
        assert copy["duplicate_of"] == "exact-1" and copy["similarity"] == 1.0
    assert scenario_run["ok"]["exact-1"]["cluster_size"] == 3


def test_short_stories_do_not_collapse_into_one_cluster(scenario_run: dict) -> None:
    expected = sorted([f"short-{n}" for n in range(7)] + ["short-9"])
    assert _slice(scenario_run, "ok", "short-") == expected
    assert _slice(scenario_run, "duplicates", "short-") == ["short-8"]
    assert scenario_run["duplicates"]["short-8"]["duplicate_of"] == "short-1"
    assert scenario_run["counters"]["dedup_empty_text"] == 2


def test_every_story_is_counted_once_by_outcome(scenario_run: dict) -> None:
    counters = scenario_run["counters"]
    outcomes = sum(
        counters.get(f"dedup_{k}", 0) for k in ("canonical", "same_text", "near_duplicate")
    )
    assert outcomes == len(scenarios())
    assert counters["dedup_canonical"] == len(scenario_run["ok"])


def test_text_is_never_modified(scenario_run: dict) -> None:
    """Unlike trafilatura's deduplicate=True, which deletes passages it saw before."""
    by_id = {s.story_id: s for s in scenarios()}
    for output in ("ok", "duplicates"):
        for story_id, record in scenario_run[output].items():
            assert record["text"] == by_id[story_id].text
    assert "repeat" in scenario_run["ok"]


@pytest.mark.slow  # one of the fast lane's longest; `make test` runs it
def test_output_is_identical_whatever_the_input_order(scenario_run: dict, tmp_path: Path) -> None:
    shuffled = scenarios()
    random.Random(5).shuffle(shuffled)
    again, _ = run_dedup(tmp_path, shuffled)
    assert again == scenario_run["records"]
    assert _slice(scenario_run, "duplicates", "mix-") == ["mix-c0", "mix-c3", "mix-c6"]


def _enables_deduplicate(node: ast.AST) -> bool:
    """``f(..., deduplicate=<anything but False>)`` or ``{"deduplicate": True}``."""
    if isinstance(node, ast.Call):
        return any(
            kw.arg == "deduplicate"
            and not (isinstance(kw.value, ast.Constant) and kw.value.value is False)
            for kw in node.keywords
        )
    if isinstance(node, ast.Dict):
        return any(
            isinstance(k, ast.Constant)
            and k.value == "deduplicate"
            and isinstance(v, ast.Constant)
            and v.value is True
            for k, v in zip(node.keys, node.values, strict=True)
        )
    return False


def test_trafilatura_deduplicate_is_never_enabled() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for folder in ("transforms", "pipeline")
        for path in sorted((REPO / folder).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _enables_deduplicate(node)
    ]
    assert offenders == []
    example = ast.parse("trafilatura.extract(html, deduplicate=True)")
    assert any(_enables_deduplicate(node) for node in ast.walk(example))


def test_config_from_options_reads_job_flags() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    dedup.add_arguments(parser)
    assert parser.parse_args([]).dedup_horizon_days == 7
    from datetime import UTC, datetime

    from transforms.core.run import RunIdentity

    options = PipelineOptions(["--dedup_horizon_days=3", "--dedup_jaccard_threshold=0.6"])
    # The store is named by the job's run identity (resolved once, in pipeline.graph).
    run = RunIdentity.resolve(
        run_id="h05", run_date="2026-11-24T05", replay=None, now=datetime.now(UTC)
    )
    config = dedup.config_from_options(options, run, "gs://bucket/state")
    assert config.horizon_days == 3
    assert config.minhash.jaccard_threshold == 0.6
    store = config.store
    assert store is not None and store.run_date == "2026-11-24" and store.run_id == "h05"
    assert store.days()[0] == "2026-11-21" and store.days()[-1] == "2026-11-24"
