"""End-to-end throughput: the Beam pipeline against a plain Python loop over the same stages.

    python -m benchmarks.throughput DIR [--repeat 3] [--feeds 8] [--json OUT]

DIR holds real article pages (``*.html.gz``, e.g. ../shared/data/article-extraction-benchmark/
html). They are packed into a temporary WARC archive with feeds listing them, so every mode
reads its input through the pipeline's real source (the feed list and ``--replay``), not through
``beam.Create`` of the pages. ``--repeat`` lists every page that many times under different
URLs (the copies become same-text duplicates, as syndicated wire copy does).

Modes, all in one run, on the same input:

* ``loop``: the stage functions and DoFns called directly, one page after another (the
  least a pipeline could cost), with the time of each stage;
* ``library``: only the third-party calls the stages make (feedparser, trafilatura, langdetect),
  the floor under both;
* ``beam``: ``build_pipeline`` on the DirectRunner in-process, per-stage time from Beam's own
  execution-time metrics;
* ``beam_2_workers``: the same on the multi-process DirectRunner with 2 worker processes.

Figures: stories/s (feed entries taken to an outcome per second), MB/s of HTML, and the ratios
the issue sets targets for. Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from benchmarks import figures_json

FETCHED_AT = "2026-11-24T06:00:00Z"
TARGETS = {
    "beam_vs_loop": (">=", 0.9),
    "two_workers_vs_one": (">=", 1.7),
    "beam_cost_vs_library_calls": ("<=", 1.3),
}


# ---------------------------------------------------------------- corpus


def build_corpus(pages_dir: Path, workdir: Path, repeat: int = 1, feeds: int = 8) -> dict:
    """Write ``feeds.yaml`` and ``bench.warc`` (feeds + pages) under workdir; return a summary."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    paths = sorted(pages_dir.glob("*.html.gz"))
    if not paths:
        raise SystemExit(f"no *.html.gz pages in {pages_dir}")
    pages = [(p.name.split(".")[0], gzip.decompress(p.read_bytes())) for p in paths]
    items: dict[int, list[str]] = defaultdict(list)
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=False)

    def record(url: str, content_type: str, body: bytes) -> None:
        headers = StatusAndHeaders(
            "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )  # fmt: skip
        writer.write_record(
            writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": FETCHED_AT},
            )
        )

    html_bytes = 0
    published = datetime(2026, 11, 24, tzinfo=UTC)
    for copy in range(repeat):
        for index, (page_id, body) in enumerate(pages):
            feed = (copy * len(pages) + index) % feeds
            url = f"https://site{feed}.bench.example/news/{page_id}-{copy}"
            record(url, "text/html; charset=utf-8", body)
            html_bytes += len(body)
            when = format_datetime(published - timedelta(minutes=index + copy * 1000))
            items[feed].append(
                f"<item><title>Article {page_id[:12]} ({copy})</title><link>{escape(url)}</link>"
                f"<guid>{escape(url)}</guid><pubDate>{when}</pubDate></item>"
            )
    lines = ["feeds:"]
    for feed, entries in sorted(items.items()):
        url = f"https://site{feed}.bench.example/rss.xml"
        rss = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench feed {feed}</title><link>https://site{feed}.bench.example/</link>"
            f"<language>en</language>{''.join(entries)}</channel></rss>"
        )
        record(url, "application/rss+xml", rss.encode("utf-8"))
        lines += [f"- url: {url}", f"  name: Bench feed {feed}"]
    (workdir / "feeds.yaml").write_text("\n".join(lines) + "\n")
    (workdir / "bench.warc").write_bytes(buffer.getvalue())
    return {
        "pages": len(pages) * repeat,
        "distinct_pages": len(pages),
        "feeds": len(items),
        "html_bytes": html_bytes,
        "feeds_path": str(workdir / "feeds.yaml"),
        "warc_path": str(workdir / "bench.warc"),
    }


# ---------------------------------------------------------------- plain loop


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


