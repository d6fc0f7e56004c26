"""Preflight of the state a run is about to trust: every file verified before any output.

A run reads one feed-state snapshot (the newest before its run key) and the dedup fingerprint
files inside its horizon. Each is checked here, before the graph is built, against the record
count and checksum in its footer (``transforms/core/statefile.py``). A damaged file either stops
the run with exit 2 and a message naming the file, the problem and the fix (the default), or,
with ``--state_repair quarantine``, is moved to ``<state_location>/quarantine/<run key>/`` and
the run proceeds: a damaged snapshot gives way to the next older one, a damaged fingerprint file
to nothing. The run report then says what was set aside and how many records it held (the
entries or stories that may be emitted or archived again).
"""

from __future__ import annotations

import logging
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline import state_lock
from pipeline.preflight import PreflightError, check_writable
from transforms.core import statefile
from transforms.core.statefile import StateFileError
from transforms.dedup.store import STORE_KIND, parse_record
from transforms.sources.feed_state import (
    _SNAPSHOT_NAME,
    STATE_KIND,
    StateConfig,
    base_snapshot,
    parse_snapshot,
)
from transforms.sources.wire import state as wire_state
from transforms.sources.wire.state import STATE_KIND as WIRE_KIND

LOG = logging.getLogger(__name__)

REPAIR_MODES = ("none", "quarantine")


