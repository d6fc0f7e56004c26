"""The wire stage's DoFns on a real folder: versions, kills, non-text, hostile files, files still
being written; and the Story mapping (cleaning, dateline, identity). The graph itself runs end to
end in test_end_to_end.py."""

from __future__ import annotations

import os
from pathlib import Path

import apache_beam as beam
import pytest

from tests.transforms.sources.wire.test_hostile import XXE
from tests.transforms.sources.wire.wirefiles import BODY, ITEMS, g2_file, g2_item, g2_message
from transforms.core.records import DeadLetter, Rejected, Story, story_id_for
from transforms.sources.wire.stage import (
    ChooseVersionFn,
    ReadWireFileFn,
    ReadWireItems,
    WireConfig,
    in_flight,
    list_files,
)
from transforms.sources.wire.story import Envelope, TextConfig, WireFile, choose_version, decide

GUID = "urn:newsml:example.net:20240502:rotterdam-strike"
KILLED = "urn:newsml:example.net:20240502:ferry-fire"


def drop(folder: Path, name: str, data: bytes, mtime: int = 1_714_640_000) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "drop"
    drop(root, "exn-1.xml", g2_file(version=1, body=BODY[:2]))
    drop(root, "sub/exn-2.xml", g2_file(version=2, version_created="2024-05-02T12:00:00+02:00"))
    drop(root, "exn-2-again.xml", g2_file(version=2, version_created="2024-05-02T12:00:00+02:00"))
    drop(
        root,
        "batch.xml",
        g2_message(
            g2_item(guid=KILLED, version=1, headline="Ferry fire in port"),
            g2_item(guid=KILLED, version=2, status="stat:canceled", headline="KILL"),
            g2_item(guid="urn:photo", item_class="ninat:picture"),
        ),
    )
    drop(root, "photo.json", (ITEMS / "ninjs3-picture.json").read_bytes())
    drop(root, "evil.xml", XXE)
    drop(root, "upload.xml.part", b"<newsItem")
    drop(root, ".hidden.xml", b"<newsItem")
    return root


def _run(config: WireConfig, files: list[WireFile]) -> dict[str, list]:
    """The stage's DoFns called directly, grouped by guid as the GroupByKey would."""
    results: dict[str, list] = {"ok": [], "rejected": [], "dead": [], "read": []}
    groups: dict[str, list[Envelope]] = {}
    reader = ReadWireFileFn(config.max_file_bytes)
    for file in files:
        for out in reader.process(file):
            if isinstance(out, beam.pvalue.TaggedOutput):
                results[out.tag].append(out.value)
            else:
                groups.setdefault(out[0], []).append(out[1])
    chooser = ChooseVersionFn(config.text)
    for guid in sorted(groups):
        for out in chooser.process((guid, groups[guid])):
            if isinstance(out, beam.pvalue.TaggedOutput):
                results[out.tag].append(out.value)
            else:
                results["ok"].append(out)
    return results


