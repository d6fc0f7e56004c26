"""DeduplicateStories under a real DirectRunner: seeds, failure modes, runs over time, streaming."""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.timestamp import Timestamp

from pipeline.report import counters_of
from tests.textgen import synthetic_text
from transforms.core.records import Story, content_hash_for
from transforms.dedup import stage as dedup
from transforms.dedup.batch import ConnectedComponents, _BucketPairsFn
from transforms.dedup.minhash import MinHashConfig, MinHasher, verify
from transforms.dedup.stage import DedupConfig, DeduplicateStories, StoreFingerprints
from transforms.dedup.store import StoreConfig, _ReadStoreDayFn

REPO = Path(__file__).resolve().parents[2]
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


def _describe(record: Any) -> str:
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
            | f"Describe{key}" >> beam.Map(_describe)
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


# ---------------------------------------------------------------------------------------------
# seeds


def _seed(shared_dir: Path, prefix: str) -> str:
    (path,) = (shared_dir / "seeds").glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


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


def _scenarios() -> list[Story]:
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


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    records, counters = run_dedup(tmp_path_factory.mktemp("scenarios"), _scenarios())
    by_output = {key: {r["story_id"]: r for r in rows} for key, rows in records.items()}
    by_output["counters"] = counters
    by_output["records"] = records
    return by_output


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
    assert outcomes == len(_scenarios())
    assert counters["dedup_canonical"] == len(scenario_run["ok"])


def test_text_is_never_modified(scenario_run: dict) -> None:
    """Unlike trafilatura's deduplicate=True, which deletes passages it saw before."""
    by_id = {s.story_id: s for s in _scenarios()}
    for output in ("ok", "duplicates"):
        for story_id, record in scenario_run[output].items():
            assert record["text"] == by_id[story_id].text
    assert "repeat" in scenario_run["ok"]


def test_output_is_identical_whatever_the_input_order(scenario_run: dict, tmp_path: Path) -> None:
    shuffled = _scenarios()
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


# ---------------------------------------------------------------------------------------------
# failure modes of other dedup tools


def test_lsh_candidates_are_verified_not_chained(tmp_path: Path) -> None:
    """A-B and B-C share half their text (LSH candidates); no pair passes, so no cluster."""
    parts = [words(10 + n, 150) for n in range(4)]
    stories = [
        story("a", parts[0] + " " + parts[1], "2026-11-24T07:00:00Z"),
        story("b", parts[1] + " " + parts[2]),
        story("c", parts[2] + " " + parts[3]),
    ]
    records, counters = run_dedup(tmp_path, stories, name="strict")
    assert counters.get("dedup_candidate_pairs", 0) >= 2
    assert counters.get("dedup_pairs_refused", 0) >= 2
    assert counters.get("dedup_pairs_verified", 0) == 0
    assert ids(records["ok"]) == ["a", "b", "c"]

    # Merged unverified (or verified loosely), the candidates chain a to c, which share nothing.
    hasher = MinHasher(MinHashConfig(jaccard_threshold=0.2))
    a, b, c = (hasher.fingerprint(s) for s in stories)
    assert verify(a, b, hasher.config).duplicate and verify(b, c, hasher.config).duplicate
    assert verify(a, c, hasher.config).jaccard == 0.0


def test_huge_bucket_is_capped_to_linear_work() -> None:
    fn = _BucketPairsFn(max_bucket_size=50)
    members = [(f"s{n:05d}", False) for n in range(5000)]
    pairs = list(fn.process((b"\x00bucket", members)))
    assert len(pairs) <= 2 * len(members)
    assert len(set(pairs)) == len(pairs)
    small = list(fn.process((b"\x00bucket", members[:20])))
    assert len(small) == 20 * 19 // 2


def test_huge_bucket_in_a_pipeline_is_counted_and_copies_still_found(tmp_path: Path) -> None:
    boilerplate = words(7, 40)  # a shared promo block: every story lands in its buckets
    stories = [story(f"s{n:03d}", words(1000 + n, 60) + " " + boilerplate) for n in range(60)]
    stories.append(story("copy", stories[0].text + " (AP)", "2026-11-24T12:00:00Z"))
    config = DedupConfig(minhash=MinHashConfig(max_bucket_size=10))
    records, counters = run_dedup(tmp_path, stories, config)
    assert counters["dedup_buckets_capped"] >= 1
    assert ids(records["duplicates"]) == ["copy"]
    assert records["duplicates"][0]["duplicate_of"] == "s000"
    assert len(records["ok"]) == 60


