"""Feed state: pure transitions, snapshot files, and the commit transform on the DirectRunner."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from transforms.core.records import DeadLetter
from transforms.core.run import parse_run_date, run_key_for
from transforms.sources.feed_state import (
    CommitFeedState,
    FeedState,
    ReadFeedStates,
    StateConfig,
    advance,
    base_snapshot,
    carry,
    conditional_headers,
    feed_key_for,
    is_due,
    read_snapshot,
    select_new,
    with_retries,
    write_snapshot,
)

FEED = "https://news.example/rss"


def _config(tmp_path: Path | None, run_date: str, **kw) -> StateConfig:
    location = str(tmp_path / "state") if tmp_path is not None else None
    return StateConfig(location=location, run_key=run_key_for(run_date), **kw)


def test_run_keys_from_run_dates() -> None:
    assert run_key_for("2026-11-25") == "20261125T000000Z"
    assert run_key_for("2026-11-25T10") == "20261125T100000Z"
    assert run_key_for("2026-11-25T12:30:00+02:00") == "20261125T103000Z"
    assert parse_run_date("2026-11-25T10:00:00Z").hour == 10
    with pytest.raises(ValueError, match="Fix: use YYYY-MM-DD"):
        run_key_for("yesterday")


def test_first_run_sees_everything_and_remembers_it() -> None:
    config = _config(None, "2026-11-25T10")
    assert select_new(None, ["a", "b"]) == ["a", "b"]
    assert conditional_headers(None) == (None, None)
    state = advance(
        None,
        FEED,
        config,
        document_ids=["a", "b"],
        emitted_ids=["b", "a"],
        etag='"v1"',
        last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
    )
    assert state.seen == (("a", "20261125T100000Z"), ("b", "20261125T100000Z"))
    assert conditional_headers(state) == ('"v1"', "Tue, 24 Nov 2026 10:00:00 GMT")
    assert select_new(state, ["c", "a", "b", "d"]) == ["c", "d"]


def test_not_modified_keeps_what_was_seen() -> None:
    first = advance(
        None, FEED, _config(None, "2026-11-25T10"), document_ids=["a"], emitted_ids=["a"], etag="e1"
    )
    second = advance(first, FEED, _config(None, "2026-11-25T11"), not_modified=True)
    assert second.seen == first.seen and second.etag == "e1"
    assert second.fetched_run == "20261125T110000Z"


def test_ids_leave_after_the_horizon_unless_still_in_the_feed() -> None:
    state = advance(
        None,
        FEED,
        _config(None, "2026-11-01"),
        document_ids=["old", "stays"],
        emitted_ids=["old", "stays"],
    )
    later = advance(
        state,
        FEED,
        _config(None, "2026-11-20", horizon_days=14),
        document_ids=["stays", "new"],
        emitted_ids=["new"],
    )
    assert [i for i, _ in later.seen] == ["new", "stays"]
    # "stays" keeps the run it was first seen in.
    assert dict(later.seen)["stays"] == "20261101T000000Z"


def test_ids_are_bounded_newest_first() -> None:
    config = _config(None, "2026-11-25", max_ids_per_feed=3)
    state = FeedState(feed_url=FEED, seen=(("a", "20261120T000000Z"), ("b", "20261121T000000Z")))
    state = advance(state, FEED, config, emitted_ids=["c", "d"])
    assert [i for i, _ in state.seen] == ["b", "c", "d"]


def test_retries_unmark_entries_and_disable_validators() -> None:
    state = advance(
        None,
        FEED,
        _config(None, "2026-11-25T10"),
        document_ids=["a", "b"],
        emitted_ids=["a", "b"],
        etag="e1",
    )
    handed_back = with_retries(state, ["b"])
    assert select_new(handed_back, ["a", "b"]) == ["b"]
    assert conditional_headers(handed_back) == (None, None)
    again = advance(
        handed_back,
        FEED,
        _config(None, "2026-11-25T11"),
        document_ids=["a", "b"],
        emitted_ids=["b"],
        etag="e2",
    )
    assert again.retry == () and conditional_headers(again) == ("e2", None)


def test_poll_interval_in_logical_time() -> None:
    state = FeedState(feed_url=FEED, fetched_run="20261125T100000Z")
    assert not is_due(state, 180, "20261125T110000Z")
    assert is_due(state, 180, "20261125T130000Z")
    assert is_due(state, 60, "20261125T110000Z")
    assert is_due(state, 180, "20261125T090000Z")  # a backfill of an earlier run
    assert is_due(None, 180, "20261125T110000Z")


def test_json_round_trip_and_version_check() -> None:
    state = FeedState(
        FEED,
        '"e"',
        None,
        "20261125T100000Z",
        (("a", "20261125T100000Z"),),
        ("b",),
        "20261125T100000Z",
    )
    assert FeedState.from_json(state.to_json()) == state
    with pytest.raises(ValueError, match="newer wirestream"):
        FeedState.from_json('{"v": 99, "feed_url": "x"}')
    with pytest.raises(ValueError, match="unsupported feed state version '1'"):
        FeedState.from_json('{"v": "1", "feed_url": "x"}')
    with pytest.raises(ValueError, match="array, not an object"):
        FeedState.from_json("[1]")


@pytest.mark.parametrize("name", ["seen", "retry", "run", "etag", "fetched_run"])
def test_a_record_missing_a_field_every_writer_wrote_is_refused(name: str) -> None:
    # Read as "nothing seen", a record without ``seen`` would emit the whole feed again.
    record = json.loads(FeedState(FEED, seen=(("a", "20261125T100000Z"),)).to_json())
    del record[name]
    with pytest.raises(ValueError, match=f"missing field\\(s\\) {name}"):
        FeedState.from_json(json.dumps(record))


def test_fields_added_later_may_be_absent() -> None:
    record = json.loads(FeedState(FEED).to_json())
    for name in ("feed_key", "last_success", "last_error"):
        del record[name]
    assert FeedState.from_json(json.dumps(record)).feed_url == FEED


def test_snapshots_are_chosen_by_earlier_run_key(tmp_path: Path) -> None:
    run10 = _config(tmp_path, "2026-11-25T10")
    run11 = _config(tmp_path, "2026-11-25T11")
    assert base_snapshot(run10) is None
    first = advance(None, FEED, run10, document_ids=["a"], emitted_ids=["a"])
    path10 = write_snapshot(run10, [first])
    assert list(read_snapshot(path10)) == [first]
    assert base_snapshot(run11) == path10
    write_snapshot(run11, [advance(first, FEED, run11, document_ids=["b"], emitted_ids=["b"])])
    # Re-running 10:00 starts from what it started from the first time (nothing), not from 11:00.
    assert base_snapshot(run10) is None
    assert base_snapshot(_config(tmp_path, "2026-11-25T12")).endswith("20261125T110000Z.jsonl")
    assert not [p for p in (tmp_path / "state" / "feeds").iterdir() if p.name.startswith(".tmp")]


def test_a_rerun_of_the_same_run_id_ignores_and_replaces_its_own_snapshot(tmp_path: Path) -> None:
    """Runs named without --run_date (a replay) have a clock time as key; the id ties them."""
    earlier = _config(tmp_path, "2026-11-25T08", run_id="nightly")
    write_snapshot(earlier, [FeedState(feed_url=FEED, run=earlier.run_key)])
    first = _config(tmp_path, "2026-11-25T10", run_id="replay")
    path = write_snapshot(first, [FeedState(feed_url=FEED, run=first.run_key)])
    assert path.endswith("/feed-state-20261125T100000Z-replay.jsonl")
    again = _config(tmp_path, "2026-11-25T10:00:07", run_id="replay")
    # Not its own first attempt (which would hold its own marks), but the run before it.
    assert base_snapshot(again).endswith("/feed-state-20261125T080000Z-nightly.jsonl")
    write_snapshot(again, [FeedState(feed_url=FEED, run=again.run_key)])
    names = sorted(p.name for p in (tmp_path / "state" / "feeds").iterdir())
    assert names == [
        "feed-state-20261125T080000Z-nightly.jsonl",
        "feed-state-20261125T100007Z-replay.jsonl",
    ]


def test_old_snapshots_are_pruned(tmp_path: Path) -> None:
    for hour in range(10, 16):
        config = _config(tmp_path, f"2026-11-25T{hour}", keep_snapshots=3)
        write_snapshot(config, [FeedState(feed_url=FEED, run=config.run_key)])
    names = sorted(p.name for p in (tmp_path / "state" / "feeds").iterdir())
    assert names == [
        "feed-state-20261125T130000Z.jsonl",
        "feed-state-20261125T140000Z.jsonl",
        "feed-state-20261125T150000Z.jsonl",
    ]


def _options() -> PipelineOptions:
    return PipelineOptions(runner="DirectRunner")


def test_read_and_commit_on_the_direct_runner(tmp_path: Path) -> None:
    run10 = _config(tmp_path, "2026-11-25T10")
    other = "https://other.example/feed"
    write_snapshot(
        run10,
        [
            advance(None, FEED, run10, document_ids=["a", "b"], emitted_ids=["a", "b"], etag="e"),
            carry(None, other, run10),
        ],
    )
    run11 = _config(tmp_path, "2026-11-25T11")
    with beam.Pipeline(options=_options()) as p:
        loaded = p | "Read" >> ReadFeedStates(run11)
        assert_that(
            loaded | beam.Map(lambda kv: (kv[0], kv[1].etag)),
            equal_to([(feed_key_for(FEED), "e"), (feed_key_for(other), None)]),
        )
        after = p | "Outputs" >> beam.Create(["part-0", "part-1"])
        dead = p | "Dead" >> beam.Create(
            [
                DeadLetter("fetch", "timeout", "u", "t", entry_id="b", feed_url=FEED),
                DeadLetter("fetch", "http_4xx", "u", "g", entry_id="a", feed_url=FEED),
            ]
        )
        states = loaded | beam.Map(lambda kv: carry(kv[1], kv[1].feed_url, run11))
        written = states | "Commit" >> CommitFeedState(run11, after=after, retry=dead)
        assert_that(
            written,
            equal_to([str(tmp_path / "state/feeds/feed-state-20261125T110000Z.jsonl")]),
            label="SnapshotPath",
        )
    committed = {s.feed_url: s for s in read_snapshot(written_path(tmp_path, "20261125T110000Z"))}
    assert committed[FEED].seen_ids() == {"a"}  # the timeout is handed back, the 404 is final
    assert committed[FEED].retry == ("b",)
    assert committed[other].seen == ()


def written_path(tmp_path: Path, key: str) -> str:
    return str(tmp_path / "state" / "feeds" / f"feed-state-{key}.jsonl")


def test_snapshots_keep_no_secret_of_the_feed_url_but_find_the_feed_again(tmp_path: Path) -> None:
    secret_feed = "https://paid.example/rss?token=S3cr3tT0ken"
    config = _config(tmp_path, "2026-11-25T10")
    state = advance(None, secret_feed, config, document_ids=["a"], emitted_ids=["a"])
    path = write_snapshot(config, [state])
    assert "S3cr3tT0ken" not in Path(path).read_text()
    (loaded,) = read_snapshot(path)
    assert loaded.feed_url == "https://paid.example/rss?token=REDACTED"
    assert loaded.key == feed_key_for(secret_feed) and loaded.seen_ids() == {"a"}
