"""Dedup scaling: ``python -m benchmarks.dedup_scaling --sizes 1000,10000,100000 --json OUT``.

For each size a synthetic day of stories is built from real article bodies
(``../shared/data/article-extraction-benchmark`` and the originals of ``neardup-wire``): each
story keeps a real article's paragraph and sentence structure and length, with 70 % of its words
swapped for random words of the same real vocabulary, so stories are distinct the way different
news stories are (few shared 3-word shingles) rather than copies of the ~200 source articles.
A fifth of the stories are injected copies of earlier ones (abridged, wrapped in boilerplate,
with typos, or spun with the body repeated), published later, so the expected clusters are known.

Stories are processed the way production sees them: in scheduled runs of at most ``--run_size``
stories (default 4000, a day of 10^5 stories in 25 hourly runs), in publication order, each run a
real DirectRunner pipeline in a fresh child process that dedups against the fingerprint store of
the runs before it and appends its own. Time per size is the sum of its runs' pipeline times;
peak memory is the largest child's own peak RSS. ``--run_size 0`` runs each size as one single
pipeline instead: the in-memory DirectRunner holds every stage's whole input, so its memory grows
with the input whatever the transform does (the figures say by how much).

The parent prints wall time, peak memory, the ratios the issue asks for (time 10^3 -> 10^5,
memory 10^5 vs 10^4) and pairwise precision/recall/canonical accuracy of the injected copies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import figures_json

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
COPY_SHARE = 0.2
RECENT = 2000
SWAP_SHARE = 0.7
BOILERPLATE = (
    "Sign up for our morning newsletter and never miss a story.",
    "Leave a Comment",
    "Reporting by our correspondents; editing by the desk. REUTERS",
    "All news",
    "Follow us on social media for the latest updates.",
)


def real_texts() -> list[str]:
    texts: list[str] = []
    truth = SHARED / "article-extraction-benchmark" / "ground-truth.json"
    if truth.is_file():
        for record in json.loads(truth.read_text(encoding="utf-8")).values():
            if len(record.get("articleBody", "").split()) >= 80:
                texts.append(record["articleBody"])
    stories = SHARED / "neardup-wire" / "stories.jsonl"
    if stories.is_file():
        for line in stories.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("source") == "origin":
                texts.append(record["text"])
    if not texts:
        raise SystemExit(f"no real texts found under {SHARED}")
    return texts


def _swap_words(text: str, vocabulary: list[str], rng: random.Random) -> str:
    paragraphs = []
    for paragraph in text.split("\n"):
        words = [
            rng.choice(vocabulary) if rng.random() < SWAP_SHARE else word
            for word in paragraph.split()
        ]
        if words:
            paragraphs.append(" ".join(words))
    return "\n".join(paragraphs)


def _copy_of(text: str, rng: random.Random) -> str:
    kind = rng.randrange(4)
    paragraphs = text.split("\n")
    if kind == 0 and len(paragraphs) > 3:  # abridged: first 75-90 % of paragraphs
        keep = max(2, int(len(paragraphs) * rng.uniform(0.75, 0.9)))
        return "\n".join(paragraphs[:keep])
    if kind == 1:  # outlet boilerplate around the body
        return "\n".join([rng.choice(BOILERPLATE), *paragraphs, rng.choice(BOILERPLATE)])
    if kind == 2:  # typos
        words = text.split(" ")
        for _ in range(max(1, len(words) // 60)):
            i = rng.randrange(len(words))
            words[i] = words[i][::-1]
        return " ".join(words)
    title = paragraphs[0][:80]  # content-farm spin: residue and the body again
    return "\n".join(
        [*paragraphs, f"rewrite this title {title}", "rewrite this content", *paragraphs]
    )


def generate(size: int, path: Path, seed: int = 7) -> dict[str, list[str]]:
    """Writes ``size`` stories as JSONL; returns the true clusters (canonical id -> members)."""
    rng = random.Random(seed)
    texts = real_texts()
    vocabulary = sorted({word for text in texts for word in text.split()})
    clusters: dict[str, list[str]] = {}
    originals: list[tuple[str, str, int]] = []
    with path.open("w", encoding="utf-8") as handle:
        for n in range(size):
            story_id = f"{n:08d}"
            if originals and rng.random() < COPY_SHARE:
                # Copies follow recent stories (wire copies arrive within hours).
                origin_id, origin_text, minute = rng.choice(originals[-RECENT:])
                text = _copy_of(origin_text, rng)
                minute = minute + rng.randrange(1, 600)
                clusters[origin_id].append(story_id)
            else:
                text = _swap_words(rng.choice(texts), vocabulary, rng)
                minute = rng.randrange(24 * 60)
                originals.append((story_id, text, minute))
                if len(originals) > 2 * RECENT:
                    del originals[:RECENT]
                clusters[story_id] = [story_id]
            published = (
                f"2026-11-{24 + minute // 1440:02d}T{minute % 1440 // 60:02d}:{minute % 60:02d}:00Z"
            )
            record = {
                "id": story_id,
                "url": f"https://site{n % 50}.example/{story_id}",
                "title": "",
                "text": text,
                "published_at": published,
                "source": f"site{n % 50}.example",
            }
            handle.write(json.dumps(record) + "\n")
    return clusters


def child(stories: str, out_dir: str, result_json: str, state: str, run_id: str) -> None:
    """One run in a fresh process: run the pipeline, report wall time and own peak RSS."""
    from benchmarks.dedup import run_dedup
    from transforms.dedup.stage import DedupConfig

    config = DedupConfig(state_location=state or None, run_date="2026-11-24", run_id=run_id or None)
    started = time.perf_counter()
    assignments = run_dedup(stories, out_dir, config)
    seconds = time.perf_counter() - started
    with open(result_json, "w", encoding="utf-8") as handle:
        json.dump(
            {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "assignments": assignments},
            handle,
        )


def peak_rss_mb() -> float:
    """This process's own high-water RSS (``VmHWM``).

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that over ``execve``, so a child
    started from a big parent would report the parent's peak.
    """
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _split_runs(stories: Path, run_size: int, workdir: Path) -> list[Path]:
    """Stories in publication order, cut into scheduled runs of at most ``run_size``."""
    keyed = []
    with stories.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            keyed.append((record["published_at"], record["id"], line.rstrip("\n")))
    keyed.sort()
    lines = [line for _, _, line in keyed]
    del keyed
    size = run_size if run_size > 0 else len(lines)
    paths = []
    for n, start in enumerate(range(0, len(lines), size)):
        path = workdir / f"run-{n:03d}.jsonl"
        path.write_text("\n".join(lines[start : start + size]) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def measure(size: int, workdir: Path, run_size: int) -> dict[str, Any]:
    from benchmarks.dedup import score

    folder = workdir / f"size-{size}"
    folder.mkdir()
    stories = folder / "stories.jsonl"
    truth = generate(size, stories)
    published = {}
    with stories.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            published[record["id"]] = record["published_at"]
    runs = _split_runs(stories, run_size, folder)
    state = str(folder / "state") if len(runs) > 1 else ""
    seconds, peak, started = 0.0, 0.0, time.perf_counter()
    assignments: dict[str, list] = {"ok": [], "duplicates": []}
    for n, run in enumerate(runs):
        out_dir = folder / f"out-{n:03d}"
        out_dir.mkdir()
        result_json = folder / f"result-{n:03d}.json"
        command = [sys.executable, "-m", "benchmarks.dedup_scaling", "--child", str(run)]
        command += ["--out", str(out_dir), "--json", str(result_json), "--state", state]
        command += ["--run_id", f"r{n:03d}"]
        subprocess.run(command, check=True, cwd=REPO)
        result = json.loads(result_json.read_text(encoding="utf-8"))
        seconds += result["seconds"]
        peak = max(peak, result["peak_rss_mb"])
        for key in assignments:
            assignments[key].extend(result["assignments"][key])
    figures = score(truth, published, assignments)
    return {
        "size": size,
        "runs": len(runs),
        "seconds": round(seconds, 2),
        "wall_seconds_with_process_starts": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(peak, 1),
        "stories_per_second": round(size / seconds, 1),
        "pairs_precision": figures["pairs_precision"],
        "pairs_recall": figures["pairs_recall"],
        "canonical_accuracy": figures["canonical_accuracy"],
        "clusters_true": figures["clusters_true"],
        "clusters_found": figures["clusters_found"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated story counts")
    parser.add_argument("--json", dest="json_out", help="write the figures to this file")
    parser.add_argument(
        "--run_size",
        type=int,
        default=4000,
        help="stories per scheduled run (0: each size as one single pipeline)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--state", default="", help=argparse.SUPPRESS)
    parser.add_argument("--run_id", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.out, args.json_out, args.state, args.run_id)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    runs = []
    with tempfile.TemporaryDirectory(prefix="dedup-scaling-") as tmp:
        for size in sizes:
            run = measure(size, Path(tmp), args.run_size)
            runs.append(run)
            print(json.dumps(run), flush=True)
    by_size = {run["size"]: run for run in runs}
    summary: dict[str, Any] = {"run_size": args.run_size, "runs": runs}
    smallest, largest = min(by_size), max(by_size)
    if largest > smallest:
        summary["time_ratio"] = round(by_size[largest]["seconds"] / by_size[smallest]["seconds"], 2)
        summary["time_ratio_sizes"] = f"{smallest}->{largest}"
    if 10000 in by_size and largest > 10000:
        summary["memory_ratio_vs_10k"] = round(
            by_size[largest]["peak_rss_mb"] / by_size[10000]["peak_rss_mb"], 2
        )
    print(figures_json(summary, args.json_out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
