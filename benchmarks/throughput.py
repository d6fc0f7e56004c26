"""Per-story cost of the pipeline against the floor of the same library calls, measured as CPU.

    python -m benchmarks.throughput DIR [--limit N] [--feeds 8] [--modes ...] [--json OUT]

DIR holds real article pages (``*.html.gz``, e.g. ../shared/data/article-extraction-benchmark/
html), the first ``--limit`` of them if given. They are packed into WARC archives with feeds
listing them, so every mode reads its input through the pipeline's real source (the feed list and
``--replay``). Two corpora are built: the pages once and three times (the copies, under other
URLs, become same-text duplicates, as syndicated wire copy does).

Modes, each run once per corpus in a fresh interpreter (so start-up is part of what is measured),
after one discarded warm-up run on one page (the first run of a mode reads its libraries from a
cold cache: on a freshly booted machine that once added about 5 s of CPU to the small corpus of
two modes, and 1.5 times that to their fixed cost), and again on one page:

* ``floor``: only the library calls the stages exist to make, on the same pages: lxml parse,
  ``trafilatura.extract`` with its defaults, langdetect and lingua on the same text length as the
  language stage reads, the MinHash signature of the text, feedparser on the feeds;
* ``loop``: the stage functions and DoFns called one page after another, no runner;
* ``beam``: ``build_pipeline`` on the DirectRunner, one worker, in-process;
* ``beam_2_workers``: the same on the multi-process DirectRunner with two worker processes.

What is measured, and why:

* **CPU of the whole process tree**: the run's own time, its reaped children's, and that of
  every descendant still alive when the work ends (``/proc/<pid>/stat``: DirectRunner worker
  processes, the extraction child). ``RUSAGE_CHILDREN`` alone misses children not yet reaped.
* **Marginal CPU per story** from the two corpus sizes: (CPU(3n) - CPU(n)) / 2n. This is what
  a story costs once the workers run; **fixed CPU** is what is left at n (imports, pipeline
  construction, worker and model start-up), paid once per run or per worker. The intercept
  carries any difference between the two runs (load) 1.5 times, so it is checked against a
  direct figure: the run on one page less one page's marginal cost (``fixed_cpu_s_one_page``).
* **Own CPU of each process** (``cpu_by_process``: the launcher, each DirectRunner worker, the
  extraction child), sampled every 0.1 s: how the fixed cost splits between the run and each
  worker, and what a second worker adds.
* The pipeline's packages are byte-compiled first (``compile_package``), as installing them does:
  the development install never writes ``.pyc`` files, and each measured process would otherwise
  compile the pipeline's modules again.
* **Peak RSS** of the process tree (sum over its live processes, sampled every 0.1 s).
* Wall-clock seconds stay in the figures, labelled with the machine's load average: on a shared
  machine they say how busy it was, not what the pipeline costs.

Ratios (targets of issue 17): ``marginal_cpu_vs_floor`` (Beam, one worker, marginal over the
floor's marginal), ``beam_vs_loop`` (marginal), ``two_workers_cpu_vs_one`` (CPU per story of the
whole run on the larger corpus, two workers over one). Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
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
MODES = ("floor", "loop", "beam", "beam_2_workers")
REPEATS = (1, 3)
TARGETS = {
    "marginal_cpu_vs_floor": 1.3,
    "beam_vs_loop": 1.05,
    "two_workers_cpu_vs_one": 1.15,
    "fixed_cpu_s_per_worker": 3.0,
    "peak_rss_mb_one_worker": 600.0,
}


# ---------------------------------------------------------------- corpus


def build_corpus(
    pages_dir: Path, workdir: Path, repeat: int = 1, feeds: int = 8, limit: int | None = None
) -> dict:
    """Write ``feeds.yaml`` and ``bench.warc`` (feeds + pages) under workdir; return a summary."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    workdir.mkdir(parents=True, exist_ok=True)
    paths = sorted(pages_dir.glob("*.html.gz"))[:limit]
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
    """CPU seconds of this process per named stage (the loop and the floor run in one thread)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            yield
        finally:
            self.seconds[name] += time.process_time() - start


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


# ---------------------------------------------------------------- floor: the library calls only


def run_floor(corpus: dict) -> dict:
    """The calls the stages exist to make, on the same pages and text lengths: the floor."""
    import feedparser
    import lxml.html
    import trafilatura
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
    from langdetect.lang_detect_exception import LangDetectException
    from lingua import LanguageDetectorBuilder
    from warcio.archiveiterator import ArchiveIterator

    from transforms.dedup.minhash import MinHashConfig, MinHasher
    from transforms.language.identifier import LangIdConfig

    start = time.perf_counter()
    clock = _Clock()
    with clock.stage("setup"):
        factory = DetectorFactory()
        factory.load_profile(PROFILES_DIRECTORY)
        factory.seed = 0
        lingua = LanguageDetectorBuilder.from_all_languages().build()
        hasher = MinHasher(MinHashConfig())
        sample_chars = LangIdConfig().max_chars
    pages = 0
    with open(corpus["warc_path"], "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            kind = record.http_headers.get_header("Content-Type") or ""
            body = record.content_stream().read()
            if "rss" in kind:
                with clock.stage("feedparser"):
                    feedparser.parse(body)
                continue
            pages += 1
            with clock.stage("decode"):
                html = body.decode("utf-8", errors="replace")
            with clock.stage("lxml"):
                lxml.html.document_fromstring(html)
            with clock.stage("trafilatura"):
                text = trafilatura.extract(html) or ""
            sample = " ".join(text.split())[:sample_chars]
            if len(sample) >= 20:
                with clock.stage("langdetect"):
                    detector = factory.create()
                    detector.set_max_text_length(sample_chars)
                    detector.append(sample)
                    with contextlib.suppress(LangDetectException):  # "no features"; still timed
                        detector.get_probabilities()
                with clock.stage("lingua"):
                    lingua.compute_language_confidence_values(sample)
            with clock.stage("minhash"):
                hasher.signature(hasher.shingle_hashes(text))
    return {
        "seconds": time.perf_counter() - start,
        "entries": pages,
        "stories": pages,
        "stages": dict(clock.seconds),
    }


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


# ---------------------------------------------------------------- the process tree

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds of the process and its reaped children, RSS bytes)."""
    found = _stat_own(pid)
    return None if found is None else found[:3]


