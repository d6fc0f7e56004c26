"""Fingerprint store: what earlier scheduled runs decided, so a new run can dedup against it.

Layout (local path or ``gs://``, always through ``FileSystems``)::

    <state_location>/dedup/<MinHashConfig.name>/dt=<run date>/fingerprints-<run id>.jsonl

One JSON line per story a run decided (canonicals *and* duplicates, so a re-run recognises every
story it already wrote and a copy of a copy still finds its cluster): story id, cluster id, band
keys (hex), signature (base64 uint32), shingle count, content hash, published time. Partitions
are by *run* date, so the horizon (``--dedup_horizon_days``) is counted in days of runs and a re-run
of a day always sees what that day wrote, whatever the stories' own publication dates.

Verifiable: every file is framed by a header and a footer with its record count, the records'
xxh3-64 checksum and the run id (``transforms/core/statefile.py``). A file that lost records
would let stories earlier runs wrote be archived again as new canonicals, so a damaged file
stops the run before any output (exit 2; ``pipeline/state_check.py``) unless
``--state_repair quarantine`` moves it aside and the report counts what it may re-admit.

Idempotence: a *later* run that meets a story id already in the store does not decide or write it
again (the story goes to ``rejected/`` as ``already_stored``), and appends only what it decided
itself, so a second run over the same stories writes no new canonicals and no new fingerprints.
A *re-run* of the same run (same run id) ignores its own earlier file, so it reproduces the same
decisions (the writer replaces that run's files) and replaces its file with identical content:
nothing is written twice. Files are written under a temporary name and renamed into place. The
signature config's name is part of the path: changing shingle size, permutations, bands or seed
starts a fresh store rather than comparing incompatible signatures.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.core import statefile
from transforms.core.records import stable_hash
from transforms.core.statefile import StateFileError
from transforms.dedup.minhash import Fingerprint, MinHashConfig, MinHasher

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
STORE_KIND = "fingerprints"


@dataclass(frozen=True)
class StoreConfig:
    """Where the store lives and how far back a run looks."""

    state_location: str
    run_date: str  # YYYY-MM-DD, the partition this run appends to
    run_id: str
    horizon_days: int = 7

    def __post_init__(self) -> None:
        date.fromisoformat(self.run_date)
        if not self.run_id or "/" in self.run_id:
            raise ValueError(f"run id {self.run_id!r} cannot name a store file")
        if self.horizon_days < 0:
            raise ValueError("--dedup_horizon_days must be >= 0")

    def root(self, minhash: MinHashConfig) -> str:
        return FileSystems.join(self.state_location.rstrip("/"), "dedup", minhash.name)

    @property
    def file_name(self) -> str:
        return f"fingerprints-{self.run_id}.jsonl"

    def days(self) -> list[str]:
        """Run-date partitions inside the horizon, oldest first (today included)."""
        end = date.fromisoformat(self.run_date)
        return [(end - timedelta(days=n)).isoformat() for n in range(self.horizon_days, -1, -1)]


def store_record(fingerprint: Fingerprint, hasher: MinHasher) -> dict:
    """JSON line for the store; ``band_keys`` are the LSH band keys in hex (what lookups use)."""
    import numpy as np

    record = fingerprint.to_json()
    signature = np.frombuffer(fingerprint.signature, dtype=np.uint32)
    keys = hasher.band_keys(signature) if len(signature) else []
    record["band_keys"] = [key.hex() for key in keys]
    return record


def parse_record(line: str, minhash: MinHashConfig) -> Fingerprint:
    """A stored record, checked to be one this store wrote (``ValueError`` otherwise): the
    preflight refuses a file whose records a run would crash on, or would compare wrongly
    (a signature of another length), even when its checksum holds."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    for name in ("story_id", "content_hash", "published", "signature", "sample"):
        if not isinstance(record.get(name), str):
            raise ValueError(f"{name} must be a string")
    keys = record.get("band_keys", [])
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise ValueError("band_keys must be a list of strings")
    # Numbers as numbers: int() would take "5" (or True) quietly, and a store that holds them
    # as strings was not written by this store.
    for name in ("cleaning_hits", "text_length", "shingle_count", "wire_version"):
        value = record.get(name)
        if value is None and name == "wire_version":
            continue  # absent in stores older than wire input
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r:.40}")
    cluster = record.get("cluster_id")
    if cluster is not None and not isinstance(cluster, str):
        raise ValueError("cluster_id must be a string")
    for name in ("signature", "sample"):  # b64decode alone drops characters it does not know
        try:
            base64.b64decode(record[name], validate=True)
        except ValueError as exc:
            raise ValueError(f"{name} is not base64: {exc}") from None
    try:
        fingerprint = Fingerprint.from_json(record)
    except (KeyError, TypeError, ValueError) as exc:  # binascii.Error is a ValueError
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    if len(fingerprint.signature) not in (0, 4 * minhash.num_perm):
        raise ValueError(
            f"signature of {len(fingerprint.signature) // 4} values, not {minhash.num_perm}"
        )
    if len(fingerprint.sample) % 4:
        raise ValueError("sample is not a list of 32-bit values")
    return fingerprint