def test_connected_components_match_union_find(tmp_path: Path) -> None:
    rng = random.Random(3)
    edges: list[tuple[str, str]] = []
    for g in range(25):
        nodes = [f"g{g:02d}-{rng.randrange(10**6):06d}" for _ in range(rng.randrange(2, 12))]
        for _ in range(rng.randrange(1, 15)):
            a, b = rng.sample(nodes, 2)
            edges.append((min(a, b), max(a, b)))
    chain = [f"path-{n:03d}" for n in range(80)]  # long path: needs the residual finish
    edges += [(chain[n], chain[n + 1]) for n in range(79)]

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    expected = sorted((node, find(node)) for node in list(parent))

    out = tmp_path / "labels"
    p = beam.Pipeline(options=PipelineOptions(flags=[], runner="DirectRunner"))
    _ = (
        p
        | beam.Create(edges)
        | ConnectedComponents(rounds=1)
        | beam.Map(json.dumps)
        | beam.io.WriteToText(str(out))
    )
    result = p.run()
    result.wait_until_finish()
    got = sorted(
        tuple(json.loads(line))
        for path in tmp_path.glob("labels-*")
        for line in path.read_text().splitlines()
    )
    assert got == expected
    residual = result.metrics().query(MetricsFilter().with_name("dedup_components_residual_edges"))[
        "counters"
    ]
    assert residual and residual[0].committed > 0


# ---------------------------------------------------------------------------------------------
# across scheduled runs


def _store_files(state: Path) -> dict[str, str]:
    return {str(p.relative_to(state)): p.read_text() for p in sorted(state.rglob("fingerprints-*"))}


def test_second_run_writes_no_new_canonicals_and_rerun_is_idempotent(tmp_path: Path) -> None:
    state = tmp_path / "state"
    base = [story(f"s{n}", words(200 + n), f"2026-11-24T0{n}:00:00Z") for n in range(6)]
    copy = story("copy", base[2].text + "\nLeave a Comment", "2026-11-24T09:00:00Z")
    stories = [*base, copy]

    def config(run_id: str, run_date: str = "2026-11-24") -> DedupConfig:
        return DedupConfig(state_location=str(state), run_date=run_date, run_id=run_id)

    first, counters = run_dedup(tmp_path, stories, config("h01"), name="first")
    assert len(first["ok"]) == 6 and ids(first["duplicates"]) == ["copy"]
    assert counters["dedup_store_appended"] == 7
    stored = _store_files(state)
    assert list(stored) == [f"dedup/{MinHashConfig().name}/dt=2026-11-24/fingerprints-h01.jsonl"]

    again, counters = run_dedup(tmp_path, stories, config("h01"), name="rerun")
    assert again == first  # a re-run of the same run reproduces it exactly
    assert _store_files(state) == stored

    second, counters = run_dedup(tmp_path, stories, config("h02"), name="second")
    assert second["ok"] == [] and second["duplicates"] == []
    assert {r["reason"] for r in second["rejected"]} == {"already_stored"}
    assert len(second["rejected"]) == 7
    assert counters.get("dedup_store_appended", 0) == 0
    assert _store_files(state) == stored  # nothing written twice


