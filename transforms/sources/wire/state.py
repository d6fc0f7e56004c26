"""Which wire files earlier batch runs read, so a scheduled run takes only what arrived since.

Same model as the feed state (``transforms/sources/feed_state.py``): one snapshot per run under
``<state_location>/wire/wire-state-<run key>-<run id>.jsonl``; a run starts from the newest
snapshot of an *earlier* run key written by *another* run (a re-run of run R reads exactly what
R's first attempt read and replaces R's snapshot), and writes its own only after its outputs are
written, so a run that fails leaves the previous snapshot in charge and its files are read again.
Snapshots are framed and checksummed like every state file (``transforms/core/statefile.py``):
a damaged one stops the run before any output (exit 2) instead of re-ingesting the folder.

A file is known by its path, size and modification time (``WireFile.key``): a file replaced
under the same name is new. A key stays remembered while its file is still listed, and for
``horizon_days`` after it disappeared (a file restored from a backup is not re-ingested). Files
that could not be read (``read_error``) are not marked, so the next run tries them again.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.core import statefile
from transforms.core.run import key_time
from transforms.core.statefile import StateFileError

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
FORMAT_VERSION = 1
PREFIX = "wire-state-"
SUFFIX = ".jsonl"
_NAME = re.compile(r"wire-state-(\d{8}T\d{6}Z)(?:-([A-Za-z0-9_-]+))?\.jsonl$")
_KEY_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class WireStateConfig:
    location: str | None = None
    run_key: str = ""
    run_id: str = ""
    horizon_days: float = 14.0
    keep_snapshots: int = 48

    @property
    def enabled(self) -> bool:
        return bool(self.location)

    @property
    def folder(self) -> str:
        return f"{(self.location or '').rstrip('/')}/wire"


def snapshot_path(config: WireStateConfig) -> str:
    suffix = f"-{config.run_id}" if config.run_id else ""
    return f"{config.folder}/{PREFIX}{config.run_key}{suffix}{SUFFIX}"


def _snapshots(folder: str) -> list[tuple[str, str, str]]:
    """(run key, run id, path) of every snapshot, oldest first."""
    from apache_beam.io.filesystems import FileSystems

    matches = FileSystems.match([f"{folder}/{PREFIX}*{SUFFIX}"])[0].metadata_list
    found = [(m, _NAME.search(m.path)) for m in matches]
    return sorted((name.group(1), name.group(2) or "", m.path) for m, name in found if name)


def _own(snapshot: tuple[str, str, str], config: WireStateConfig) -> bool:
    return bool(config.run_id) and snapshot[1] == config.run_id


def base_snapshot(config: WireStateConfig) -> str | None:
    if not config.enabled:
        return None
    try:
        snapshots = _snapshots(config.folder)
    except Exception as exc:  # filesystem layers raise their own types
        raise ValueError(
            f"--state_location {config.location}: cannot list {config.folder} "
            f"({type(exc).__name__}: {exc}). Fix: check the path and that these credentials "
            "may read and write it"
        ) from exc
    earlier = [s for s in snapshots if s[0] < config.run_key and not _own(s, config)]
    return earlier[-1][2] if earlier else None


STATE_KIND = "wire_state"


def encode(seen: dict[str, str], run_key: str) -> bytes:
    """A framed state file (``transforms/core/statefile.py``: header, records, count, checksum)."""
    lines = [
        json.dumps({"v": FORMAT_VERSION, "file": key, "run": run}, sort_keys=True)
        for key, run in sorted(seen.items())
    ]
    return statefile.encode(STATE_KIND, run_key, lines)


def decode(data: bytes, path: str) -> dict[str, str]:
    """Seen file keys -> run key first seen, verified first. A damaged snapshot is a
    configuration error (exit 2): starting from nothing would ingest every file again."""
    seen: dict[str, str] = {}
    for number, line in enumerate(statefile.decode(path, data, STATE_KIND).records, 1):
        try:
            record = json.loads(line)
            if record.get("v") != FORMAT_VERSION:
                raise ValueError(f"unsupported wire state version {record.get('v')!r}")
            # Strings only: a number in either place is not something a run wrote, and a run
            # key compares as text against the horizon (a stray "5" would never expire).
            key, run = record["file"], record["run"]
            if not isinstance(key, str) or not isinstance(run, str):
                raise ValueError("file and run must be strings")
            key_time(run)  # ValueError unless a run key
            seen[key] = run
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateFileError(path, f"record {number} is not a wire state: {exc}") from exc
    return seen


def load_seen(config: WireStateConfig) -> dict[str, str]:
    """The file keys the base snapshot remembers (empty without state or snapshot)."""
    path = base_snapshot(config)
    if path is None:
        return {}
    return decode(statefile.read_bytes(path), path)


def carried(seen: dict[str, str], listed: Iterable[str], config: WireStateConfig) -> dict[str, str]:
    """Remembered keys to keep: still listed, or gone for less than the horizon."""
    current = set(listed)
    cutoff = ""
    if config.run_key:
        moment = key_time(config.run_key) - timedelta(days=config.horizon_days)
        cutoff = moment.strftime(_KEY_FORMAT)
    return {key: run for key, run in seen.items() if key in current or run >= cutoff}


def write_snapshot(config: WireStateConfig, seen: dict[str, str]) -> str:
    """This run's snapshot, atomically (temporary name, rename); old snapshots pruned."""
    from apache_beam.io.filesystems import FileSystems

    final = snapshot_path(config)
    temporary = f"{config.folder}/.tmp-{config.run_key}-{uuid.uuid4().hex}{SUFFIX}"
    if not FileSystems.exists(config.folder):
        FileSystems.mkdirs(config.folder)
    with FileSystems.create(temporary) as handle:
        handle.write(encode(seen, config.run_key))
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([temporary], [final])
    this = (config.run_key, config.run_id)
    others = [s for s in _snapshots(config.folder) if (s[0], s[1]) != this]
    stale = statefile.stale_snapshots(others, config.run_key, config.run_id, config.keep_snapshots)
    if stale:
        FileSystems.delete(stale)
    logger.info("wire state: %d files remembered in %s", len(seen), final)
    return final


class _CommitFn(beam.DoFn):
    def __init__(self, config: WireStateConfig, kept: dict[str, str]) -> None:
        self.config = config
        self.kept = kept

    def process(self, new_keys: list[str], after=None) -> Iterator[str]:
        del after  # only there so the commit waits for the written outputs
        seen = dict(self.kept)
        for key in sorted(new_keys):
            seen.setdefault(key, self.config.run_key)
        Metrics.counter(NAMESPACE, "wire_state_files").inc(len(seen))
        yield write_snapshot(self.config, seen)


class CommitWireState(beam.PTransform):
    """Keys of the files read this run -> the snapshot path, once ``after`` is complete."""

    def __init__(self, config: WireStateConfig, kept: dict[str, str], after=None) -> None:
        super().__init__()
        self.config = config
        self.kept = kept
        self.after = after

    def expand(self, keys):
        gathered = keys | "GatherReadFiles" >> beam.combiners.ToList()
        side = [beam.pvalue.AsList(self.after)] if self.after is not None else []
        return gathered | "WriteWireState" >> beam.ParDo(_CommitFn(self.config, self.kept), *side)