class StateCheck:
    """What the preflight found: files checked, legacy files, quarantined files."""

    def __init__(self, location: str | None, run_key: str, repair: str) -> None:
        if repair not in REPAIR_MODES:
            raise ValueError(f"--state_repair must be one of {', '.join(REPAIR_MODES)}")
        self.location = (location or "").rstrip("/")
        self.run_key = run_key
        self.repair = repair
        self.checked: list[str] = []
        self.legacy: list[str] = []
        self.quarantined: list[dict[str, Any]] = []
        self.temporaries_removed: list[str] = []

    def verify(self, path: str, kind: str, minhash: Any = None) -> bool:
        """True when ``path`` can be trusted; False when it was quarantined; raises otherwise.

        ``minhash`` (fingerprint files) is the signature config their records must match."""
        try:
            decoded = statefile.read(path, kind)
            if kind == STATE_KIND:
                _check_snapshot_name(path, decoded.run)
                list(parse_snapshot(path, decoded.records))
            elif kind == STORE_KIND and minhash is not None:
                _check_fingerprints(path, decoded.records, minhash)
            elif kind == WIRE_KIND:
                wire_state.decode(statefile.read_bytes(path), path)
        except StateFileError as err:
            if self.repair != "quarantine":
                raise
            self._quarantine(path, kind, err)
            return False
        self.checked.append(path)
        if decoded.legacy:
            LOG.warning("state file %s has no header/footer (written before checksums)", path)
            self.legacy.append(path)
        return True

    def folder(self, folder: str, kind: str, *, written: bool) -> None:
        """A local state folder this run reads (and ``written``: writes): a folder, listable,
        holding only files where state files go, and (``written``) accepting a new file.

        Beam's local listing is a glob, and a glob answers an unreadable folder, or a
        directory standing where a state file should be, with nothing at all: the run would
        start from no state, fetch and emit everything again and report success; a folder the
        run cannot write would fail only after every output was written. Object stores
        (``gs://``) have no folders to get wrong this way, and listing errors there surface
        as errors already.
        """
        if "://" in folder:
            return
        import os

        if os.path.lexists(folder):
            if not os.path.isdir(folder):
                raise PreflightError(
                    f"--state_location: {folder} is a file where the state folder must be. "
                    "Fix: move that file away (the run creates the folder)"
                )
            try:
                names = sorted(os.listdir(folder))
            except OSError as err:
                raise PreflightError(
                    f"--state_location: cannot list {folder} ({err.strerror}); a run that cannot "
                    "see its state would read every feed as new. Fix: the folder's permissions "
                    "(read and execute for the account the job runs as)"
                ) from err
            if state_lock.held(self.location):
                names = self._remove_temporaries(folder, names)
            for name in names:
                entry = os.path.join(folder, name)
                if (
                    name.endswith(".jsonl")
                    and not name.startswith(".")
                    and not os.path.isfile(entry)
                ):
                    problem = "it is a directory (or another non-file) where a state file must be"
                    err = StateFileError(entry, problem)
                    if self.repair != "quarantine":
                        raise err
                    self._quarantine(entry, kind, err)
        if written:
            check_writable("--state_location", folder)

    def _remove_temporaries(self, folder: str, names: list[str]) -> list[str]:
        """Remove the ``.tmp-*`` files killed runs left (any run id: under the lock no other
        run is writing here); the names that remain."""
        import os

        kept = []
        for name in names:
            entry = os.path.join(folder, name)
            if name.startswith(".tmp-") and name.endswith(".jsonl") and os.path.isfile(entry):
                try:
                    os.remove(entry)
                except OSError:
                    kept.append(name)
                    continue
                LOG.info("removed %s, a temporary state file a killed run left", entry)
                self.temporaries_removed.append(entry)
            else:
                kept.append(name)
        return kept

    def _quarantine(self, path: str, kind: str, err: StateFileError) -> None:
        relative = path[len(self.location) + 1 :] if path.startswith(self.location) else path
        target = f"{self.location}/quarantine/{self.run_key}/{relative.lstrip('/')}"
        folder = target.rsplit("/", 1)[0]
        if not FileSystems.exists(folder):
            FileSystems.mkdirs(folder)
        if FileSystems.exists(target):
            FileSystems.delete([target])
        readable, ids, cut = _salvage(path, kind)
        FileSystems.rename([path], [target])
        LOG.warning("quarantined damaged state file %s -> %s: %s", path, target, err.problem)
        self.quarantined.append(
            {
                "path": path,
                "kind": kind,
                "moved_to": target,
                "problem": err.problem,
                "records_at_risk": max(err.records_at_risk, readable),
                # What may come back: entry ids for a feed-state snapshot (one record per feed
                # holds many), stories for a fingerprint file.
                "may_readmit": ids if kind == STATE_KIND else max(err.records_at_risk, readable),
                # A file cut short held more than what is left of it: the count is a minimum.
                "at_least": cut,
            }
        )

    def to_json(self) -> dict[str, Any]:
        at_risk = sum(q["may_readmit"] for q in self.quarantined)
        notes = []
        for q in self.quarantined:
            least = "at least " if q["at_least"] else ""
            held = (
                f"{least}{q['records_at_risk']} feed record(s) holding {q['may_readmit']} id(s) "
                "of entries earlier runs handed downstream: those entries may be emitted again"
                if q["kind"] == STATE_KIND
                else f"{least}{q['records_at_risk']} record(s) of agency files earlier runs "
                "read: those files may be read again"
                if q["kind"] == WIRE_KIND
                else f"{least}{q['records_at_risk']} record(s) of stories earlier runs stored: "
                "a copy seen again may be archived anew"
            )
            cut = " (it was cut short: what followed the cut is not counted)" if least else ""
            notes.append(
                f"quarantined {q['path']} -> {q['moved_to']} ({q['problem']}); it held {held}{cut}"
            )
        if self.temporaries_removed:
            notes.append(
                f"removed {len(self.temporaries_removed)} temporary state file(s) killed runs "
                "left (never read as state)"
            )
        if self.legacy:
            notes.append(
                f"{len(self.legacy)} state file(s) without header/footer (written before "
                "checksums) were read unverified; new runs write framed files"
            )
        return {
            "may_readmit_at_least": any(q["at_least"] for q in self.quarantined),
            "checked": len(self.checked),
            "legacy": list(self.legacy),
            "quarantined": list(self.quarantined),
            "may_readmit": at_risk,
            "temporaries_removed": list(self.temporaries_removed),
            "notes": notes,
        }