def test_new_copy_points_at_yesterdays_canonical(tmp_path: Path) -> None:
    state = tmp_path / "state"
    yesterday = [story(f"y{n}", words(300 + n), "2026-11-23T10:00:00Z") for n in range(4)]
    run_dedup(
        tmp_path,
        yesterday,
        DedupConfig(state_location=str(state), run_date="2026-11-23", run_id="d1"),
        name="d1",
    )
    abridged = " ".join(yesterday[1].text.split()[:200])
    today = [story("t-copy", abridged, "2026-11-24T08:00:00Z"), story("t-new", words(999))]
    records, counters = run_dedup(
        tmp_path,
        today,
        DedupConfig(state_location=str(state), run_date="2026-11-24", run_id="d2"),
        name="d2",
    )
    # The store is scanned, but only the stored story this run meets is loaded into the graph.
    assert counters["dedup_store_scanned"] == 4
    assert counters["dedup_store_loaded"] == 1
    assert ids(records["ok"]) == ["t-new"]
    (copy,) = records["duplicates"]
    assert copy["duplicate_of"] == "y1" and copy["cluster_id"] == "y1"
    assert copy["duplicate_reason"] == "near_duplicate"

    # The horizon counts days of runs: 7 days after d2 both partitions are still read, 8 days
    # after they are not. A re-run skips its own file (it decides again instead).
    def loaded(run_date: str, run_id: str = "d9") -> list[str]:
        store = StoreConfig(str(state), run_date, run_id, horizon_days=7)
        read = _ReadStoreDayFn(store.root(MinHashConfig()), store.file_name)
        return sorted(fp.story_id for day in store.days() for fp in read.process(day))

    assert loaded("2026-11-30") == ["t-copy", "t-new", "y0", "y1", "y2", "y3"]
    assert loaded("2026-12-01") == ["t-copy", "t-new"]
    assert loaded("2026-12-02") == []
    assert loaded("2026-11-24", run_id="d2") == ["y0", "y1", "y2", "y3"]


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


# ---------------------------------------------------------------------------------------------
# streaming