def _stat_own(pid: int) -> tuple[int, float, int, float] | None:
    """``_stat`` and the process's own CPU seconds (without its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5): ppid=4, utime=14, stime=15, cutime=16, cstime=17, rss=24
    own = (int(fields[11]) + int(fields[12])) / _TICK
    cpu = own + (int(fields[13]) + int(fields[14])) / _TICK
    return int(fields[1]), cpu, int(fields[21]) * _PAGE, own


def _tree(root: int) -> dict[int, tuple[float, int]]:
    """CPU and RSS of ``root`` and of every live descendant."""
    stats: dict[int, tuple[int, float, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                stats[int(entry)] = found
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _cpu, _rss) in stats.items():
        children[ppid].append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in tree:
            tree[pid] = stats[pid][1:]
            todo += children.get(pid, [])
    return tree


def tree_cpu_seconds(root: int | None = None) -> float:
    """CPU of a process tree: each live process with its reaped children (a reaped process's
    time is in its reaper's ``cutime``/``cstime``, a live one's only in its own ``stat``)."""
    if not Path("/proc/self/stat").exists():  # not Linux: this process and its reaped children
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
    return sum(cpu for cpu, _rss in _tree(root or os.getpid()).values())


def _role(pid: int, root: int) -> str:
    """What a process of the measured tree is, from its command line."""
    if pid == root:
        return "launcher"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "other"
    command = " ".join(argv)
    if Path(argv[0]).name in ("sh", "dash", "bash"):
        return "other"  # the shell Beam starts a worker through
    if "sdk_worker_main" in command:
        return "worker"
    if "transforms.extract.sandbox" in command:
        return "extraction_child"
    return "other"


class _TreeSampler:
    """Peak of the summed RSS of a process tree, and each process's own CPU, sampled on a thread
    of the parent every ``every`` seconds (a process's last sample is up to that long before it
    ends, so its CPU is a slight undercount)."""

    def __init__(self, root: int, every: float = 0.1) -> None:
        self.root, self.every, self.peak = root, every, 0
        self.own_cpu: dict[int, float] = {}
        self.roles: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = _tree(self.root)
            if not tree:
                return
            self.peak = max(self.peak, sum(rss for _cpu, rss in tree.values()))
            for pid in tree:
                found = _stat_own(pid)
                if found is not None:
                    self.own_cpu[pid] = found[3]
                    if pid not in self.roles:
                        self.roles[pid] = _role(pid, self.root)
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def cpu_by_role(self) -> dict[str, list[float]]:
        """Own CPU seconds per process, grouped by role, in start order."""
        grouped: dict[str, list[float]] = defaultdict(list)
        for pid in sorted(self.own_cpu):
            grouped[self.roles.get(pid, "other")].append(round(self.own_cpu[pid], 2))
        return dict(grouped)


# ---------------------------------------------------------------- one mode, one corpus


def run_mode(mode: str, corpus: dict, output: Path) -> dict:
    """Run one mode in this process; its CPU is the tree's when the work is done."""
    if mode == "floor":
        result = run_floor(corpus)
    elif mode == "loop":
        result = run_loop(corpus, output)
    elif mode == "beam":
        result = run_beam(corpus, output, ["--direct_num_workers=1"])
    elif mode == "beam_2_workers":
        workers = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
        result = run_beam(corpus, output, workers)
    else:
        raise ValueError(f"unknown mode {mode!r}")
    result["cpu_seconds"] = tree_cpu_seconds()
    return result


