"""Framed state files: every kind of damage is refused with the file, the problem and the fix."""

from __future__ import annotations

import json

import pytest

from transforms.core.statefile import StateFileError, decode, encode

RECORDS = [json.dumps({"id": i, "pad": "x" * i}) for i in range(5)]


def _framed() -> bytes:
    return encode("fingerprints", "run-1", RECORDS)


def test_round_trip() -> None:
    decoded = decode("f.jsonl", _framed(), "fingerprints")
    assert decoded.records == RECORDS and decoded.run == "run-1" and not decoded.legacy


def test_an_empty_run_still_has_header_and_footer() -> None:
    assert decode("f", encode("feed-state", "k", []), "feed-state").records == []


@pytest.mark.parametrize("keep_lines", [1, 2, 3, 6])
def test_cut_on_a_record_boundary_is_refused(keep_lines: int) -> None:
    data = b"".join(line + b"\n" for line in _framed().split(b"\n")[:keep_lines])
    with pytest.raises(StateFileError) as caught:
        decode("store/dt=2026-11-24/fingerprints-a.jsonl", data, "fingerprints")
    message = str(caught.value)
    assert "store/dt=2026-11-24/fingerprints-a.jsonl" in message
    assert "cut short" in message and "--state_repair quarantine" in message


@pytest.mark.parametrize("cut", [5, 40, 100, -3])
def test_cut_mid_record_is_refused_not_a_json_error(cut: int) -> None:
    data = _framed()[:cut]
    with pytest.raises(StateFileError) as caught:
        decode("f.jsonl", data, "fingerprints")
    assert "f.jsonl" in str(caught.value)


def test_changed_record_or_count_is_refused() -> None:
    flipped = _framed().replace(b'"id": 3', b'"id": 8')
    with pytest.raises(StateFileError, match="checksum"):
        decode("f", flipped, "fingerprints")
    lines = _framed().split(b"\n")
    dropped = b"\n".join(lines[:2] + lines[3:])  # a record lost, header and footer intact
    with pytest.raises(StateFileError, match="counts 5 records"):
        decode("f", dropped, "fingerprints")


def test_start_cut_off_wrong_kind_and_empty_file() -> None:
    lines = _framed().split(b"\n")
    with pytest.raises(StateFileError, match="header is missing"):
        decode("f", b"\n".join(lines[1:]), "fingerprints")
    with pytest.raises(StateFileError, match="not 'feed-state'"):
        decode("f", _framed(), "feed-state")
    with pytest.raises(StateFileError, match="empty"):
        decode("f", b"", "fingerprints")


def test_legacy_files_are_read_but_must_be_whole_lines() -> None:
    legacy = "".join(line + "\n" for line in RECORDS).encode()
    decoded = decode("old.jsonl", legacy, "fingerprints")
    assert decoded.legacy and decoded.records == RECORDS
    with pytest.raises(StateFileError, match="not a whole JSON record"):
        decode("old.jsonl", legacy[:-10], "fingerprints")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"[1, 2, 3]\n", "JSON but an array"),  # valid JSON of the wrong shape
        (b'"feed-state"\n', "JSON but a string"),
        (b"42\n", "JSON but a number"),
        (b"\x00\x9f\x92\x96binary\xff\n", "binary"),
    ],
)
def test_legacy_lines_of_the_wrong_shape_say_what_they_are(data: bytes, said: str) -> None:
    with pytest.raises(StateFileError, match=said):
        decode("old.jsonl", data, "fingerprints")


def test_a_file_from_a_newer_version_says_so() -> None:
    lines = _framed().split(b"\n")
    header = json.loads(lines[0])
    newer = json.dumps({**header, "v": 2}).encode()
    with pytest.raises(StateFileError, match="newer wirestream"):
        decode("f", b"\n".join([newer, *lines[1:]]), "fingerprints")
    odd = json.dumps({**header, "v": "1"}).encode()  # a number as a string is not version 1
    with pytest.raises(StateFileError, match="unsupported state file version '1'"):
        decode("f", b"\n".join([odd, *lines[1:]]), "fingerprints")