def check_state(
    feeds: StateConfig,
    store: Any,
    minhash: Any,
    repair: str,
    wire: Any = None,
    wire_snapshot: bool = True,
) -> StateCheck:
    """Verify the state folders and the snapshot and fingerprint files this run will read (see
    module docstring).

    ``store`` is the dedup ``StoreConfig`` (or None), ``minhash`` its signature config,
    ``wire`` the agency files' ``WireStateConfig`` (or None), ``wire_snapshot`` whether the run
    reads its snapshot (batch runs).
    """
    location = feeds.location or (store.state_location if store is not None else None)
    check = StateCheck(location, feeds.run_key or "norun", repair)
    if wire is not None and wire.enabled:
        check.folder(wire.folder, WIRE_KIND, written=True)
        while wire_snapshot:  # batch runs read the newest earlier snapshot; streaming none
            path = wire_state.base_snapshot(wire)
            if path is None or check.verify(path, WIRE_KIND):
                break
    if feeds.enabled:
        check.folder(feeds.folder, STATE_KIND, written=True)
        while True:
            path = base_snapshot(feeds)
            if path is None or check.verify(path, STATE_KIND):
                break
    if store is not None:
        root = store.root(minhash)
        for day in store.days():
            folder = FileSystems.join(root, f"dt={day}")
            check.folder(folder, STORE_KIND, written=day == store.run_date)
            pattern = FileSystems.join(folder, "fingerprints-*.jsonl")
            for metadata in sorted(FileSystems.match([pattern])[0].metadata_list, key=_path):
                if metadata.path.rsplit("/", 1)[-1] == store.file_name:
                    continue  # this run's own earlier file: ignored and replaced by the run
                check.verify(metadata.path, STORE_KIND, minhash)
    return check


def _salvage(path: str, kind: str) -> tuple[int, int, bool]:
    """(records, entry ids, cut short) still readable in a damaged file, for the report: how
    much a quarantine may re-admit. Lenient on purpose: every whole JSON object line that is not
    the frame counts; a directory or unreadable file counts nothing."""
    import json

    try:
        data = statefile.read_bytes(path)
    except StateFileError:
        return 0, 0, False
    lines = data.split(b"\n")
    framed = lines[0].startswith(b"{") and statefile.HEADER_KEY.encode() in lines[0]
    footer = len(lines) > 1 and statefile.FOOTER_KEY.encode() in lines[-2]
    cut = not data.endswith(b"\n") or (framed and not footer)
    records = ids = 0
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if (
            not isinstance(value, dict)
            or statefile.HEADER_KEY in value
            or statefile.FOOTER_KEY in value
        ):
            continue
        records += 1
        seen = value.get("seen")
        if kind == STATE_KIND and isinstance(seen, list):
            ids += len(seen)
    return records, ids, bool(data.strip()) and cut


def _check_snapshot_name(path: str, run: str) -> None:
    """A snapshot is chosen by the run key in its name; one renamed or copied under another
    run's name would start this run from the wrong point in time (older: entries emitted
    again; newer: entries skipped as seen)."""
    name = _SNAPSHOT_NAME.search(path)
    if run and name and name.group(1) != run:
        raise StateFileError(
            path,
            f"its name says run key {name.group(1)} but it was written by run {run} "
            "(renamed or copied under another run's name?)",
        )


def _check_fingerprints(path: str, records: list[str], minhash: Any) -> None:
    for number, line in enumerate(records, 1):
        if line.strip():
            try:
                parse_record(line, minhash)
            except ValueError as exc:
                raise StateFileError(
                    path, f"record {number} is not a fingerprint: {exc}", len(records)
                ) from exc


def _path(metadata: Any) -> str:
    return metadata.path