def _split(outputs: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """A DoFn's outputs: (main, records of its dead-letter/rejection/duplicate outputs)."""
    from apache_beam.pvalue import TaggedOutput

    main, side = [], []
    for output in outputs:
        if not isinstance(output, TaggedOutput):
            main.append(output)
        elif output.tag in ("dead", "rejected", "duplicates"):
            side.append(output.value)  # other tags (feed state) are not entry outcomes
    return main, side


def run_loop(corpus: dict, output: Path) -> dict:
    """The pipeline's stages as a plain loop: same DoFns, same functions, no Beam runner."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.graph import JobConfig
    from transforms.dedup import stage as dedup
    from transforms.extract import stage as extract
    from transforms.fetch import stage as fetch
    from transforms.language import stage as language
    from transforms.sinks import partitioned as write
    from transforms.sources.read_feeds import ReadFeedFn
    from transforms.tags import stage as tags

    options = PipelineOptions(
        ["--feeds", corpus["feeds_path"], "--replay", corpus["warc_path"], "--output", str(output)]
    )
    clock = _Clock()
    start = time.perf_counter()
    with clock.stage("setup"):
        job = JobConfig.from_options(options)
        read_fn, fetcher = ReadFeedFn(job.feeds), fetch.Fetcher(job.fetch, pace=False)
        extract_fn = extract.ExtractStoryFn(job.extract)
        language_fn, tag_fn = language.DetectLanguageFn(job.language), tags.TagStoryFn(job.tags)
        for fn in (read_fn, extract_fn, language_fn, tag_fn):
            fn.setup()
    entries, outcomes = [], 0
    with clock.stage("ReadFeeds"):
        for source in job.sources:
            main, dead = _split(read_fn.process((source, None)))  # no feed state
            entries += main
            outcomes += sum(d.entry_id is not None for d in dead)
    with clock.stage("CollapseSameUrl"):
        by_url: dict[str, list] = defaultdict(list)
        for entry in entries:
            by_url[entry.canonical_url].append(entry)
        winners = [sorted(group, key=lambda e: e.entry_id)[0] for group in by_url.values()]
        outcomes += len(entries) - len(winners)
    stories: list[Any] = []
    others: list[Any] = []
    for entry in winners:
        with clock.stage("FetchArticles"):
            try:
                result = fetcher.fetch(entry.url, kind=fetch.KIND_PAGE)
                pages, dead = [fetch.fetched_page(entry, result)], []
            except fetch.FetchError as err:
                pages, dead = [], [fetch.dead_letter(entry, err)]
        others += dead
        for page in pages:
            with clock.stage("ExtractStories"):
                extracted, rejected = _split(list(extract_fn.process(page)))
            others += rejected
            for story in extracted:
                with clock.stage("DetectLanguage"):
                    detected, dead = _split(list(language_fn.process(story)))
                others += dead
                with clock.stage("TagStories"):
                    for item in detected:
                        tagged, dead = _split(tag_fn.process(item))
                        stories += tagged
                        others += dead
    with clock.stage("DeduplicateStories"):
        kept, copies = dedup.deduplicate_in_memory(stories, job.dedup.minhash)
    with clock.stage("WritePartitioned"):
        files: dict[str, list] = defaultdict(list)
        for name, records in (("stories", kept), ("duplicates", copies), ("rejected", others)):
            for record in records:
                keys = job.write.partition_by if name == "stories" else ("date",)
                files[f"{name}/{write.partition_of(record, keys)}/part-loop"].append(record)
        for path, records in sorted(files.items()):
            ordered = sorted(records, key=write.record_key)
            batch = write.Batch(
                path=path, output=path.split("/")[0], records=tuple(r.to_json() for r in ordered)
            )
            target = f"{job.write.output}/{path}{job.write.suffix}"
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            with FileSystems.create(target) as handle:
                sink = write.BatchSink(job.write.file_format)
                sink.open(handle)
                sink.write(batch)
                sink.flush()
    seconds = time.perf_counter() - start
    outcomes += len(kept) + len(copies) + len(others)
    return {
        "seconds": seconds,
        "entries": len(entries),
        "outcomes": outcomes,
        "stories": len(kept),
        "story_ids": sorted(s.story_id for s in kept),
        "stages": dict(clock.seconds),
    }


# ---------------------------------------------------------------- library calls only


def run_library(corpus: dict) -> dict:
    """Only the third-party calls the stages make, on the same inputs: the floor."""
    import feedparser
    import trafilatura
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
    from warcio.archiveiterator import ArchiveIterator

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    bodies: list[tuple[str, bytes]] = []
    with open(corpus["warc_path"], "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                kind = record.http_headers.get_header("Content-Type") or ""
                bodies.append((kind, record.content_stream().read()))
    clock = _Clock()
    for kind, body in bodies:
        if "rss" in kind:
            with clock.stage("feedparser"):
                feedparser.parse(body)
            continue
        html = body.decode("utf-8", errors="replace")
        with clock.stage("trafilatura"):
            doc: Any = trafilatura.bare_extraction(html, with_metadata=True, deduplicate=False)
        text = " ".join(((doc.title or "") + "\n" + (doc.text or "")).split())[:5000] if doc else ""
        if len(text) >= 20:
            with clock.stage("langdetect"):
                detector = factory.create()
                detector.append(text)
                with contextlib.suppress(Exception):  # langdetect's "no features"; still timed
                    detector.get_probabilities()
    return {"seconds": sum(clock.seconds.values()), "stages": dict(clock.seconds)}


# ---------------------------------------------------------------- Beam


def run_beam(corpus: dict, output: Path, extra: list[str]) -> dict:
    import apache_beam as beam
    from apache_beam.metrics import monitoring_infos
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.graph import JobConfig, build_pipeline
    from pipeline.report import build_report, counters_of

    argv = [
        "--feeds", corpus["feeds_path"], "--replay", corpus["warc_path"],
        "--output", str(output), "--runner", "DirectRunner", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    options = PipelineOptions(argv)
    job = JobConfig.from_options(options)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, job)
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - start
    stages: dict[str, float] = defaultdict(float)
    infos = getattr(result, "monitoring_infos", None)
    for info in infos() if callable(infos) else []:
        if info.urn == monitoring_infos.TOTAL_MSECS_URN:
            label = info.labels.get(monitoring_infos.PTRANSFORM_LABEL, "")
            stages[label.split("/")[0]] += monitoring_infos.extract_counter_value(info) / 1000
    report = build_report(job.write, counters_of(result))
    return {
        "seconds": seconds,
        "entries": report.entries_read,
        "outcomes": report.written["stories"]
        + report.written["duplicates"]
        + report.entry_rejections
        + report.entry_dead_letters,
        "stories": report.written["stories"],
        "invariant_holds": report.ok,
        "stages": dict(sorted(stages.items(), key=lambda kv: -kv[1])),
    }


# ---------------------------------------------------------------- report


def _rate(corpus: dict, seconds: float) -> tuple[float, float]:
    return corpus["pages"] / seconds, corpus["html_bytes"] / 1e6 / seconds


def summarise(corpus: dict, results: dict[str, dict]) -> dict:
    beam, loop = results["beam"]["seconds"], results["loop"]["seconds"]
    per_page_library = results["library"]["seconds"] / corpus["pages"]
    ratios = {
        "beam_vs_loop": loop / beam,
        "two_workers_vs_one": beam / results["beam_2_workers"]["seconds"],
        "beam_cost_vs_library_calls": (beam / corpus["pages"]) / per_page_library,
    }
    verdicts = {}
    for name, (op, target) in TARGETS.items():
        met = ratios[name] >= target if op == ">=" else ratios[name] <= target
        verdicts[name] = {"value": round(ratios[name], 3), "target": f"{op} {target}", "met": met}
    for name in ("beam", "beam_2_workers"):
        # Beam's own cost beyond its stages: graph construction, runner and worker start-up,
        # encoding between fused stages, bundle scheduling; spread over more pages it shrinks.
        stage_sum = sum(results[name]["stages"].values())
        workers = 2 if name == "beam_2_workers" else 1
        results[name]["overhead_s"] = max(0.0, results[name]["seconds"] - stage_sum / workers)
    load = os.getloadavg()
    return {
        "corpus": {k: v for k, v in corpus.items() if not k.endswith("_path")},
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in load]},
        "modes": {
            name: {
                "seconds": round(r["seconds"], 3),
                "stories_per_s": round(_rate(corpus, r["seconds"])[0], 2),
                "html_mb_per_s": round(_rate(corpus, r["seconds"])[1], 3),
                "ms_per_story": round(1000 * r["seconds"] / corpus["pages"], 2),
                "stages_s": {k: round(v, 3) for k, v in r.get("stages", {}).items()},
                # CPU seconds per wall second: ~1 = one core's worth, ~2 = both of two cores
                "cpu_share": round(r.get("cpu_seconds", 0.0) / r["seconds"], 2),
                "cpu_ms_per_story": round(1000 * r.get("cpu_seconds", 0.0) / corpus["pages"], 2),
                **{k: r[k] for k in ("stories", "outcomes", "invariant_holds") if k in r},
                **({"overhead_s": round(r["overhead_s"], 2)} if "overhead_s" in r else {}),
            }
            for name, r in results.items()
        },
        "ratios": verdicts,
    }


def format_table(summary: dict) -> str:
    lines = [
        f"{summary['corpus']['pages']} pages ({summary['corpus']['html_bytes'] / 1e6:.1f} MB "
        f"of HTML) in {summary['corpus']['feeds']} feeds; {summary['machine']['cpus']} CPUs, "
        f"load {summary['machine']['load_average_1_5_15']}",
        "",
        f"{'mode':<16}{'seconds':>9}{'stories/s':>11}{'MB/s':>8}{'ms/story':>10}{'cpu':>6}",
    ]
    for name, mode in summary["modes"].items():
        lines.append(
            f"{name:<16}{mode['seconds']:>9.2f}{mode['stories_per_s']:>11.1f}"
            f"{mode['html_mb_per_s']:>8.2f}{mode['ms_per_story']:>10.1f}{mode['cpu_share']:>6.2f}"
        )
    lines += ["", "per-stage seconds"]
    for name, mode in summary["modes"].items():
        stages = ", ".join(f"{k} {v:.2f}" for k, v in mode["stages_s"].items() if v >= 0.01)
        if "overhead_s" in mode:
            stages += f"; not in any stage {mode['overhead_s']:.2f}"
        lines.append(f"  {name}: {stages}")
    lines.append("(cpu: CPU seconds per wall second; below 1 per worker, the machine was busy)")
    lines += ["", f"{'ratio':<30}{'value':>8}{'target':>10}  met"]
    for name, verdict in summary["ratios"].items():
        lines.append(
            f"{name:<30}{verdict['value']:>8.3f}{verdict['target']:>10}  "
            f"{'yes' if verdict['met'] else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages_dir", type=Path, help="folder of *.html.gz article pages")
    parser.add_argument("--repeat", type=int, default=3, help="list every page this many times")
    parser.add_argument("--feeds", type=int, default=8, help="number of feeds to spread them over")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="wirestream-bench-") as tmp:
        work = Path(tmp)
        corpus = build_corpus(args.pages_dir, work, args.repeat, args.feeds)
        _warm_up(corpus)
        modes: dict[str, Callable[[], dict]] = {
            "loop": lambda: run_loop(corpus, work / "loop"),
            "library": lambda: run_library(corpus),
            "beam": lambda: run_beam(corpus, work / "beam", ["--direct_num_workers=1"]),
            "beam_2_workers": lambda: run_beam(
                corpus,
                work / "beam2",
                ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
            ),
        }
        results = {}
        for name, mode in modes.items():
            print(f"running {name} ...", flush=True)
            before = _cpu_seconds()
            results[name] = mode()
            results[name]["cpu_seconds"] = _cpu_seconds() - before
    summary = summarise(corpus, results)
    loop_stories, beam_stories = results["loop"]["stories"], results["beam"]["stories"]
    summary["same_stories"] = loop_stories == beam_stories == results["beam_2_workers"]["stories"]
    print(format_table(summary))
    if not summary["same_stories"]:
        print(f"WARNING: story counts differ: loop {loop_stories}, beam {beam_stories}")
    if args.json:
        figures_json(summary, args.json, sort_keys=True)
        print(f"figures: {args.json}")
    return 0


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the multi-process workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _warm_up(corpus: dict) -> None:
    """Import and first-call costs (lxml, trafilatura, langdetect profiles) out of every timing."""
    import trafilatura

    trafilatura.bare_extraction("<html><body><p>" + "warm up " * 50 + "</p></body></html>")


if __name__ == "__main__":
    raise SystemExit(main())
