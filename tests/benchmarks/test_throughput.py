"""The benchmark measures like with like: its corpus runs through the pipeline's real source,
and the plain loop reaches the same outcomes as the Beam pipeline. (No timing checked here.)"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from benchmarks.throughput import build_corpus, format_table, run_beam, run_loop, summarise

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
    corpus = build_corpus(pages, tmp_path, repeat=2, feeds=3)
    assert corpus["pages"] == 2 * corpus["distinct_pages"] and corpus["feeds"] == 3
    loop = run_loop(corpus, tmp_path / "loop")
    beam = run_beam(corpus, tmp_path / "beam", ["--direct_num_workers=1"])
    assert beam["invariant_holds"] is True
    assert loop["entries"] == beam["entries"] == corpus["pages"]
    assert loop["outcomes"] == loop["entries"], "the loop lost or invented entries"
    assert beam["outcomes"] == beam["entries"]
    assert loop["stories"] == beam["stories"] > 0
    assert {"ExtractStories", "DetectLanguage"} <= set(beam["stages"])
    assert {"ExtractStories", "DetectLanguage", "WritePartitioned"} <= set(loop["stages"])

    results = {
        "loop": loop,
        "library": {"seconds": 1.0, "stages": {}},
        "beam": beam,
        "beam_2_workers": beam,
    }
    summary = summarise(corpus, results)
    assert set(summary["ratios"]) == {
        "beam_vs_loop",
        "two_workers_vs_one",
        "beam_cost_vs_library_calls",
    }
    assert "stories/s" in format_table(summary)
