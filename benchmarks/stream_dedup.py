"""Streaming dedup state, reads and clusters: ``python -m benchmarks.stream_dedup DIR --json OUT``.

DIR is laid out like ``../shared/data/neardup-wire`` (``stories.jsonl`` + ``clusters.json``). Its
stories arrive in a seeded random order, one every ``--interval`` seconds of event time, through
the streaming dedup (``transforms/dedup/streaming.py``) under TestStream on the DirectRunner,
with the watermark following the arrivals. Reported:

* ``state_bytes_per_story``: encoded bytes held in keyed state at the end (fingerprints, bucket
  references) divided by stories, summed from the increments the DoFns make to the
  ``dedup_stream_state_bytes`` counter on every add and expiry. The TestStream runner (the
  BundleBasedDirectRunner) loses user counters after a DoFn's first bundle, so the same
  increments are also emitted as elements (``observe_state``) and summed from those;
* ``max_read_bytes_per_story``: the most state bytes read on behalf of one story (its buckets'
  references, and the stored fingerprint of every candidate it is checked against);
* ``pairs_precision`` / ``pairs_recall`` against the labels, ``agreement_with_batch``: the
  Jaccard index of the co-clustered story pairs of the streaming and the batch dedup (1.0: the
  same pairs), and ``clusters_without_canonical`` (cluster ids that name no written canonical).

``--synthetic N [N ...]`` adds a scaling line on generated stories (30 % of them edited copies):
state per story and CPU time per story at each size, every size run the same way
(``--synthetic_runner``). The default, ``direct``, drives the DoFns' own ``process`` methods in
arrival order with in-memory state cells (``run_direct``): the same messages, state contents and
counters as the graph, no runner. Under TestStream the DirectRunner's own machinery (trigger
state copies, timer scans, bundle set-up) is over 90 % of the CPU at 200 stories and grows with
the number of keys, so it would measure the local runner, not the dedup; ``teststream`` is there
to check the two agree on small sizes.

CPU is that of the whole process tree (``benchmarks.throughput.tree_cpu_seconds``), per size;
wall seconds and the load average are recorded as context only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any, ClassVar

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from benchmarks import figures_json
from benchmarks.dedup import run_dedup, story_from_labelled
from benchmarks.throughput import tree_cpu_seconds
from transforms.core.records import Story, stable_hash
from transforms.core.windowing import StreamConfig
from transforms.dedup.minhash import MinHashConfig
from transforms.dedup.stage import DedupConfig, DeduplicateStories

logger = logging.getLogger(__name__)

T0 = 1_790_000_000  # event-time origin (2026-09-21); expiry is off: horizon > the run
HORIZON_HOURS = 48


class _Collect:
    """Elements seen by the in-process runner, per run and output (DirectRunner only)."""

    seen: ClassVar[dict[str, list[Any]]] = defaultdict(list)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, element: Any) -> None:
        _Collect.seen[self.name].append(element)


def arrivals(stories: list[Story], seed: int, interval: float) -> list[tuple[Story, float]]:
    """The stories in a seeded random order, each with its event time (one per interval)."""
    order = list(stories)
    random.Random(seed).shuffle(order)
    return [(story, T0 + n * interval) for n, story in enumerate(order)]


def run_teststream(timed: list[tuple[Story, float]], config: MinHashConfig) -> dict[str, Any]:
    """The streaming dedup under TestStream; assignments, state and reads from its outputs."""
    run = f"run{time.perf_counter_ns()}"
    stream = TestStream()
    for start in range(0, len(timed), 25):  # each watermark step costs the runner ~1 s idle
        batch = timed[start : start + 25]
        stream = stream.add_elements(
            [TimestampedValue(s, Timestamp(seconds=t)) for s, t in batch]
        ).advance_watermark_to(Timestamp(seconds=batch[-1][1]))
    stream = stream.advance_watermark_to_infinity()
    options = PipelineOptions(flags=[], runner="DirectRunner")
    options.view_as(StandardOptions).streaming = True
    dedup = DedupConfig(
        minhash=config,
        streaming=True,
        stream=StreamConfig(
            window_minutes=5, allowed_lateness_minutes=60, horizon_hours=HORIZON_HOURS
        ),
        observe_stream_state=True,
    )
    started = tree_cpu_seconds()
    with beam.Pipeline(options=options) as p:
        outputs = p | stream | DeduplicateStories(dedup)
        for key in ("ok", "duplicates", "state_reads", "state_bytes"):
            _ = outputs[key] | f"Collect{key}" >> beam.Map(_Collect(f"{run}/{key}"))
    cpu = tree_cpu_seconds() - started
    seen = {
        key: _Collect.seen.pop(f"{run}/{key}", [])
        for key in ("ok", "duplicates", "state_reads", "state_bytes")
    }
    return _summary(seen["ok"], seen["duplicates"], seen["state_reads"], seen["state_bytes"], cpu)


class _Bag:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Any] = []

    def read(self) -> list[Any]:
        return list(self.items)

    def add(self, item: Any) -> None:
        self.items.append(item)

    def clear(self) -> None:
        self.items = []


class _Cell:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def read(self) -> Any:
        return self.value

    def write(self, value: Any) -> None:
        self.value = value

    def clear(self) -> None:
        self.value = None


class _Timer:
    def set(self, _: Any) -> None:
        pass  # expiry is beyond the run (horizon > run length)


def _forget_cleared(key: str, *cells: dict[str, Any]) -> None:
    for cell in cells:
        found = cell.get(key)
        if found is not None and not found.read():
            del cell[key]


def run_direct(timed: list[tuple[Story, float]], config: MinHashConfig) -> dict[str, Any]:
    """The streaming dedup's DoFns driven in arrival order with in-memory state cells.

    Every story is one pane of its buckets (as when stories arrive minutes apart); messages go
    where the graph sends them, fingerprints before the candidates that need them. A transient
    cell (a story's gathered candidates and votes) is forgotten once its DoFn has cleared it,
    as a runner's state backend would; only the horizon's state stays in memory.
    """
    from transforms.dedup import stream_clusters as c
    from transforms.dedup import streaming as s

    horizon = HORIZON_HOURS * 3600
    keys_fn = s._StreamKeysFn(config)
    keys_fn.setup()
    refs_fn = s.BucketRefsFn(config, horizon, observe=True)
    store_fn = s.StoreFingerprintsFn(config, horizon, observe=True)
    store_fn.setup()
    gather_fn = s.GatherCandidatesFn()
    decide_fn = s.DecideFirstSeenFn()
    resolve_fns = [
        c.ResolveClusterFn(horizon, n == c.RESOLVE_STAGES, observe=True)
        for n in range(1, c.RESOLVE_STAGES + 1)
    ]
    parents: list[dict[str, _Cell]] = [defaultdict(_Cell) for _ in resolve_fns]
    waiting: list[dict[str, _Bag]] = [defaultdict(_Bag) for _ in resolve_fns]
    gathered: dict[str, _Bag] = defaultdict(_Bag)
    counts: dict[str, _Cell] = defaultdict(_Cell)
    refs: dict[bytes, _Bag] = defaultdict(_Bag)
    prints: dict[str, _Cell] = defaultdict(_Cell)
    pending: dict[str, _Bag] = defaultdict(_Bag)
    held: dict[str, _Bag] = defaultdict(_Bag)
    votes: dict[str, _Bag] = defaultdict(_Bag)
    ok: list[Story] = []
    duplicates: list[Story] = []
    reads: list[tuple[str, int]] = []
    state: list[tuple[str, int]] = []

    def side(out: Any, main: list[Any]) -> None:
        if isinstance(out, beam.pvalue.TaggedOutput):
            {s.READS: reads, s.STATE: state, s.HELD: [], s.ARRIVALS: to_decide}.get(
                out.tag, []
            ).append(out.value)
        else:
            main.append(out)

    started = tree_cpu_seconds()
    for story, at in timed:
        to_decide: list[Any] = []
        to_gather: list[Any] = []
        to_store: list[Any] = []
        by_bucket: dict[bytes, list[Any]] = defaultdict(list)
        for out in keys_fn.process(story, Timestamp(seconds=at)):
            if isinstance(out, beam.pvalue.TaggedOutput):
                {s.PRINTS: to_store, s.GATHER: to_gather, s.ARRIVALS: to_decide}.get(
                    out.tag, []
                ).append(out.value)
            else:
                by_bucket[out[0]].append(out[1])
        for key in sorted(by_bucket):
            for out in refs_fn.process((key, by_bucket[key]), refs[key], _Timer()):
                side(out, to_gather)
        checks: list[Any] = []
        for arrival, message in to_gather:
            for out in gather_fn.process((arrival, message), gathered[arrival], counts[arrival]):
                side(out, checks)
        answers: list[Any] = []
        for story_id, message in to_store + checks:
            element = (story_id, message)
            for out in store_fn.process(element, prints[story_id], pending[story_id], _Timer()):
                side(out, answers)
        records: list[Any] = []
        asks: list[Any] = []
        for arrival, message in to_decide + answers:
            for out in decide_fn.process((arrival, message), held[arrival], votes[arrival]):
                if not isinstance(out, beam.pvalue.TaggedOutput):
                    ok.append(out.value)
                elif out.tag == s.PARENTS:
                    records.append(out.value)
                else:
                    asks.append(out.value.value)
        for fn, cells, bags in zip(resolve_fns, parents, waiting, strict=True):
            forward: list[Any] = []
            for key, message in records + asks:  # a story's record before the copies it names
                for out in fn.process((key, message), cells[key], bags[key], _Timer()):
                    if isinstance(out, beam.pvalue.TaggedOutput) and out.tag == c.FORWARD:
                        forward.append(out.value)
                    else:
                        side(out, duplicates)
            for key, _ in asks:
                _forget_cleared(key, bags)
            asks = forward
        for arrival, _ in to_decide:
            _forget_cleared(arrival, gathered, counts, held, votes)
        _forget_cleared(story.story_id, pending)
    cpu = tree_cpu_seconds() - started
    return _summary(ok, duplicates, reads, state, cpu)


RUNNERS = {"direct": run_direct, "teststream": run_teststream}


def _summary(
    ok: list[Any], duplicates: list[Any], reads: list[Any], state: list[Any], cpu: float
) -> dict[str, Any]:
    ok = [getattr(x, "value", x) for x in ok]
    duplicates = [getattr(x, "value", x) for x in duplicates]
    per_story: dict[str, int] = defaultdict(int)
    for story_id, size in reads:
        per_story[story_id] += size
    by_kind: dict[str, int] = defaultdict(int)
    end = max((t for _, _, t in state), default=0)
    last_add = max((t for _, size, t in state if size > 0), default=0)
    for kind, size, at in state:
        if at <= last_add:  # what is held when the last story has arrived
            by_kind[kind] += size
    after_horizon = sum(size for _, size, _ in state)
    return {
        "assignments": {
            "ok": [{"id": x.story_id, "cluster_id": x.cluster_id} for x in ok],
            "duplicates": [{"id": x.story_id, "cluster_id": x.cluster_id} for x in duplicates],
        },
        "state_bytes": sum(by_kind.values()),
        "state_bytes_by_cell": dict(sorted(by_kind.items())),
        "max_read_bytes": max(per_story.values(), default=0),
        "state_bytes_after_horizon": after_horizon if end > last_add else None,
        "cpu_seconds": cpu,
    }


def _pairs(assignments: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str]]:
    clusters: dict[str, list[str]] = defaultdict(list)
    for row in assignments["ok"] + assignments["duplicates"]:
        clusters[row["cluster_id"]].append(row["id"])
    return {p for members in clusters.values() for p in itertools.combinations(sorted(members), 2)}


def _truth_pairs(truth: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {p for members in truth.values() for p in itertools.combinations(sorted(members), 2)}


def score(result: dict[str, Any], truth: dict[str, list[str]], stories: int) -> dict[str, Any]:
    found = _pairs(result["assignments"])
    true = _truth_pairs(truth)
    hits = len(found & true)
    canonicals = {row["id"] for row in result["assignments"]["ok"]}
    clusters = {row["cluster_id"] for row in result["assignments"]["duplicates"]}
    decided = len(result["assignments"]["ok"]) + len(result["assignments"]["duplicates"])
    return {
        "stories": stories,
        "stories_decided": decided,
        "state_bytes_per_story": round(result["state_bytes"] / stories, 1),
        "state_bytes_by_cell_per_story": {
            k: round(v / stories, 1) for k, v in result["state_bytes_by_cell"].items()
        },
        "max_read_bytes_per_story": result["max_read_bytes"],
        "state_bytes_after_horizon": result["state_bytes_after_horizon"],
        "pairs_precision": round(hits / len(found), 4) if found else 1.0,
        "pairs_recall": round(hits / len(true), 4) if true else 1.0,
        "clusters_without_canonical": len(clusters - canonicals),
        "cpu_ms_per_story": round(1000 * result["cpu_seconds"] / stories, 3),
    }


def load(directory: str) -> tuple[list[Story], dict[str, list[str]]]:
    with open(os.path.join(directory, "clusters.json"), encoding="utf-8") as handle:
        truth = json.load(handle)
    with open(os.path.join(directory, "stories.jsonl"), encoding="utf-8") as handle:
        stories = [story_from_labelled(json.loads(line)) for line in handle if line.strip()]
    return stories, truth


def evaluate(
    directory: str, seed: int = 7, interval: float = 30.0, runner: str = "teststream"
) -> dict[str, Any]:
    """The labelled set (under TestStream by default), scored against the labels and batch."""
    config = MinHashConfig()
    stories, truth = load(directory)
    result = RUNNERS[runner](arrivals(stories, seed, interval), config)
    figures = score(result, truth, len(stories))
    figures["runner"] = runner
    with tempfile.TemporaryDirectory(prefix="stream-dedup-bench-") as out_dir:
        batch = run_dedup(os.path.join(directory, "stories.jsonl"), out_dir, config)
    batch_pairs = _pairs(batch)
    stream_pairs = _pairs(result["assignments"])
    union = batch_pairs | stream_pairs
    figures["agreement_with_batch"] = (
        round(len(batch_pairs & stream_pairs) / len(union), 4) if union else 1.0
    )
    figures["seed"] = seed
    figures["config"] = str(config)
    return figures


def synthetic(n: int, seed: int) -> tuple[list[Story], dict[str, list[str]]]:
    """``n`` news-length stories, 30 % of them edited copies of an earlier one (labelled)."""
    rng = random.Random(seed)
    vocabulary = [f"w{rng.randrange(10**6)}" for _ in range(20000)]
    stories: list[Story] = []
    truth: dict[str, list[str]] = {}
    originals: list[tuple[str, list[str]]] = []
    for number in range(n):
        story_id = stable_hash(f"synthetic-{seed}-{number}")  # 20 hex, like production ids
        if originals and rng.random() < 0.3:
            root, words = rng.choice(originals)
            words = [w for w in words if rng.random() > 0.05] + ["(AP)"]
            truth[root].append(story_id)
        else:
            words = [rng.choice(vocabulary) for _ in range(rng.randrange(150, 400))]
            originals.append((story_id, words))
            truth[story_id] = [story_id]
        stories.append(
            Story(
                story_id=story_id,
                entry_id=story_id,
                url=f"https://x.example/{story_id}",
                canonical_url=f"https://x.example/{story_id}",
                site="x.example",
                feed_url="",
                title="",
                text=" ".join(words),
                fetched_at="2026-09-21T00:00:00Z",
                published_at="2026-09-21T00:00:00Z",
            )
        )
    return stories, truth


def scaling(
    sizes: list[int], seed: int, runner: str = "direct", done: Any = None
) -> dict[str, Any]:
    """The scaling line: every size run the same way; ``done`` sees the line after each size."""
    line: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"runner": runner, "sizes": line}
    for n in sizes:
        stories, truth = synthetic(n, seed)
        timed = arrivals(stories, seed, 86400 / 100_000)  # 10^5 stories a day
        load_before, wall = os.getloadavg()[0], time.perf_counter()
        result = RUNNERS[runner](timed, MinHashConfig())
        figures = score(result, truth, n)
        figures["cpu_seconds"] = round(result["cpu_seconds"], 2)
        figures["wall_seconds"] = round(time.perf_counter() - wall, 2)
        figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        line.append(figures)
        summary.update(_ratios(line))
        logger.warning("synthetic %d (%s): %s", n, runner, figures)
        if done is not None:
            done(summary)
    return summary


def _ratios(line: list[dict[str, Any]]) -> dict[str, float]:
    """Largest over smallest of the per-story figures along the line (1.0: flat)."""

    def spread(key: str) -> float:
        values = [row[key] for row in line]
        return round(max(values) / min(values), 3) if min(values) > 0 else 0.0

    return {
        "cpu_ms_per_story_spread": spread("cpu_ms_per_story"),
        "state_bytes_per_story_spread": spread("state_bytes_per_story"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", help="folder with stories.jsonl and clusters.json")
    parser.add_argument("--json", dest="json_out", help="write the figures to this file")
    parser.add_argument("--seed", type=int, default=7, help="arrival order (and synthetic) seed")
    parser.add_argument("--interval", type=float, default=30.0, help="event seconds per arrival")
    parser.add_argument(
        "--synthetic",
        type=int,
        nargs="*",
        default=[],
        help="scaling line sizes, e.g. 1000 10000 100000",
    )
    parser.add_argument(
        "--synthetic_runner",
        choices=sorted(RUNNERS),
        default="direct",
        help="how every size of the scaling line runs: the DoFns driven directly with in-memory "
        "state (direct), or the whole graph under TestStream on the DirectRunner (teststream, "
        "minutes per thousand stories)",
    )
    parser.add_argument(
        "--labelled_runner",
        choices=sorted(RUNNERS),
        default="teststream",
        help="how the labelled set in DIR runs (the same two ways as --synthetic_runner)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    figures: dict[str, Any] = {}
    if args.directory:
        figures = evaluate(args.directory, args.seed, args.interval, args.labelled_runner)
    if args.synthetic:

        def done(line: dict[str, Any]) -> None:
            # written after every size, so a long line leaves what it measured so far
            figures["synthetic"] = line
            if args.json_out:
                figures_json(figures, args.json_out, sort_keys=True)

        scaling(args.synthetic, args.seed, args.synthetic_runner, done)
    print(figures_json(figures, args.json_out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
