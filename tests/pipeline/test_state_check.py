"""The state preflight on real files: what a disk, a restore or a hand can leave where a run's
state should be must stop the run before any output (exit 2) or be quarantined, never be read as
"no state" or crash the run after its outputs are written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.preflight import PreflightError, check_writable
from pipeline.state_check import check_state
from transforms.core import statefile
from transforms.core.statefile import StateFileError
from transforms.dedup.config import MinHashConfig
from transforms.dedup.minhash import Fingerprint
from transforms.dedup.store import STORE_KIND, StoreConfig
from transforms.sources.feed_state import STATE_KIND, FeedState, StateConfig

REPO = Path(__file__).resolve().parents[2]
MINHASH = MinHashConfig()
EARLIER, NOW = "20261124T100000Z", "20261124T110000Z"


def _configs(state: Path) -> tuple[StateConfig, StoreConfig]:
    feeds = StateConfig(location=str(state), run_key=NOW, run_id="r1")
    return feeds, StoreConfig(str(state), "2026-11-24", "r1", horizon_days=1)


def _snapshot(state: Path, records: list[str] | None = None) -> Path:
    path = state / "feeds" / f"feed-state-{EARLIER}-r0.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if records is None:
        records = [FeedState(feed_url="https://news.example/feed.xml", run=EARLIER).to_json()]
    path.write_bytes(statefile.encode(STATE_KIND, EARLIER, records))
    return path


def _fingerprints(state: Path, signature: bytes = bytes(4 * MINHASH.num_perm)) -> Path:
    folder = state / "dedup" / MINHASH.name / "dt=2026-11-24"
    folder.mkdir(parents=True, exist_ok=True)
    record = Fingerprint("s1", "h1", "2026-11-24T10:00:00Z", 0, 500, 90, signature).to_json()
    path = folder / "fingerprints-r0.jsonl"
    path.write_bytes(statefile.encode(STORE_KIND, "r0", [json.dumps(record)]))
    return path


def _check(state: Path, repair: str = "none"):
    feeds, store = _configs(state)
    return check_state(feeds, store, MINHASH, repair)


def test_sound_state_passes_and_the_folders_the_run_writes_exist(tmp_path: Path) -> None:
    _snapshot(tmp_path)
    _fingerprints(tmp_path)
    assert len(_check(tmp_path).checked) == 2


@pytest.mark.parametrize("which", ["snapshot", "fingerprints"])
def test_a_directory_where_a_state_file_goes_is_damaged_state(tmp_path: Path, which: str):
    # Beam's local listing skips directories: this used to read as "no state" and exit 0.
    path = _snapshot(tmp_path) if which == "snapshot" else _fingerprints(tmp_path)
    path.unlink()
    path.mkdir()
    with pytest.raises(StateFileError, match="directory"):
        _check(tmp_path)
    check = _check(tmp_path, repair="quarantine")
    assert [q["path"] for q in check.quarantined] == [str(path)]
    assert not path.exists() and Path(check.quarantined[0]["moved_to"]).is_dir()


def test_a_file_where_a_state_folder_goes_stops_the_run(tmp_path: Path) -> None:
    # Used to run, write every output, then crash committing the feed state (exit 1).
    tmp_path.joinpath("feeds").write_text("not a folder")
    with pytest.raises(PreflightError, match="is a file where the state folder must be"):
        _check(tmp_path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fetched_run", "yesterday"),  # crashed the feed reader
        ("etag", '"v1"\r\nX-Injected: 1'),  # crashed the request (a header injection)
        ("etag", ["v1"]),
        ("seen", [[1, 2]]),
        ("retry", {"a": 1}),
        ("feed_url", None),
    ],
)
def test_forged_feed_state_records_are_refused(tmp_path: Path, field: str, value) -> None:
    record = json.loads(FeedState(feed_url="https://news.example/f", run=EARLIER).to_json())
    record[field] = value
    _snapshot(tmp_path, [json.dumps(record)])  # checksum and count hold
    with pytest.raises(StateFileError, match="is not a feed state"):
        _check(tmp_path)


def test_a_snapshot_renamed_to_another_run_key_is_refused(tmp_path: Path) -> None:
    path = _snapshot(tmp_path)
    records = path.read_text().splitlines()[1:2]
    older = statefile.encode(STATE_KIND, "20261123T100000Z", records)
    path.write_bytes(older)  # a day-old snapshot under the newer name
    with pytest.raises(StateFileError, match="its name says run key 20261124T100000Z"):
        _check(tmp_path)


def test_two_records_for_one_feed_are_refused(tmp_path: Path) -> None:
    feed = "https://news.example/f"
    records = [
        FeedState(feed_url=feed, seen=(("e1", EARLIER),), run=EARLIER).to_json(),
        FeedState(feed_url=feed, run=EARLIER).to_json(),  # the one with nothing seen
    ]
    _snapshot(tmp_path, records)  # checksum and count hold
    with pytest.raises(StateFileError, match="record 2 is a second record for feed"):
        _check(tmp_path)


@pytest.mark.parametrize(
    ("field", "value"),
    [("text_length", "500"), ("cleaning_hits", True), ("signature", "!!!!"), ("cluster_id", 7)],
)
def test_forged_fingerprint_records_are_refused(tmp_path: Path, field: str, value) -> None:
    path = _fingerprints(tmp_path)
    record = json.loads(path.read_text().splitlines()[1])
    record[field] = value
    path.write_bytes(statefile.encode(STORE_KIND, "r0", [json.dumps(record)]))
    with pytest.raises(StateFileError, match="is not a fingerprint"):
        _check(tmp_path)


def test_fingerprints_of_another_signature_length_are_refused(tmp_path: Path) -> None:
    _fingerprints(tmp_path, signature=bytes(12))
    with pytest.raises(StateFileError, match="not 128"):
        _check(tmp_path)


def test_a_quarantined_snapshot_counts_the_entry_ids_it_held(tmp_path: Path) -> None:
    """A feed record holds many entry ids: the report counts those, a minimum when cut."""
    seen = tuple((f"e{i}", EARLIER) for i in range(7))
    records = [
        FeedState(feed_url=f"https://news.example/{n}", seen=seen[:k], run=EARLIER).to_json()
        for n, k in (("a", 7), ("b", 3))
    ]
    path = _snapshot(tmp_path, records)
    path.write_bytes(path.read_bytes()[:-40])  # cut inside the footer: both records whole
    check = _check(tmp_path, repair="quarantine")
    (quarantined,) = check.quarantined
    assert quarantined["records_at_risk"] == 2 and quarantined["may_readmit"] == 10
    assert quarantined["at_least"]
    report = check.to_json()
    assert report["may_readmit"] == 10 and report["may_readmit_at_least"]
    assert "at least 2 feed record(s) holding 10 id(s)" in report["notes"][0]


def test_refused_state_leaves_no_output_folder_behind(tmp_path: Path) -> None:
    """Exit 2 means before any output: the folders the preflight created are removed again."""
    state = tmp_path / "state"
    _snapshot(state).write_bytes(b"[1, 2]\n")  # JSON of the wrong shape where a record goes
    out = tmp_path / "out" / "run"
    argv = ["--output", str(out), "--state_location", str(state), "--run_date", "2026-11-24T11"]
    child = subprocess.run(
        [sys.executable, "-m", "pipeline", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert child.returncode == 2, child.stderr
    assert "JSON but an array" in child.stderr and "Traceback" not in child.stderr
    assert not (tmp_path / "out").exists()
    # A state location that is a file is named as such, not as an unwritable folder.
    other = tmp_path / "plain-file"
    other.write_text("x")
    with pytest.raises(PreflightError, match="is a file where a folder must be"):
        check_writable("--state_location", str(other))


def test_a_state_file_that_cannot_be_read_is_named_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match="cannot be read"):
        statefile.read(str(tmp_path), STATE_KIND)  # a directory: IsADirectoryError


_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_state_check import _check
for name in sys.argv[1:]:
    try:
        _check(Path(name))
        print("passed")
    except Exception as err:
        print(type(err).__name__, str(err).splitlines()[0][:200])
"""


