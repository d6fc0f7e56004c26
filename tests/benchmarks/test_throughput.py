"""The benchmark measures like with like: its corpus runs through the pipeline's real source,
and the plain loop reaches the same outcomes as the Beam pipeline. (No timing checked here.)"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from benchmarks.throughput import (
    _TreeSampler,
    build_corpus,
    compile_package,
    confined,
    format_table,
    run_beam,
    run_floor,
    run_loop,
    summarise,
    tree_cpu_seconds,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pages(tmp_path_factory, sample_archive: Path) -> Path:
    """The bundled sample's article pages as *.html.gz, the layout the benchmark reads."""
    folder = tmp_path_factory.mktemp("pages")
    with sample_archive.open("rb") as handle:
        for i, record in enumerate(ArchiveIterator(handle)):
            kind = record.http_headers.get_header("Content-Type") if record.http_headers else ""
            if record.rec_type == "response" and "html" in (kind or ""):
                status = record.http_headers.get_statuscode()
                if status == "200":
                    (folder / f"page{i:03d}.html.gz").write_bytes(
                        gzip.compress(record.content_stream().read())
                    )
    assert len(list(folder.glob("*.html.gz"))) >= 5
    return folder


def test_loop_and_pipeline_reach_the_same_outcomes(pages: Path, tmp_path: Path) -> None:
    corpus = build_corpus(pages, tmp_path / "x2", repeat=2, feeds=3)
    assert corpus["pages"] == 2 * corpus["distinct_pages"] and corpus["feeds"] == 3
    assert build_corpus(pages, tmp_path / "lim", repeat=1, feeds=3, limit=2)["pages"] == 2
    loop = run_loop(corpus, tmp_path / "loop")
    beam = run_beam(corpus, tmp_path / "beam", ["--direct_num_workers=1"])
    assert beam["invariant_holds"] is True
    assert loop["entries"] == beam["entries"] == corpus["pages"]
    assert loop["outcomes"] == loop["entries"], "the loop lost or invented entries"
    assert beam["outcomes"] == beam["entries"]
    assert loop["stories"] == beam["stories"] > 0
    assert {"ExtractStories", "DetectLanguage"} <= set(beam["stages"])
    assert {"ExtractStories", "DetectLanguage", "WritePartitioned"} <= set(loop["stages"])
    floor = run_floor(corpus)
    assert floor["entries"] == corpus["pages"]
    assert {"trafilatura", "langdetect", "lingua", "minhash", "lxml"} <= set(floor["stages"])

    small = build_corpus(pages, tmp_path / "x1", repeat=1, feeds=3)
    measured = {"cpu_seconds": 0.0, "peak_rss_mb": 1.0, "load_average_1": [0.0, 0.0]}
    runs = {"floor": floor, "loop": loop, "beam": beam, "beam_2_workers": beam}
    by_process = {"launcher": [0.5], "worker": [0.7, 0.8]}
    results = {
        name: [
            {**run, **measured, "seconds": 1.0, "cpu_seconds": 2.0},
            {**run, **measured, "seconds": 2.0, "cpu_seconds": 2.0 + corpus["distinct_pages"]},
            {**run, **measured, "seconds": 1.0, "cpu_seconds": 1.5, "cpu_by_process": by_process},
        ]
        for name, run in runs.items()
    }
    summary = summarise([small, corpus], results)
    assert summary["modes"]["beam"]["marginal_cpu_ms_per_story"] == 1000.0
    assert summary["modes"]["beam"]["fixed_cpu_s"] == 2.0 - small["pages"] * 1.0
    # the cross-check: one page's run less one page's marginal cost
    assert summary["modes"]["beam"]["fixed_cpu_s_one_page"] == 0.5
    assert summary["modes"]["beam_2_workers"]["cpu_by_process"] == {"one_page": by_process}
    assert {"marginal_cpu_vs_floor", "beam_vs_loop", "two_workers_cpu_vs_one"} <= set(
        summary["ratios"]
    )
    assert "marginal ms" in format_table(summary)


def test_tree_cpu_counts_a_live_child_that_was_never_reaped() -> None:
    """The flaw the old benchmark had: RUSAGE_CHILDREN misses children still running."""
    script = (
        "import time, sys\n"
        "while time.process_time() < 0.5: pass\n"
        "print('spent', flush=True)\n"
        "time.sleep(60)\n"
    )
    before = tree_cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "spent"
        assert tree_cpu_seconds() - before >= 0.45
    finally:
        child.kill()
        child.wait()


def test_tree_sampler_reports_each_process_own_cpu_by_role() -> None:
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import time\\nwhile time.process_time() < 0.4: pass'])\n"
        "while time.process_time() < 0.3: pass\n"
        "child.wait()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    sampler = _TreeSampler(process.pid, every=0.02)
    process.wait()
    sampler.stop()
    roles = sampler.cpu_by_role()
    assert roles["launcher"][0] >= 0.2  # its own time only, not its child's
    assert roles["launcher"][0] < 0.6
    assert roles["other"][0] >= 0.2


def test_compile_package_writes_bytecode_for_every_module() -> None:
    import importlib.util

    import transforms.tags.gazetteer_index as module

    compile_package()
    assert Path(importlib.util.cache_from_source(module.__file__)).is_file()


def test_confined_children_and_their_children_use_only_the_given_cores() -> None:
    script = (
        "import os, subprocess, sys\n"
        "print(sorted(os.sched_getaffinity(0)))\n"
        "subprocess.run([sys.executable, '-c', "
        "'import os; print(sorted(os.sched_getaffinity(0)))'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], preexec_fn=confined({0}), capture_output=True, text=True
    ).stdout
    assert out.split() == ["[0]", "[0]"]
    assert confined(None) is None