def test_versions_kills_non_text_and_hostile_files(folder: Path) -> None:
    config = WireConfig(input=str(folder), text=TextConfig(min_chars=50))
    stage = ReadWireItems(config)
    assert len(stage.files) == 6 and len(stage.in_flight) == 2
    results = _run(config, stage.files)

    (story,) = results["ok"]
    assert isinstance(story, Story)
    assert story.story_id == story_id_for(GUID) and story.wire_guid == GUID
    assert story.wire_version == 2 and story.source_format == "newsml-g2"
    assert story.url == story.canonical_url == GUID
    assert story.agency == "Example News" and story.authors == ("Pieter de Vries",)
    assert story.dateline_place == "Rotterdam" and story.dateline_date == "2024-05-02"
    assert story.subjects == ("medtop:20000763", "medtop:09000000")
    assert story.text.startswith("Dock workers")  # the dateline went to fields
    assert story.published_at == "2024-05-02T09:00:00Z"
    assert story.fetched_at == "2024-05-02T10:00:00Z"  # versionCreated of the kept version
    assert story.site == "example.net" and story.text_source == "wire"
    assert story.page_language == "en"

    by_reason: dict[str, list[Rejected]] = {}
    for r in results["rejected"]:
        by_reason.setdefault(r.reason, []).append(r)
    assert sorted(by_reason) == ["not_text", "superseded", "withdrawn"]
    superseded = by_reason["superseded"]
    assert len(superseded) == 3  # v1 of the strike, its second v2 delivery, v1 of the fire
    assert {r.duplicate_of for r in superseded} == {story_id_for(GUID), story_id_for(KILLED)}
    assert any("same version delivered again" in r.detail for r in superseded)
    (withdrawn,) = by_reason["withdrawn"]
    assert withdrawn.wire_guid == KILLED and withdrawn.story_id == story_id_for(KILLED)
    photo = "urn:newsml:example.de:20240307:bahn-streik-foto"
    assert {r.url for r in by_reason["not_text"]} == {"urn:photo", photo}

    (dead,) = results["dead"]
    assert isinstance(dead, DeadLetter) and dead.reason == "hostile_xml"
    assert dead.feed_url == "evil.xml" and dead.entry_id  # relative to --wire_input

    # every item counted once: 1 story + 3 superseded + 1 withdrawn + 2 not_text + 1 dead
    entries = [story.entry_id] + [r.entry_id for r in results["rejected"]] + [dead.entry_id]
    assert len(entries) == len(set(entries)) == 8
    assert len(results["read"]) == 6  # in-flight files are left for later


def test_in_flight_names() -> None:
    assert in_flight("gs://b/drop/item.xml.tmp") and in_flight("/d/.item.xml")
    assert in_flight("/d/_COPYING_") and not in_flight("/d/item.xml")


def test_missing_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such folder"):
        list_files(WireConfig(input=str(tmp_path / "nope")))


def test_glob_selects_files(folder: Path) -> None:
    files = list_files(WireConfig(input=str(folder / "*.json")))
    assert [Path(f.path).name for f in files] == ["photo.json"]


def _envelope(**kwargs) -> Envelope:
    from transforms.sources.wire.detect import parse_wire_file

    (item,) = parse_wire_file(g2_file(**kwargs))
    return Envelope(item, WireFile("/drop/x.xml", 10, 1.0), "e")


def test_too_short_and_empty_bodies_are_rejected_with_reasons() -> None:
    assert decide(_envelope(body=["Short."]), TextConfig()).reason == "too_short"
    assert decide(_envelope(body=[]), TextConfig()).reason == "no_text"
    assert decide(_envelope(status="stat:withheld"), TextConfig()).reason == "withheld"


def test_version_choice_is_deterministic() -> None:
    a, b = _envelope(version=3), _envelope(version=3)
    b = Envelope(b.item, WireFile("/drop/y.xml", 10, 1.0), "f")
    kept1, _ = choose_version([a, b])
    kept2, _ = choose_version([b, a])
    assert kept1 == kept2


@pytest.mark.parametrize(
    "record",
    [
        {"v": 1, "file": 7, "run": "20240501T000000Z"},
        {"v": 1, "file": "a.xml|10|5", "run": 5},  # would never leave by the horizon
        {"v": 1, "file": "a.xml|10|5", "run": "yesterday"},
        {"v": 1, "file": "a.xml|10|5"},
    ],
)
def test_wire_state_records_of_the_wrong_type_are_damaged_state(record) -> None:
    import json

    from transforms.core import statefile
    from transforms.core.statefile import StateFileError
    from transforms.sources.wire.state import STATE_KIND, decode

    data = statefile.encode(STATE_KIND, "20240501T000000Z", [json.dumps(record)])
    with pytest.raises(StateFileError, match="record 1 is not a wire state"):
        decode(data, "wire-state.jsonl")