def lookup_keys(fingerprint: Fingerprint, hasher: MinHasher) -> Iterator[str]:
    """What a stored record must share with a new story to matter to this run.

    Only the LSH band keys, not the bottom-k sample keys: a sample key made from a common
    shingle is shared by a fixed share of *all* stories, so it would load a share of the whole
    store into every run. Band keys are shared only by similar stories, so what a run loads
    stays proportional to its own size. Band keys are plain hex; ids and content hashes carry
    a NUL prefix (never in hex), so the kinds cannot collide and a record tests with one
    C-level ``isdisjoint``.
    """
    import numpy as np

    yield "\x00i" + fingerprint.story_id
    yield "\x00h" + fingerprint.content_hash
    if not fingerprint.empty:
        signature = np.frombuffer(fingerprint.signature, dtype=np.uint32)
        for key in hasher.band_keys(signature):
            yield key.hex()


def _wanted(record: dict, wanted: frozenset[str]) -> bool:
    return (
        not wanted.isdisjoint(record.get("band_keys", ()))
        or "\x00i" + record["story_id"] in wanted
        or "\x00h" + record["content_hash"] in wanted
    )


class _ReadStoreDayFn(beam.DoFn):
    """Reads one run-date partition; a missing partition is simply an empty day."""

    def __init__(self, root: str, own_file: str) -> None:
        self._root = root
        self._own_file = own_file
        self._loaded = Metrics.counter(NAMESPACE, "dedup_store_loaded")
        self._scanned = Metrics.counter(NAMESPACE, "dedup_store_scanned")

    def process(self, day: str, wanted: frozenset[str] | None = None) -> Iterator[Fingerprint]:
        pattern = FileSystems.join(self._root, f"dt={day}", "fingerprints-*.jsonl")
        match = FileSystems.match([pattern])[0]
        for metadata in sorted(match.metadata_list, key=lambda m: m.path):
            if metadata.path.rsplit("/", 1)[-1] == self._own_file:
                continue  # a re-run of this run: decide again, do not dedup against itself
            # Verified (count, checksum) before a record is used; the run's preflight checked
            # the same files, so this only fails if one changed while the job ran.
            for number, line in enumerate(statefile.read(metadata.path, STORE_KIND).records, 1):
                if not line.strip():
                    continue
                self._scanned.inc()
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise StateFileError(metadata.path, f"record {number}: {exc}") from exc
                if wanted is None or _wanted(record, wanted):
                    self._loaded.inc()
                    yield Fingerprint.from_json(record, stored_on=day)


class _LookupKeysFn(beam.DoFn):
    def __init__(self, minhash: MinHashConfig) -> None:
        self._minhash = minhash

    def setup(self) -> None:
        self._hasher = MinHasher(self._minhash)

    def process(self, fingerprint: Fingerprint) -> Iterator[str]:
        yield from lookup_keys(fingerprint, self._hasher)