def test_streaming_first_seen_wins_and_state_expires_after_the_horizon(tmp_path: Path) -> None:
    horizon_days = 1
    day = 86400
    original = words(500)
    other = words(501)
    t0 = 1_700_000_000

    def at(s: Story, seconds: int) -> beam.window.TimestampedValue:
        return beam.window.TimestampedValue(s, Timestamp(seconds=t0 + seconds))

    stream = (
        TestStream()
        .add_elements([at(story("orig", original), 0), at(story("other", other), 10)])
        .advance_watermark_to(Timestamp(seconds=t0 + 600))
        .add_elements([at(story("copy-soon", original + " (Reuters)"), 3600)])
        .add_elements([at(story("orig", original), 3700)])  # the same story id again
        .advance_watermark_to(Timestamp(seconds=t0 + 3 * day))  # past the horizon
        .add_elements([at(story("copy-late", original + " - AP"), 3 * day + 60)])
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions(flags=[], runner="DirectRunner")
    options.view_as(StandardOptions).streaming = True
    p = beam.Pipeline(options=options)
    config = DedupConfig(streaming=True, horizon_days=horizon_days, observe_stream_state=True)
    outputs = p | stream | DeduplicateStories(config)
    assert_that(
        outputs["ok"] | "OkIds" >> beam.Map(lambda s: s.story_id),
        equal_to(["orig", "other", "copy-late"]),  # the late copy found no state left
        label="CheckOk",
    )
    # the same story id again is a copy of the first (same_url), not a store rejection: the
    # streaming job wrote the first one itself
    assert_that(
        outputs["duplicates"]
        | "DupIds" >> beam.Map(lambda s: (s.story_id, s.duplicate_of, s.duplicate_reason)),
        equal_to([("copy-soon", "orig", "near_duplicate"), ("orig", "orig", "same_url")]),
        label="CheckDuplicates",
    )
    assert_that(outputs["rejected"], equal_to([]), label="CheckRejected")
    held = outputs["bucket_state_sizes"] | "HeldWindow" >> beam.WindowInto(
        beam.window.FixedWindows(30 * day)
    )
    # What each story found in its buckets' state, expired members included: the early copy
    # meets the original, the late copy meets nothing because timers emptied those buckets.
    assert_that(
        held
        | "MaxHeld" >> beam.CombinePerKey(max)
        | "OnlyCopies" >> beam.Filter(lambda kv: kv[0].startswith("copy")),
        equal_to([("copy-soon", 1), ("copy-late", 0)]),
        label="CheckStateBounded",
    )
    p.run().wait_until_finish()


def test_in_memory_loop_decides_like_the_pipeline(scenario_run: dict) -> None:
    kept, copies = dedup.deduplicate_in_memory(_scenarios())
    assert sorted(s.story_id for s in kept) == sorted(scenario_run["ok"])
    for copy in copies:
        expected = scenario_run["duplicates"][copy.story_id]
        assert copy.duplicate_of == expected["duplicate_of"]
        assert copy.duplicate_reason == expected["duplicate_reason"]
        assert copy.similarity == expected["similarity"]


def _streaming_pipeline() -> beam.Pipeline:
    options = PipelineOptions(flags=[], runner="DirectRunner")
    options.view_as(StandardOptions).streaming = True
    return beam.Pipeline(options=options)


def _stamped(outputs: beam.PCollection, label: str) -> beam.PCollection:
    """(story id, duplicate_of, reason, event time seconds) of every story that came out."""
    return outputs | label >> beam.Map(
        lambda s, t=beam.DoFn.TimestampParam: (
            s.story_id,
            s.duplicate_of,
            s.duplicate_reason,
            int(t.micros // 1_000_000),
        )
    )


def test_streaming_late_story_within_the_lateness_is_decided_never_dropped() -> None:
    from transforms.core.windowing import StreamConfig

    t0 = 1_700_000_040  # a window start (60 s windows)
    original = words(600)
    reworded = original.replace("minister", "premier").replace("police", "officers")
    assert content_hash_for(reworded) != content_hash_for(original)  # near, not exact

    def at(s: Story, seconds: int) -> beam.window.TimestampedValue:
        return beam.window.TimestampedValue(s, Timestamp(seconds=t0 + seconds))

    stream = (
        TestStream()
        .advance_watermark_to(Timestamp(seconds=t0))
        .add_elements([at(story("orig", original), 10)])
        # the first window (and the next nine) closed: what follows is late, within 30 min
        .advance_watermark_to(Timestamp(seconds=t0 + 600))
        .add_elements([at(story("late-copy", reworded), 20), at(story("late-new", words(601)), 30)])
        .advance_watermark_to_infinity()
    )
    config = DedupConfig(
        streaming=True,
        stream=StreamConfig(window_minutes=1, allowed_lateness_minutes=30, horizon_hours=1),
    )
    p = _streaming_pipeline()
    outputs = p | stream | DeduplicateStories(config)
    # late stories come out at their own event time, so the graph re-windows them into their
    # own window's late pane
    assert_that(
        _stamped(outputs["ok"], "OkStamped"),
        equal_to([("orig", None, None, t0 + 10), ("late-new", None, None, t0 + 30)]),
        label="CheckOk",
    )
    assert_that(
        _stamped(outputs["duplicates"], "DupStamped"),
        equal_to([("late-copy", "orig", "near_duplicate", t0 + 20)]),
        label="CheckDuplicates",
    )
    p.run().wait_until_finish()


def test_streaming_copies_in_one_pane_agree_on_one_canonical() -> None:
    """Copies that arrive together meet in several buckets; every bucket orders them alike."""
    from transforms.core.windowing import StreamConfig

    t0 = 1_700_000_040
    text = words(700)
    copies = [
        story("c-late", text + " said the agency", published="2026-11-24T08:30:00Z"),
        story("a-first", text, published="2026-11-24T08:00:00Z"),
        story("b-exact", text, published="2026-11-24T08:10:00Z"),
        story("d-edited", text.replace("budget", "spending"), published="2026-11-24T08:20:00Z"),
    ]
    stream = (
        TestStream()
        .advance_watermark_to(Timestamp(seconds=t0))
        .add_elements([beam.window.TimestampedValue(c, t0 + 5) for c in copies])
        .advance_watermark_to_infinity()
    )
    config = DedupConfig(streaming=True, stream=StreamConfig(window_minutes=1))
    p = _streaming_pipeline()
    outputs = p | stream | DeduplicateStories(config)
    assert_that(
        outputs["ok"] | "OkIds" >> beam.Map(lambda s: s.story_id),
        equal_to(["a-first"]),  # the earliest published, as batch would pick
        label="CheckOk",
    )
    assert_that(
        outputs["duplicates"]
        | "DupIds" >> beam.Map(lambda s: (s.story_id, s.duplicate_of, s.duplicate_reason)),
        equal_to(
            [
                ("b-exact", "a-first", "same_text"),
                ("c-late", "a-first", "near_duplicate"),
                ("d-edited", "a-first", "near_duplicate"),
            ]
        ),
        label="CheckDuplicates",
    )
    p.run().wait_until_finish()