def test_unreadable_state_stops_the_run(tmp_path: Path) -> None:
    """Permissions hold for root only without its override capabilities: the check runs in a
    child process without them (setpriv), as the job's account would."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be denied")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    cases = {}
    for name, mode in (("file", 0o000), ("feeds-folder", 0o300), ("day-folder", 0o000)):
        state = tmp_path / name
        snapshot, fingerprints = _snapshot(state), _fingerprints(state)
        target = {"file": snapshot, "feeds-folder": snapshot.parent}.get(name, fingerprints.parent)
        target.chmod(mode)
        cases[name] = state
    child = subprocess.run(
        [*prefix, sys.executable, "-c", _CHILD.format(tests=str(Path(__file__).parent))]
        + [str(state) for state in cases.values()],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    for state in cases.values():  # let pytest clean up
        for path in state.rglob("*"):
            path.chmod(0o700)
    results = dict(zip(cases, child.stdout.splitlines(), strict=False))
    assert results["file"].startswith("StateFileError") and "cannot be read" in results["file"]
    # A folder a glob cannot list used to read as "no state": everything emitted again.
    assert (
        results["feeds-folder"].startswith("PreflightError")
        and "cannot list" in results["feeds-folder"]
    ), child.stderr[-2000:]
    assert results["day-folder"].startswith("PreflightError"), child.stderr[-2000:]


def test_a_damaged_wire_snapshot_is_quarantined_like_the_others(tmp_path: Path) -> None:
    from transforms.sources.wire.state import WireStateConfig

    wire = WireStateConfig(location=str(tmp_path), run_key=NOW, run_id="r1")
    path = tmp_path / "wire" / f"wire-state-{EARLIER}-r0.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"v": 1, "file": "a.xml|1|2", "run": 5}\n')  # legacy, a number as run
    feeds = StateConfig(location=str(tmp_path), run_key=NOW, run_id="r1")
    with pytest.raises(StateFileError, match="is not a wire state"):
        check_state(feeds, None, MINHASH, "none", wire=wire)
    assert check_state(feeds, None, MINHASH, "none", wire=wire, wire_snapshot=False)
    check = check_state(feeds, None, MINHASH, "quarantine", wire=wire)
    assert [q["path"] for q in check.quarantined] == [str(path)] and not path.exists()


def test_under_the_lock_temporaries_killed_runs_left_are_removed(tmp_path: Path) -> None:
    from pipeline import state_lock

    _snapshot(tmp_path)
    _fingerprints(tmp_path)
    left = [
        tmp_path / "feeds" / ".tmp-20261124T090000Z-other-run-0123abcd.jsonl",
        tmp_path / "dedup" / MINHASH.name / "dt=2026-11-24" / ".tmp-9f-fingerprints-x.jsonl",
    ]
    for path in left:
        path.write_bytes(b'{"wirestream_state": "feed-state", "v": 1, "run": "x"}\n{"half')
    assert _check(tmp_path).to_json()["temporaries_removed"] == []  # no lock: maybe running
    assert all(path.exists() for path in left)
    lock = state_lock.acquire(str(tmp_path), "r1")
    assert lock is not None
    try:
        removed = _check(tmp_path).to_json()["temporaries_removed"]
    finally:
        lock.release()
    assert sorted(removed) == sorted(str(path) for path in left)
    assert not any(path.exists() for path in left)
    assert not state_lock.held(str(tmp_path))
