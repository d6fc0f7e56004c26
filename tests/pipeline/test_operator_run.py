"""What an operator sees of a real run, through the CLI: progress lines while it runs, the run
report (identity, times, versions, typed settings), the HTML page drawn by a real headless
Chromium, typed Parquet, the published schema, and the README's read-back examples executed
against the demo's output."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipeline.report_html import render_html
from tests.pipeline.test_cli import REPO, cli

pytestmark = pytest.mark.slow

PROGRESS = re.compile(
    r"wirestream progress: (\d+) entries read, (\d+) pages fetched, (\d+) stories extracted, "
    r"(\d+) dead letters \(worker \d+, \d+ s\)"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, sample_runs) -> Path:
    """The bundled sample run twice, as JSON lines through the CLI (its stderr is what the
    operator sees) and as Parquet (the session's in-process run of the same ``run``, copied
    beside it: only its files are read)."""
    base = tmp_path_factory.mktemp("demo")
    env = {"WIRESTREAM_PROGRESS_SECONDS": "1"}
    jsonl = cli("--output", "output", cwd=base, env=env)
    (base / "jsonl.stderr").write_text(jsonl.stderr)
    assert jsonl.returncode == 0, jsonl.stderr[-3000:]
    shutil.copytree(sample_runs.shared("--format", "parquet") / "output", base / "output-parquet")
    return base


def report_of(root: Path) -> dict:
    return json.loads((root / "_run_report.json").read_text())


def test_progress_lines_come_from_the_workers_while_the_run_goes(demo: Path) -> None:
    lines = [m.groups() for m in PROGRESS.finditer((demo / "jsonl.stderr").read_text())]
    assert lines, "no progress line"
    entries = [int(line[0]) for line in lines]
    assert entries == sorted(entries) and max(entries) <= 8  # cumulative, never above the input
    stderr = (demo / "jsonl.stderr").read_text()
    assert "INFO apache_beam" not in stderr  # Beam stays at WARNING


def test_report_has_identity_times_versions_and_typed_settings(demo: Path) -> None:
    report = report_of(demo / "output")
    run = report["run"]
    assert run["run_id"] == "replay" == report["run_id"]
    assert run["started_at"] <= run["finished_at"] and run["duration_seconds"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run["started_at"])
    assert set(report["versions"]) == {"wirestream", "apache-beam", "trafilatura", "python"}
    settings = report["settings"]
    assert settings["partition_by"] == ["date", "lang"] and settings["shards"] == 1
    assert settings["stages"]["write"]["partition_by"] == ["date", "lang"]
    assert isinstance(settings["stages"]["language"]["threshold"], float)
    assert settings["flags"]["max_bytes"] == 5_000_000
    stages = report["stages"]
    assert stages["read feeds"]["outputs"] == 8  # feed entries
    assert report["invariant"]["entries_read"] == 8 + 3  # and the agency drop's items
    assert stages["fetch"]["outputs"] == report["counters"]["fetch_ok"]
    assert stages["extract"]["outputs"] == report["counters"]["extract_ok"]
    assert stages["dead letters"]["outputs"] == report["written"]["errors"]
    assert report["stories_per_language"] == {"en": report["written"]["stories"]}
    assert sum(report["stories_per_topic"].values()) == report["written"]["stories"]
    clusters = report["largest_clusters"]
    assert sum(len(c["copies"]) for c in clusters) == report["written"]["duplicates"]
    assert all(c["canonical"]["title"] for c in clusters)


def test_parquet_is_typed_and_every_output_reads_without_a_schema(demo: Path) -> None:
    root = demo / "output-parquet"
    published = json.loads((root / "_schema.json").read_text())
    for output in ("stories", "duplicates", "errors"):
        table = ds.dataset(root / output, format="parquet", partitioning="hive").to_table()
        assert table.num_rows == report_of(root)["written"][output]
        stamp = "at" if output == "errors" else "fetched_at"
        assert table.schema.field(stamp).type == pa.timestamp("us", tz="UTC")
        blob = base64.b64decode(published["outputs"][output]["arrow_ipc_base64"])
        schema = pa.ipc.read_schema(pa.py_buffer(blob))
        for path in root.joinpath(output).rglob("*.parquet"):
            assert pq.read_schema(path).equals(
                pa.schema([f for f in schema if f.name not in ("date", "lang")])
            )
    stories = ds.dataset(root / "stories", format="parquet", partitioning="hive").to_table()
    assert stories.schema.field("topics").type == pa.list_(pa.string())
    bigquery = {f["name"]: f for f in published["outputs"]["stories"]["bigquery"]}
    assert bigquery["published_at"]["type"] == "TIMESTAMP"
    assert bigquery["place_mentions"]["mode"] == "REPEATED"


def _readme_block(kind: str) -> str:
    text = (REPO / "README.md").read_text()
    found = re.search(rf"<!-- readback: {kind} -->\n```python\n(.*?)```", text, re.DOTALL)
    assert found, f"README has no {kind} read-back example"
    return found.group(1)


@pytest.mark.parametrize("kind, root", [("jsonl", "output"), ("parquet", "output-parquet")])
def test_readme_read_back_examples_run_on_the_demo_output(
    demo: Path, kind: str, root: str, monkeypatch
) -> None:
    pytest.importorskip("duckdb")
    pytest.importorskip("pandas")
    monkeypatch.chdir(demo)
    namespace: dict = {}
    exec(compile(_readme_block(kind), f"README ({kind})", "exec"), namespace)
    written = report_of(demo / root)["written"]
    assert namespace["stories"].num_rows == written["stories"]
    duplicates = namespace["duplicates"]
    rows = duplicates.num_rows if hasattr(duplicates, "num_rows") else duplicates.count_rows()
    assert rows == written["duplicates"]
    assert len(namespace["frame"]) == written["stories"]
    assert dict((lang, n) for lang, n, *_ in namespace["per_language"]) == {
        "en": written["stories"]
    }


# --------------------------------------------------------------------------- the HTML page


def chromium() -> str:
    names = ("chromium", "chromium-browser", "google-chrome")
    found = next((shutil.which(n) for n in names if shutil.which(n)), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    return found


def headless(page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={page.parent / 'chromium-profile'}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_html_report_is_self_contained_and_its_charts_draw(demo: Path, tmp_path: Path) -> None:
    from lxml import html as lxml_html

    page = demo / "output" / "_run_report.html"
    source = page.read_text()
    assert "<script" not in source and "<link" not in source and "@import" not in source
    assert not re.search(r"""(src|href)=["'](?!https?://[a-z.-]+\.example/)""", source)
    dom = headless(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    tree = lxml_html.fromstring(dom.stdout)
    charts = {c.get("data-chart"): c for c in tree.xpath("//div[@data-chart]")}
    assert {"stories per language", "dead letters by stage/reason"} <= set(charts)
    widths = [
        float(re.search(r"width:([\d.]+)%", fill.get("style")).group(1))
        for fill in charts["stories per language"].xpath(".//span[contains(@class, 'fill')]")
    ]
    assert widths and max(widths) == 100.0

    shot = tmp_path / "report.png"
    done = headless(page, f"--screenshot={shot}", "--window-size=1100,1800")
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    from PIL import Image

    pixels = Image.open(shot).convert("RGB").getdata()
    bar_blue = sum(1 for p in pixels if abs(p[0] - 59) < 8 and abs(p[1] - 111) < 8 and p[2] > 200)
    dead_red = sum(1 for p in pixels if p[0] > 190 and 55 < p[1] < 80 and 45 < p[2] < 70)
    assert bar_blue > 2000 and dead_red > 200  # the bars are drawn, not just in the DOM


HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_URL = 'https://x.example/"><img src=x onerror=alert(2)>'


def test_web_text_is_escaped_and_never_runs(demo: Path, tmp_path: Path) -> None:
    from lxml import html as lxml_html

    report = report_of(demo / "output")
    report["largest_clusters"] = [
        {
            "cluster_id": HOSTILE_TITLE,
            "canonical": {"title": HOSTILE_TITLE, "url": HOSTILE_URL},
            "copies": [
                {
                    "title": HOSTILE_TITLE,
                    "url": "javascript:alert(3)",
                    "reason": "near_duplicate",
                    "similarity": 0.91,
                }
            ],
        }
    ]
    report["feeds"] = [
        {
            "feed_url": HOSTILE_URL,
            "name": f"<b onmouseover=alert(4)>{HOSTILE_TITLE}</b>",
            "entries_listed": 3,
            "stories": 1,
            "duplicates": 1,
            "rejected": 0,
            "dead_letters": 1,
            "last_error": "<iframe src=//evil.example></iframe>",
            "last_success": None,
        }
    ]
    report["stories_per_topic"] = {HOSTILE_TITLE: 2}
    page = tmp_path / "hostile.html"
    page.write_text(render_html(report))
    dom = headless(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    tree = lxml_html.fromstring(dom.stdout)
    assert not tree.xpath("//script | //img | //iframe | //*[@onerror] | //*[@onmouseover]")
    assert not [a for a in tree.xpath("//a/@href") if not a.startswith("https://")]
    text = tree.text_content()
    assert HOSTILE_TITLE in text and "<iframe src=//evil.example></iframe>" in text
    assert HOSTILE_URL in text  # shown as text, the quote never closed the attribute