def confined(cpus: set[int] | None) -> Callable[[], None] | None:
    """What a child runs before its program so that it, and all it starts, use only ``cpus``."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def measure(mode: str, corpus: dict, output: Path, cpus: set[int] | None = None) -> dict:
    """One mode on one corpus in a fresh interpreter, with its tree's peak RSS and CPU.

    ``cpus``: the cores the run and every process it starts may use (``--cpus``).
    """
    result_path = output.parent / f"{output.name}.result.json"
    command = [sys.executable, "-m", "benchmarks.throughput", "--run-mode", mode]
    command += [
        "--corpus",
        json.dumps(corpus),
        "--output",
        str(output),
        "--result",
        str(result_path),
    ]
    load_before = os.getloadavg()
    start = time.perf_counter()
    process = subprocess.Popen(command, preexec_fn=confined(cpus))
    sampler = _TreeSampler(process.pid)
    code = process.wait()
    peak = sampler.stop()
    if code != 0:
        raise SystemExit(f"{mode} on {corpus['pages']} pages failed with exit code {code}")
    result = json.loads(result_path.read_text())
    result["wall_seconds_with_startup"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak / 2**20
    result["cpu_by_process"] = sampler.cpu_by_role()
    result["load_average_1"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    return result


# ---------------------------------------------------------------- report


def summarise(corpora: list[dict], results: dict[str, list[dict]]) -> dict:
    """Marginal and fixed CPU per mode from the two corpus sizes, and the target ratios."""
    small, large = corpora
    extra = large["pages"] - small["pages"]
    modes: dict[str, dict] = {}
    for name, (one, three, *single) in results.items():
        marginal = (three["cpu_seconds"] - one["cpu_seconds"]) / extra
        page = single[0] if single else None
        modes[name] = {
            "marginal_cpu_ms_per_story": round(1000 * marginal, 2),
            "fixed_cpu_s": round(one["cpu_seconds"] - marginal * small["pages"], 2),
            # the cross-check: a run on one page, less one page's marginal cost
            **(
                {"fixed_cpu_s_one_page": round(page["cpu_seconds"] - marginal, 2)}
                if page is not None
                else {}
            ),
            "cpu_by_process": {
                label: run["cpu_by_process"]
                for label, run in (("one_page", page), ("small", one), ("large", three))
                if run is not None and "cpu_by_process" in run
            },
            "cpu_s": [round(one["cpu_seconds"], 2), round(three["cpu_seconds"], 2)],
            "cpu_ms_per_story": round(1000 * three["cpu_seconds"] / large["pages"], 2),
            "peak_rss_mb": round(max(one["peak_rss_mb"], three["peak_rss_mb"]), 1),
            "wall_s": [round(one["seconds"], 2), round(three["seconds"], 2)],
            "load_average_1": [one["load_average_1"], three["load_average_1"]],
            "stages_s": {k: round(v, 3) for k, v in three.get("stages", {}).items()},
            **{k: three[k] for k in ("stories", "outcomes", "invariant_holds") if k in three},
        }
    ratios: dict[str, float] = {}

    def marginal_of(name: str) -> float:
        return modes[name]["marginal_cpu_ms_per_story"]

    if "floor" in modes and "beam" in modes:
        ratios["marginal_cpu_vs_floor"] = marginal_of("beam") / marginal_of("floor")
    if "floor" in modes and "loop" in modes:
        ratios["loop_marginal_cpu_vs_floor"] = marginal_of("loop") / marginal_of("floor")
    if "loop" in modes and "beam" in modes:
        ratios["beam_vs_loop"] = marginal_of("beam") / marginal_of("loop")
    if "beam" in modes and "beam_2_workers" in modes:
        one, two = modes["beam"], modes["beam_2_workers"]
        ratios["two_workers_cpu_vs_one"] = two["cpu_ms_per_story"] / one["cpu_ms_per_story"]
        two["extra_worker_fixed_cpu_s"] = round(two["fixed_cpu_s"] - one["fixed_cpu_s"], 2)
    measured = {k: round(v, 3) for k, v in ratios.items()}
    if "beam" in modes:
        measured["fixed_cpu_s_per_worker"] = modes["beam"]["fixed_cpu_s"]
        measured["peak_rss_mb_one_worker"] = modes["beam"]["peak_rss_mb"]
    verdicts = {
        name: {"value": measured[name], "target": f"<= {target}", "met": measured[name] <= target}
        for name, target in TARGETS.items()
        if name in measured
    }
    return {
        "corpus": {
            "pages": [small["pages"], large["pages"]],
            "distinct_pages": small["distinct_pages"],
            "feeds": small["feeds"],
            "html_bytes": [small["html_bytes"], large["html_bytes"]],
        },
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": list(os.getloadavg())},
        "modes": modes,
        "ratios": measured,
        "targets": verdicts,
    }


def format_table(summary: dict) -> str:
    small, large = summary["corpus"]["pages"]
    lines = [
        f"{small} and {large} pages ({summary['corpus']['html_bytes'][0] / 1e6:.1f} MB of HTML "
        f"once) in {summary['corpus']['feeds']} feeds; {summary['machine']['cpus']} CPUs"
        + (
            f", every run confined to core(s) {summary['machine']['cpus_used']}"
            if summary["machine"].get("cpus_used", "all") != "all"
            else ""
        ),
        "",
        f"{'mode':<16}{'marginal ms':>12}{'fixed s':>9}{'1 page s':>9}{'ms/story':>10}"
        f"{'peak MB':>9}{'wall s':>16}  load",
    ]
    for name, mode in summary["modes"].items():
        wall = "/".join(f"{w:.1f}" for w in mode["wall_s"])
        load = "/".join(f"{pair[0]:.1f}" for pair in mode["load_average_1"])
        one_page = mode.get("fixed_cpu_s_one_page")
        lines.append(
            f"{name:<16}{mode['marginal_cpu_ms_per_story']:>12.1f}{mode['fixed_cpu_s']:>9.2f}"
            f"{'' if one_page is None else f'{one_page:.2f}':>9}"
            f"{mode['cpu_ms_per_story']:>10.1f}{mode['peak_rss_mb']:>9.0f}{wall:>16}  {load}"
        )
    lines += ["", "own CPU seconds per process (one page / small / large corpus)"]
    for name, mode in summary["modes"].items():
        runs = mode.get("cpu_by_process", {})
        parts = [
            f"{role} " + " / ".join(str(runs[label].get(role, "-")) for label in runs)
            for role in ("launcher", "worker", "extraction_child", "other")
            if any(role in run for run in runs.values())
        ]
        lines.append(f"  {name}: " + "; ".join(parts))
    lines += ["", "CPU seconds per stage (larger corpus; Beam: its execution-time metrics)"]
    for name, mode in summary["modes"].items():
        stages = ", ".join(f"{k} {v:.2f}" for k, v in mode["stages_s"].items() if v >= 0.01)
        lines.append(f"  {name}: {stages}")
    lines.append("(wall seconds are context only: the machine is shared, see the load average)")
    lines += ["", f"{'ratio':<28}{'value':>8}{'target':>10}  met"]
    for name, value in summary["ratios"].items():
        verdict = summary["targets"].get(name)
        target = verdict["target"] if verdict else ""
        met = ("yes" if verdict["met"] else "NO") if verdict else ""
        lines.append(f"{name:<28}{value:>8.3f}{target:>10}  {met}")
    return "\n".join(lines)


def compile_package() -> None:
    """Byte-compile the pipeline's packages, as installing them does.

    An editable install run with ``PYTHONDONTWRITEBYTECODE`` (this project's development
    machines) never writes ``.pyc`` files, so every measured process (the run, each worker, the
    extraction child) would compile every module of the pipeline again, 0.15-0.25 s of CPU each,
    which no installed worker pays; the libraries' own files are compiled at install time.
    """
    import compileall
    import importlib.util

    for package in ("pipeline", "transforms"):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(location, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages_dir", type=Path, nargs="?", help="folder of *.html.gz pages")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pages")
    parser.add_argument("--feeds", type=int, default=8, help="number of feeds to spread them over")
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated subset of {', '.join(MODES)}"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--cpus",
        default=None,
        help="comma-separated cores every measured process is confined to (e.g. 0): with one "
        "core, two workers never run at once, which separates the work a second worker adds "
        "from the contention of two processes running together on a shared machine",
    )
    parser.add_argument("--run-mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_mode:  # the measured child: one mode, one corpus
        result = run_mode(args.run_mode, json.loads(args.corpus), args.output)
        result.pop("story_ids", None)
        args.result.write_text(json.dumps(result))
        return 0
    if args.pages_dir is None:
        parser.error("DIR is required")
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")

    cpus = {int(core) for core in args.cpus.split(",")} if args.cpus else None
    compile_package()
    with tempfile.TemporaryDirectory(prefix="wirestream-bench-") as tmp:
        work = Path(tmp)
        corpora = [
            build_corpus(args.pages_dir, work / f"x{r}", r, args.feeds, args.limit) for r in REPEATS
        ]
        one_page = build_corpus(args.pages_dir, work / "one", 1, args.feeds, 1)
        results: dict[str, list[dict]] = {}
        for name in modes:
            # Warm-up, discarded: the first run of a mode reads its libraries from a cold cache
            # (and charges the kernel's work to the run), which would inflate the small corpus
            # and so the fixed cost, by seconds on a freshly booted machine.
            print(f"warming up {name} on 1 page ...", flush=True)
            measure(name, one_page, work / f"{name}-warm-up", cpus)
            results[name] = []
            for label, corpus in (*zip(REPEATS, corpora, strict=True), ("one", one_page)):
                print(f"running {name} on {corpus['pages']} pages ...", flush=True)
                results[name].append(measure(name, corpus, work / f"{name}-x{label}", cpus))
    summary = summarise(corpora, results)
    summary["machine"]["cpus_used"] = sorted(cpus) if cpus else "all"
    stories = {name: runs[1]["stories"] for name, runs in results.items() if name != "floor"}
    summary["same_stories"] = len(set(stories.values())) <= 1
    print(format_table(summary))
    if not summary["same_stories"]:
        print(f"WARNING: story counts differ between modes: {stories}")
    if args.json:
        figures_json(summary, args.json, sort_keys=True)
        print(f"figures: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
