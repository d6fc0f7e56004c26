"""State files you can verify: a header, the records, and a footer with their count and checksum.

The feed-state snapshots (``transforms/sources/feed_state.py``) and the dedup fingerprint files
(``transforms/dedup/store.py``) decide what a run treats as new. A file cut short, on a record
boundary or not (a full disk, an interrupted copy, a partial restore), would otherwise be read
as "fewer entries seen, fewer stories stored": the next run would exit 0 with a green report
and archive again what earlier runs already wrote. So every state file is framed::

    {"wirestream_state": "<kind>", "v": 1, "run": "<run key>"}
    <one JSON record per line>
    {"wirestream_end": "<kind>", "records": <n>, "xxh3_64": "<hex>", "run": "<run key>"}

The checksum is xxh3-64 of the record lines exactly as written (each with its newline), so a
reader checks a file without parsing a single record. ``decode`` refuses a file whose header or
footer is missing, whose count or checksum does not match, or whose footer names another run,
with a ``StateFileError`` that names the file, what is wrong and the fix.

Files written before this framing (no header, no footer) are *legacy*: read as before, since
refusing them would stop every existing deployment on upgrade, but reported as unverified, and
replaced by framed files as runs write new state. A legacy file still has to be whole JSON lines:
one cut mid-record is refused like any damaged file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

HEADER_KEY = "wirestream_state"
FOOTER_KEY = "wirestream_end"
VERSION = 1

REPAIR_HINT = (
    "restore the file from a backup; or re-run with --state_repair quarantine to move it aside "
    "and run on (the run report counts what it may then re-admit); never edit it by hand"
)


class StateFileError(ValueError):
    """A state file that cannot be trusted; the message names the file, the problem, the fix."""

    def __init__(self, path: str, problem: str, records_at_risk: int = 0) -> None:
        self.path = path
        self.problem = problem
        self.records_at_risk = records_at_risk
        super().__init__(f"state file {path}: {problem}. Fix: {REPAIR_HINT}")


@dataclass(frozen=True)
class Decoded:
    records: list[str]  # record lines, without newlines
    run: str  # the run key the footer names ("" for legacy)
    legacy: bool = False


def checksum(record_bytes: bytes) -> str:
    import xxhash

    return xxhash.xxh3_64_hexdigest(record_bytes)


def encode(kind: str, run: str, records: list[str]) -> bytes:
    """The framed file for ``records`` (JSON lines without newlines)."""
    body = "".join(line + "\n" for line in records).encode("utf-8")
    header = json.dumps({HEADER_KEY: kind, "v": VERSION, "run": run}, sort_keys=True)
    footer = json.dumps(
        {FOOTER_KEY: kind, "records": len(records), "xxh3_64": checksum(body), "run": run},
        sort_keys=True,
    )
    return header.encode("utf-8") + b"\n" + body + footer.encode("utf-8") + b"\n"


def _json_line(line: bytes) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _not_a_record(line: bytes) -> str:
    """What a line that should be a JSON object is instead, for the message."""
    try:
        value = json.loads(line)
    except ValueError:
        if b"\x00" in line or _undecodable(line):
            return "not text (binary bytes)"
        return "not a whole JSON record (cut mid-record?)"
    kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return f"JSON but {kind.get(type(value), 'a number')}, not a record object (wrong shape)"


def _undecodable(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def decode(path: str, data: bytes, kind: str) -> Decoded:
    """The verified record lines of a state file, or ``StateFileError``."""
    if not data.strip():
        raise StateFileError(path, "the file is empty (a state file always has a header)")
    lines = data.split(b"\n")
    complete = data.endswith(b"\n")
    if complete:
        lines.pop()  # after the last newline
    header = _json_line(lines[0])
    if header is None or HEADER_KEY not in header:
        return _legacy(path, lines, complete)
    if header.get(HEADER_KEY) != kind:
        raise StateFileError(path, f"it is a {header.get(HEADER_KEY)!r} file, not {kind!r}")
    version = header.get("v")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise StateFileError(
            path,
            f"state file version {version} was written by a newer wirestream than this one "
            f"(which reads version {VERSION}): run that version, or restore older state",
        )
    if version != VERSION:
        raise StateFileError(path, f"unsupported state file version {version!r}")
    footer = _json_line(lines[-1]) if complete and len(lines) > 1 else None
    if footer is None or FOOTER_KEY not in footer:
        at_risk = max(0, len(lines) - 1 - (0 if complete else 1))
        raise StateFileError(
            path,
            f"no footer record: the file was cut short after {len(data)} bytes "
            f"({at_risk} whole record line(s) after the header"
            + ("" if complete else ", then a record cut mid-line")
            + ")",
            records_at_risk=at_risk,
        )
    records = lines[1:-1]
    body = b"".join(line + b"\n" for line in records)
    problems = []
    if footer.get(FOOTER_KEY) != kind:
        problems.append(f"the footer is for {footer.get(FOOTER_KEY)!r}, not {kind!r}")
    if footer.get("records") != len(records):
        problems.append(
            f"the footer counts {footer.get('records')} records, the file holds {len(records)}"
        )
    if footer.get("xxh3_64") != checksum(body):
        problems.append("the records' xxh3-64 checksum does not match the footer's")
    if footer.get("run") != header.get("run"):
        problems.append(
            f"the header names run {header.get('run')!r} and the footer {footer.get('run')!r}"
        )
    if problems:
        at_risk = max(len(records), int(footer.get("records") or 0))
        raise StateFileError(path, "; ".join(problems), records_at_risk=at_risk)
    return Decoded([line.decode("utf-8") for line in records], str(header.get("run") or ""))


def _legacy(path: str, lines: list[bytes], complete: bool) -> Decoded:
    """A file from before the framing: every line must still be a whole JSON record."""
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        value = _json_line(line)
        if value is None:
            raise StateFileError(
                path,
                f"line {number} is {_not_a_record(line)} in a file without the header a state "
                "file starts with",
                records_at_risk=len(lines),
            )
        if FOOTER_KEY in value:
            raise StateFileError(
                path,
                "the footer is there but the header is missing (the start was cut off)",
                records_at_risk=len(lines),
            )
        records.append(line.decode("utf-8"))
    if not complete and records:
        raise StateFileError(
            path, "the last line has no newline (cut mid-record?)", records_at_risk=len(records)
        )
    return Decoded(records, "", legacy=True)


def read_bytes(path: str) -> bytes:
    """A state file's bytes; one that cannot be read (permissions, a directory in its place, a
    storage error) is a ``StateFileError`` like a damaged one: the run stops before any output
    (or quarantines it) instead of crashing, or running on without the state it names."""
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            return handle.read()
    except OSError as err:
        why = err.strerror or str(err) or type(err).__name__
        raise StateFileError(path, f"it cannot be read ({type(err).__name__}: {why})") from err


def read(path: str, kind: str) -> Decoded:
    return decode(path, read_bytes(path), kind)


def stale_snapshots(
    snapshots: list[tuple[str, str, str]], run_key: str, run_id: str, keep: int
) -> list[str]:
    """Snapshot paths to delete once this run's snapshot is written.

    ``snapshots`` are (run key, run id, path), oldest first, this run's own file excluded. An
    earlier attempt of this run (same run id) is replaced; of the other runs' snapshots before
    this run the newest ``keep - 1`` stay, so a re-run of an older run date still finds its base.
    """
    own = [path for _, rid, path in snapshots if run_id and rid == run_id]
    older = [
        path for key, rid, path in snapshots if key < run_key and not (run_id and rid == run_id)
    ]
    return own + older[: max(0, len(older) - max(1, keep - 1))]