class ReadFingerprintStore(beam.PTransform):
    """New fingerprints -> the stored fingerprints inside the horizon that can matter to them.

    The store is scanned line by line and only records sharing a story id, a content hash or a
    bucket key with this run's stories are kept (the run's keys travel as one side-input set,
    about 50 short strings per story). A run's memory therefore depends on its own size and
    on how many stored stories it actually meets, not on how large the store has grown.
    """

    def __init__(self, store: StoreConfig, minhash: MinHashConfig) -> None:
        super().__init__()
        self._store = store
        self._minhash = minhash

    def expand(self, fingerprints: beam.PCollection) -> beam.PCollection:
        wanted = (
            fingerprints
            | "LookupKeys" >> beam.ParDo(_LookupKeysFn(self._minhash))
            | "LookupKeySet" >> beam.CombineGlobally(_KeySetFn())
        )
        return (
            fingerprints.pipeline
            | "StoreDays" >> beam.Create(self._store.days())
            | "ReadStoreDay"
            >> beam.ParDo(
                _ReadStoreDayFn(self._store.root(self._minhash), self._store.file_name),
                wanted=beam.pvalue.AsSingleton(wanted),
            )
            | "SpreadStored" >> beam.Reshuffle()
        )


class _KeySetFn(beam.CombineFn):
    def create_accumulator(self) -> set[str]:
        return set()

    def add_input(self, accumulator: set[str], key: str) -> set[str]:
        accumulator.add(key)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[set[str]]) -> set[str]:
        merged: set[str] = set()
        for accumulator in accumulators:
            merged |= accumulator
        return merged

    def extract_output(self, accumulator: set[str]) -> frozenset[str]:
        return frozenset(accumulator)


class _WriteStoreFileFn(beam.DoFn):
    def __init__(
        self, directory: str, file_name: str, minhash: MinHashConfig, run: str = ""
    ) -> None:
        self._directory = directory
        self._file_name = file_name
        self._minhash = minhash
        self._run = run
        self._appended = Metrics.counter(NAMESPACE, "dedup_store_appended")

    def setup(self) -> None:
        self._hasher = MinHasher(self._minhash)

    def process(self, element: tuple[str, Iterable[Fingerprint]]) -> Iterator[str]:
        _, fingerprints = element
        unique = {fp.story_id: fp for fp in fingerprints}
        if not unique:
            return
        ids = sorted(unique)
        final = FileSystems.join(self._directory, self._file_name)
        temporary = FileSystems.join(self._directory, f".tmp-{stable_hash(*ids)}-{self._file_name}")
        lines = [json.dumps(store_record(unique[i], self._hasher), sort_keys=True) for i in ids]
        body = statefile.encode(STORE_KIND, self._run, lines)
        with FileSystems.create(temporary) as handle:
            handle.write(body)
        if FileSystems.exists(final):
            FileSystems.delete([final])  # a re-run's own earlier file
        FileSystems.rename([temporary], [final])
        # An earlier attempt of this run killed between create and rename left its temporary.
        pattern = FileSystems.join(self._directory, f".tmp-*-{self._file_name}")
        leftovers = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        if leftovers:
            FileSystems.delete(leftovers)
        self._appended.inc(len(ids))
        logger.info("stored %d fingerprints in %s", len(ids), final)
        yield final


class AppendFingerprints(beam.PTransform):
    """Appends this run's decided fingerprints to today's partition; returns the files written.

    ``after`` (optional) is any PCollection that must be complete first, typically the result
    of the story writer: appending only after the stories are on disk means a failed write can
    be retried without the retry finding its own stories "already stored".
    """

    def __init__(
        self,
        store: StoreConfig,
        minhash: MinHashConfig,
        after: beam.PCollection | None = None,
    ) -> None:
        super().__init__()
        self._store = store
        self._minhash = minhash
        self._after = after

    def expand(self, fingerprints: beam.PCollection) -> beam.PCollection:
        day = self._store.run_date
        # One file per run: the run's own decisions, gathered on one key (bounded by run size).
        if self._after is not None:
            barrier = beam.pvalue.AsList(
                self._after | "BarrierCount" >> beam.combiners.Count.Globally()
            )
            fingerprints = fingerprints | "WaitForWrite" >> beam.Map(
                lambda fp, _done: fp, _done=barrier
            )
        return (
            fingerprints
            | "KeyByRunDate" >> beam.Map(lambda fp: (day, fp))
            | "GroupRunDate" >> beam.GroupByKey()
            | "WriteStoreFile"
            >> beam.ParDo(
                _WriteStoreFileFn(
                    FileSystems.join(self._store.root(self._minhash), f"dt={day}"),
                    self._store.file_name,
                    self._minhash,
                    self._store.run_id,
                )
            )
        )
