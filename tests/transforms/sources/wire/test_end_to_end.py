"""``python -m pipeline --wire_input DIR`` end to end (batch, with and without --feeds, and
streaming): every item accounted for in the run report, files read once across scheduled runs,
a newer version of a stored guid written again under the same story id, withdrawals listed."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from pipeline.__main__ import run
from tests.transforms.sources.wire.test_hostile import XXE
from tests.transforms.sources.wire.wirefiles import ITEMS, g2_file, g2_item, g2_message
from transforms.core.records import story_id_for
from transforms.core.schema import validate

GUID = "urn:newsml:example.net:20240502:rotterdam-strike"
KILLED = "urn:newsml:example.net:20240502:ferry-fire"
SAMPLE_WIRE = Path(__file__).resolve().parents[4] / "transforms" / "data" / "sample" / "wire"
FERRY = [
    "A fire broke out on a passenger ferry in the port on Thursday morning, and all two hundred "
    "passengers were brought ashore safely, the coast guard said.",
    "Firefighters had the blaze in the engine room under control within an hour.",
]


def drop(folder: Path, name: str, data: bytes, mtime: int = 1_714_640_000) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def records(root: Path, output: str) -> list[dict]:
    found = []
    for path in sorted((root / output).rglob("part-*.jsonl.gz")):
        found += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return found


def report(root: Path) -> dict:
    return json.loads((root / "_run_report.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("wire")
    folder, state = tmp / "drop", tmp / "state"
    drop(folder, "exn-1.xml", g2_file(version=1))
    drop(folder, "exn-2.xml", g2_file(version=2, version_created="2024-05-02T12:00:00+02:00"))
    drop(
        folder,
        "batch.xml",
        g2_message(
            g2_item(guid=KILLED, version=1, headline="Ferry fire in port", body=FERRY * 2),
            g2_item(guid=KILLED, version=2, status="stat:canceled", headline="KILL"),
            g2_item(guid="urn:photo", item_class="ninat:picture"),
        ),
    )
    drop(folder, "ninjs/photo.json", (ITEMS / "ninjs3-picture.json").read_bytes())
    drop(folder, "ninjs/harbour.json", (ITEMS / "ninjs1-text.json").read_bytes())
    drop(folder, "evil.xml", XXE)
    drop(folder, "upload.xml.part", b"<newsItem")
    common = ["--wire_input", str(folder), "--state_location", str(state)]
    first = tmp / "run1"
    code1 = run([*common, "--output", str(first), "--run_date", "2024-05-02"])
    # The next hour: a corrected third version of the strike story and the finished upload.
    correction = g2_file(
        version=3,
        version_created="2024-05-02T14:00:00+02:00",
        headline="Rotterdam dock strike ends with wage deal (corrects wage figures)",
        body=[
            "ROTTERDAM, May 2 (EXN) - Dock workers at the port of Rotterdam ended a two-day "
            "strike on Thursday after unions and employers agreed on a new wage deal.",
            "The agreement raises wages by four percent this year and another three percent "
            "next year, and adds two days of paid leave for night shifts.",
            "Container traffic is expected to be back to normal by the weekend.",
        ],
    )
    drop(folder, "exn-3.xml", correction, mtime=1_714_650_000)
    (folder / "upload.xml.part").rename(folder / "upload.xml")
    second = tmp / "run2"
    code2 = run([*common, "--output", str(second), "--run_date", "2024-05-02T14"])
    return {"first": (first, code1), "second": (second, code2)}


def test_first_run_accounts_for_every_item(runs) -> None:
    out, code = runs["first"]
    assert code == 0
    inv = report(out)["invariant"]
    # exn-1, exn-2, three in the message, two ninjs files, the hostile file
    assert inv["holds"] and inv["entries_read"] == 8
    assert (inv["stories"], inv["duplicates"], inv["rejected"], inv["dead_letters"]) == (2, 0, 5, 1)
    counters = report(out)["counters"]
    assert counters["wire_items_read"] == 8 and counters["wire_files_read"] == 6
    assert counters["wire_files_in_flight"] == 1


def test_first_run_records_and_schema(runs) -> None:
    out, _ = runs["first"]
    stories = {r["wire_guid"]: r for r in records(out, "stories")}
    assert set(stories) == {GUID, "http://example.com/wire/ninjs1-harbour-reopens"}
    strike = stories[GUID]
    assert strike["story_id"] == story_id_for(GUID) and strike["wire_version"] == 2
    assert strike["source_format"] == "newsml-g2" and strike["agency"] == "Example News"
    assert strike["subjects"] == ["medtop:20000763", "medtop:09000000"]
    assert strike["language"] == "en"
    for output in ("stories", "rejected", "errors"):
        for record in records(out, output):
            assert validate(output, record) == []
    reasons = sorted(r["reason"] for r in records(out, "rejected"))
    assert reasons == ["not_text", "not_text", "superseded", "superseded", "withdrawn"]
    (dead,) = records(out, "errors")
    assert dead["reason"] == "hostile_xml" and dead["stage"] == "wire"


def test_withdrawn_items_are_listed_in_the_report(runs) -> None:
    out, _ = runs["first"]
    (withdrawn,) = report(out)["withdrawn"]
    assert withdrawn["wire_guid"] == KILLED and withdrawn["story_id"] == story_id_for(KILLED)
    page = (out / "_run_report.html").read_text()
    assert "Withdrawn agency items" in page and KILLED in page


def test_second_run_reads_only_new_files(runs) -> None:
    out, code = runs["second"]
    assert code == 0
    rep = report(out)
    assert rep["invariant"]["holds"] and rep["invariant"]["entries_read"] == 2
    assert rep["counters"]["wire_files_read"] == 2  # the correction and the finished upload
    assert rep["counters"]["wire_files_seen_before"] == 6
    (dead,) = records(out, "errors")
    assert dead["reason"] == "bad_xml"  # the upload was truncated for good


def test_newer_version_of_a_stored_guid_is_written_again_under_its_id(runs) -> None:
    out, _ = runs["second"]
    (story,) = records(out, "stories")
    assert story["story_id"] == story_id_for(GUID) and story["wire_version"] == 3
    assert "four percent" in story["text"]
    assert story["cluster_id"] == story["story_id"]  # one story, not a near-duplicate of v2
    assert not records(out, "duplicates")


def test_wire_and_feeds_together_agency_item_is_canonical(tmp_path, sample_feeds, sample_archive):
    folder = tmp_path / "drop"
    shutil.copytree(SAMPLE_WIRE, folder)
    out = tmp_path / "out"
    code = run(
        [
            "--feeds",
            str(sample_feeds),
            "--replay",
            str(sample_archive),
            "--wire_input",
            str(folder),
            "--output",
            str(out),
        ]
    )
    assert code == 0
    rep = report(out)
    assert rep["invariant"]["holds"]
    assert rep["counters"]["wire_items_read"] == 3
    canonicals = {r["story_id"]: r for r in records(out, "stories")}
    tass = [r for r in canonicals.values() if r["source_format"] != "html"]
    assert sorted(r["source_format"] for r in tass) == ["newsml-g2", "ninjs-2"]
    assert all(r["agency"] == "TASS" for r in tass)
    copies = [r for r in records(out, "duplicates") if "eastwire.example" in r["url"]]
    assert len(copies) == 2
    for copy in copies:
        assert canonicals[copy["duplicate_of"]]["source_format"] in ("newsml-g2", "ninjs-2")


@pytest.mark.slow
def test_streaming_watches_the_folder(tmp_path) -> None:
    folder = tmp_path / "drop"
    shutil.copytree(SAMPLE_WIRE, folder)
    drop(folder, "evil.xml", XXE)
    out = tmp_path / "out"
    code = run(
        [
            "--streaming",
            "--wire_input",
            str(folder),
            "--output",
            str(out),
            "--run_id",
            "live",
            "--wire_poll_seconds",
            "1",
            "--window_minutes",
            "0.1",
            "--allowed_lateness_minutes",
            "1",
            "--stream_duration_seconds",
            "6",
        ]
    )
    assert code == 0
    rep = report(out)
    assert rep["invariant"]["holds"] and rep["invariant"]["entries_read"] == 4
    assert rep["windows"]
    assert sorted(r["wire_version"] for r in records(out, "stories")) == [1, 2]
    assert [r["reason"] for r in records(out, "rejected")] == ["superseded"]
    assert [r["reason"] for r in records(out, "errors")] == ["hostile_xml"]


def test_missing_wire_folder_is_exit_2_before_any_output(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert run(["--wire_input", str(tmp_path / "nope"), "--output", str(out)]) == 2
    assert "--wire_input" in capsys.readouterr().err
    assert not out.exists() or not any(out.rglob("*.*"))


def test_damaged_wire_state_is_exit_2_before_any_output(tmp_path, capsys) -> None:
    folder, state, out = tmp_path / "drop", tmp_path / "state", tmp_path / "out"
    drop(folder, "exn-1.xml", g2_file())
    (state / "wire").mkdir(parents=True)
    (state / "wire" / "wire-state-20240501T000000Z.jsonl").write_bytes(b'{"v": 1, "file": "x')
    args = ["--wire_input", str(folder), "--state_location", str(state), "--output", str(out)]
    assert run([*args, "--run_date", "2024-05-02"]) == 2
    assert "wire-state-20240501T000000Z" in capsys.readouterr().err
    assert not out.exists() or not any(out.rglob("*.*"))
