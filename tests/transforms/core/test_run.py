"""RunIdentity: one name and one logical time per run, from the flags and one clock reading."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from transforms.core.run import RunIdentity, key_time, parse_run_date, run_key_for, safe_run_id

NOW = datetime(2026, 11, 25, 10, 15, 30, tzinfo=UTC)
LATER = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)


def resolve(**flags) -> RunIdentity:
    values = {"run_id": None, "run_date": None, "replay": None, "now": NOW, **flags}
    return RunIdentity.resolve(**values)


def test_an_unnamed_run_is_its_start_time() -> None:
    run = resolve()
    assert (run.run_id, run.run_key, run.run_date, run.dated) == (
        "20261125T101530Z",
        "20261125T101530Z",
        "2026-11-25",
        False,
    )


def test_a_run_date_names_the_run_and_fixes_its_time_whatever_the_clock() -> None:
    first, again = resolve(run_date="2026-11-24T05"), resolve(run_date="2026-11-24T05", now=LATER)
    assert first == again
    assert (first.run_id, first.run_key, first.run_date, first.dated) == (
        "2026-11-24T05",
        "20261124T050000Z",
        "2026-11-24",
        True,
    )


def test_run_id_wins_and_is_made_safe_for_file_names() -> None:
    run = resolve(run_id="nightly/eu 1", run_date="2026-11-24", replay="sample.warc")
    assert run.run_id == "nightly-eu-1"
    assert run.run_key == "20261124T000000Z"


def test_a_replay_without_a_name_is_run_replay() -> None:
    assert resolve(replay="archive.warc").run_id == "replay"
    assert resolve(replay="archive.warc", now=LATER).run_id == "replay"


def test_the_partition_day_is_the_utc_day_of_the_logical_time() -> None:
    run = resolve(run_date="2026-11-25T01:30:00+05:00")
    assert (run.run_key, run.run_date) == ("20261124T203000Z", "2026-11-24")


def test_bad_values_fail_with_the_fix() -> None:
    with pytest.raises(ValueError, match="Fix: use YYYY-MM-DD"):
        resolve(run_date="yesterday")
    with pytest.raises(ValueError, match="cannot name a file"):
        RunIdentity(run_id="a/b", run_key="20261125T000000Z")
    with pytest.raises(ValueError, match="YYYYMMDDTHHMMSSZ"):
        RunIdentity(run_id="a", run_key="2026-11-25")


def test_key_helpers_round_trip() -> None:
    assert key_time(run_key_for(None, now=NOW)) == NOW.replace(microsecond=0)
    assert parse_run_date("2026-11-25") == datetime(2026, 11, 25, tzinfo=UTC)
    assert safe_run_id("a.b:c") == "a-b-c"
