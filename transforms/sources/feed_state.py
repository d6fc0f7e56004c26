"""Incremental feed state between scheduled batch runs: fetch only what changed, never twice.

Per feed we remember the validators of the last fetched document (ETag, Last-Modified) for a
conditional GET, when it was last fetched (to honour its poll interval when the job runs more
often), and the entry ids already handed downstream, so an hourly run emits only new entries.

Where it lives: ``<state_location>/feeds/feed-state-<run key>-<run id>.jsonl``, one JSON line
per feed, one *snapshot* per run. Run key and run id are the job's one run identity
(``transforms.core.run``): the key is the logical run time (``--run_date``, else the start time),
the id the name the run's output files carry.

What "the same run" means: a run reads the newest snapshot written by an *earlier* run key by
*another* run id, and writes its own snapshot under its own key and id, removing any earlier
attempt of its own. Re-running run R (a retry after a failure, a backfill, the same replay
again) therefore starts from exactly the state the first attempt started from, sends the same
conditional requests, emits the same entries (same ids) and replaces R's snapshot, instead of
finding its own marks and emitting nothing. Later runs are unaffected: they read the newest
snapshot before them. Snapshots named without a run id (``feed-state-<run key>.jsonl``, written
before ids were part of the name) are read as another run's.

Verifiable: a snapshot is framed by a header and a footer holding its record count, the
records' xxh3-64 checksum and its run key (``transforms/core/statefile.py``); a damaged one
stops the run before any output (exit 2) unless ``--state_repair quarantine`` moves it aside.

Atomicity: the snapshot is written to a temporary name and renamed (a single object appears on
``gs://``), and only after what it must wait for (the written outputs) is complete, so a run
that fails before its outputs are final leaves the previous snapshot in charge: its entries are
emitted again on the next attempt. Entries whose article fetch failed transiently can be handed
back (``retry``): they are not marked as seen, and the next run fetches that feed without
validators so it sees them again.

Bounded: ids stay while they are still in the feed document or younger than the horizon
(``--feed_state_horizon_days``), at most ``--feed_state_max_ids`` per feed; only the last few
snapshots are kept.

Streaming: ``FeedState`` and the pure functions (``conditional_headers``, ``is_due``,
``select_new``, ``advance``, ``with_retries``) carry no I/O, so a stateful DoFn keyed by feed URL
can keep the same record in a ``ReadModifyWriteStateSpec`` (``to_json``/``from_json`` through a
string coder) and call the same functions; only the snapshot files are batch-specific.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.core import statefile
from transforms.core.records import DeadLetter, stable_hash
from transforms.core.redact import redact_text, redact_url
from transforms.core.run import KEY_FORMAT, key_time
from transforms.core.statefile import StateFileError

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
FORMAT_VERSION = 1
SNAPSHOT_PREFIX = "feed-state-"
SNAPSHOT_SUFFIX = ".jsonl"
STATE_KIND = "feed-state"
_SNAPSHOT_NAME = re.compile(r"feed-state-(\d{8}T\d{6}Z)(?:-([A-Za-z0-9_-]+))?\.jsonl$")

# Fetch failures worth another try next run; anything else is final for that entry. A page
# not requested because its host had stopped answering (host_unresponsive) was never tried.
TRANSIENT_REASONS = frozenset(
    {"timeout", "connect_error", "http_5xx", "dns_error", "host_unresponsive"}
)


@dataclass(frozen=True)
class StateConfig:
    """Where state lives and how much of it to keep; ``location=None`` disables it."""

    location: str | None = None
    run_key: str = ""  # the run's logical time (transforms.core.run.RunIdentity.run_key)
    run_id: str = ""  # the run's name; a snapshot with the same id is this run's own
    horizon_days: float = 14.0
    max_ids_per_feed: int = 10_000
    keep_snapshots: int = 48

    @property
    def enabled(self) -> bool:
        return bool(self.location)

    @property
    def folder(self) -> str:
        return f"{(self.location or '').rstrip('/')}/feeds"


@dataclass(frozen=True)
class FeedState:
    """What one feed's previous runs learned. Only ``str``s, so it pickles and codes anywhere."""

    feed_url: str
    etag: str | None = None
    last_modified: str | None = None
    fetched_run: str | None = None  # run key of the last fetch that reached the server
    seen: tuple[tuple[str, str], ...] = ()  # (entry_id, run key first seen), sorted by id
    retry: tuple[str, ...] = ()  # ids handed back for another attempt, sorted
    run: str = ""  # run key of the snapshot this came from
    last_success: str | None = None  # fetch time of the last usable document
    last_error: str | None = None  # the last failure (redacted, bounded), cleared by a success
    # Join key: a hash of the feed URL as configured. Snapshots store the URL redacted (a feed
    # URL may carry a token), so the key, not the URL, finds a feed's state again.
    feed_key: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return self.feed_key or feed_key_for(self.feed_url)

    def seen_ids(self) -> frozenset[str]:
        return frozenset(entry_id for entry_id, _ in self.seen)

    def to_json(self) -> str:
        record = {
            "v": FORMAT_VERSION,
            "feed_url": redact_url(self.feed_url),
            "feed_key": self.key,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "fetched_run": self.fetched_run,
            "seen": [list(pair) for pair in self.seen],
            "retry": list(self.retry),
            "run": self.run,
            "last_success": self.last_success,
            "last_error": self.last_error,
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> FeedState:
        """A state record, checked field by field: a snapshot whose checksum holds can still
        carry values no run wrote (a hand edit, a bug, another tool), and a run must refuse it
        before any output (exit 2), not crash on it while reading feeds or send a forged
        validator as a request header."""
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {_json_type(record)}, not an object")
        version = record.get("v")
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise ValueError(
                f"feed state version {version}, written by a newer wirestream than this one "
                f"(which reads version {FORMAT_VERSION}); run the version that wrote it"
            )
        if version != FORMAT_VERSION:
            raise ValueError(f"unsupported feed state version {version!r}")
        # Every writer since the first wrote these: one missing is not "nothing seen yet" but a
        # record something else produced, and reading it as empty would emit the feed again.
        missing = [name for name in REQUIRED_FIELDS if name not in record]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)}")
        feed_url = record.get("feed_url")
        if not isinstance(feed_url, str) or not feed_url:
            raise ValueError("feed_url must be a non-empty string")
        seen = record.get("seen", [])
        retry = record.get("retry", [])
        if not isinstance(seen, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in seen
        ):
            raise ValueError("seen must be a list of [entry id, run key] pairs")
        if not isinstance(retry, list) or not all(isinstance(i, str) for i in retry):
            raise ValueError("retry must be a list of entry ids")
        return cls(
            feed_key=_text(record, "feed_key") or feed_key_for(feed_url),
            feed_url=feed_url,
            etag=_header_value(record, "etag"),
            last_modified=_header_value(record, "last_modified"),
            fetched_run=_run_key(record.get("fetched_run"), "fetched_run", optional=True),
            seen=tuple(sorted((i, _run_key(t, "seen", optional=True) or "") for i, t in seen)),
            retry=tuple(sorted(retry)),
            run=_run_key(record.get("run", ""), "run", optional=True) or "",
            last_success=_text(record, "last_success"),
            last_error=_text(record, "last_error"),
        )


# Written by every version of ``to_json``; later additions (feed_key, last_success,
# last_error) may be absent from older snapshots.
REQUIRED_FIELDS = ("v", "feed_url", "etag", "last_modified", "fetched_run", "seen", "retry", "run")


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_VALIDATOR_CHARS = 8192  # an ETag or Last-Modified longer than this is not one a server sent


def _text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null, not {type(value).__name__}")
    return value


def _header_value(record: Mapping[str, Any], name: str) -> str | None:
    """A validator sent back as a request header: no control characters (CR/LF would split the
    request), bounded."""
    value = _text(record, name)
    if value is not None and (_CONTROL.search(value) or len(value) > MAX_VALIDATOR_CHARS):
        raise ValueError(f"{name} is not a header value (control characters or too long)")
    return value


def _run_key(value: Any, name: str, optional: bool = False) -> str | None:
    if optional and value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a run key string, not {type(value).__name__}")
    key_time(value)  # ValueError unless YYYYMMDDTHHMMSSZ
    return value


def feed_key_for(feed_url: str) -> str:
    """The state's join key for a feed URL as configured (with any secret it carries)."""
    return stable_hash("feed", feed_url)


# --------------------------------------------------------------------------- pure logic


def conditional_headers(state: FeedState | None) -> tuple[str | None, str | None]:
    """(ETag, Last-Modified) to send; none while entries await a retry (a 304 would hide them)."""
    if state is None or state.retry:
        return None, None
    return state.etag, state.last_modified


def is_due(state: FeedState | None, poll_minutes: int, run_key: str) -> bool:
    """Has the feed's poll interval passed since its last fetch (in logical run time)?"""
    if state is None or not state.fetched_run or not run_key:
        return True
    elapsed = key_time(run_key) - key_time(state.fetched_run)
    return elapsed < timedelta(0) or elapsed >= timedelta(minutes=max(0, poll_minutes))


def select_new(state: FeedState | None, entry_ids: Iterable[str]) -> list[str]:
    """Ids not handed downstream by an earlier run, in the given order."""
    seen = state.seen_ids() if state is not None else frozenset()
    return [entry_id for entry_id in entry_ids if entry_id not in seen]


def advance(
    state: FeedState | None,
    feed_url: str,
    config: StateConfig,
    *,
    document_ids: Iterable[str] = (),
    emitted_ids: Iterable[str] = (),
    etag: str | None = None,
    last_modified: str | None = None,
    not_modified: bool = False,
    at: str | None = None,
) -> FeedState:
    """The feed's state after this run fetched it (200 with a document, or 304)."""
    previous = state or FeedState(feed_url=feed_url)
    if not_modified:
        return replace(
            previous,
            fetched_run=config.run_key,
            run=config.run_key,
            last_success=at or previous.last_success,
            last_error=None,
        )
    seen = dict(previous.seen)
    for entry_id in emitted_ids:
        seen.setdefault(entry_id, config.run_key)
    current = set(document_ids)
    cutoff = ""
    if config.run_key:
        cutoff = (key_time(config.run_key) - timedelta(days=config.horizon_days)).strftime(
            KEY_FORMAT
        )
    kept = [(i, t) for i, t in seen.items() if i in current or t >= cutoff]
    if len(kept) > config.max_ids_per_feed:
        kept.sort(key=lambda pair: (pair[1], pair[0]), reverse=True)
        kept = kept[: config.max_ids_per_feed]
    return FeedState(
        feed_url=feed_url,
        etag=etag,
        last_modified=last_modified,
        fetched_run=config.run_key,
        seen=tuple(sorted(kept)),
        retry=(),
        run=config.run_key,
        last_success=at or previous.last_success,
        last_error=None,
    )


def carry(
    state: FeedState | None, feed_url: str, config: StateConfig, error: str | None = None
) -> FeedState:
    """State of a feed not fetched this run (not due, or it failed): unchanged but for
    ``error``. A failed fetch or an unusable document must not move the validators, or the
    next conditional GET would be answered 304 and the feed never read again."""
    carried = replace(state or FeedState(feed_url=feed_url), run=config.run_key)
    if error:
        carried = replace(carried, last_error=redact_text(error)[:300])
    return carried


def with_retries(state: FeedState, entry_ids: Iterable[str]) -> FeedState:
    """Hand entries back: not seen, and the next fetch goes without validators."""
    retry = set(entry_ids)
    if not retry:
        return state
    return replace(
        state,
        seen=tuple(pair for pair in state.seen if pair[0] not in retry),
        retry=tuple(sorted(retry | set(state.retry))),
    )


# --------------------------------------------------------------------------- snapshot files


@dataclass(frozen=True, order=True)
class _Snapshot:
    run_key: str
    run_id: str  # "" for snapshots named before run ids were part of the name
    path: str


def _snapshots(folder: str) -> list[_Snapshot]:
    """The folder's snapshots, oldest run key first."""
    from apache_beam.io.filesystems import FileSystems

    pattern = f"{folder}/{SNAPSHOT_PREFIX}*{SNAPSHOT_SUFFIX}"
    # A folder that does not exist yet matches nothing; other errors (permissions) must surface:
    # silently starting from no state would fetch and emit every entry again.
    matches = FileSystems.match([pattern])[0].metadata_list
    found = []
    for metadata in matches:
        name = _SNAPSHOT_NAME.search(metadata.path)
        if name:
            found.append(_Snapshot(name.group(1), name.group(2) or "", metadata.path))
    return sorted(found)


def snapshot_path(config: StateConfig) -> str:
    """Where this run's snapshot goes."""
    suffix = f"-{config.run_id}" if config.run_id else ""
    return f"{config.folder}/{SNAPSHOT_PREFIX}{config.run_key}{suffix}{SNAPSHOT_SUFFIX}"


def base_snapshot(config: StateConfig) -> str | None:
    """The snapshot this run starts from: the newest one an earlier run key of another run wrote."""
    if not config.enabled:
        return None
    try:
        snapshots = _snapshots(config.folder)
    except Exception as exc:  # filesystem layers raise their own types (IOError, GCS errors, …)
        raise ValueError(
            f"--state_location {config.location}: cannot list {config.folder} "
            f"({type(exc).__name__}: {exc}). Fix: check the path and that these credentials "
            "may read and write it"
        ) from exc
    earlier = [s for s in snapshots if s.run_key < config.run_key and not _own(s, config)]
    return earlier[-1].path if earlier else None


def _own(snapshot: _Snapshot, config: StateConfig) -> bool:
    return bool(config.run_id) and snapshot.run_id == config.run_id


def parse_snapshot(path: str, records: Iterable[str]) -> Iterator[FeedState]:
    """The snapshot's states. A writer keeps one record per feed; two for one feed (a merge by
    hand, another tool) would leave the reader to pick one, and the one with fewer ids seen
    emits the feed's entries again, so that is damaged state too."""
    first: dict[str, int] = {}
    for number, line in enumerate(records, 1):
        if line.strip():
            try:
                state = FeedState.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                raise StateFileError(path, f"record {number} is not a feed state: {exc}") from exc
            if state.key in first:
                raise StateFileError(
                    path,
                    f"record {number} is a second record for feed {redact_url(state.feed_url)} "
                    f"(the first is record {first[state.key]})",
                )
            first[state.key] = number
            yield state


def read_snapshot(path: str) -> Iterator[FeedState]:
    """The snapshot's states, verified first (``transforms/core/statefile.py``): a snapshot
    that lost records would make the run emit again what earlier runs already emitted."""
    yield from parse_snapshot(path, statefile.read(path, STATE_KIND).records)


def snapshot_bytes(run_key: str, states: Iterable[FeedState]) -> bytes:
    ordered = sorted(states, key=lambda s: s.key)
    return statefile.encode(STATE_KIND, run_key, [state.to_json() for state in ordered])


def write_snapshot(config: StateConfig, states: Iterable[FeedState]) -> str:
    """Write this run's snapshot atomically (temporary name, then rename) and prune old ones.

    Temporary files an earlier attempt of this run left behind (killed between create and
    rename) are removed; other runs' are not touched, they may be running now.
    """
    from apache_beam.io.filesystems import FileSystems

    final = snapshot_path(config)
    prefix = f"{config.folder}/.tmp-{config.run_key}-{config.run_id}-"
    temporary = f"{prefix}{uuid.uuid4().hex}{SNAPSHOT_SUFFIX}"
    # This run's temporaries only: run "daily" must not take those of a concurrent "daily-2".
    mine = re.compile(re.escape(prefix.rsplit("/", 1)[1]) + r"[0-9a-f]{32}" + SNAPSHOT_SUFFIX)
    states = list(states)
    payload = snapshot_bytes(config.run_key, states)
    if not FileSystems.exists(config.folder):
        FileSystems.mkdirs(config.folder)
    with FileSystems.create(temporary) as handle:
        handle.write(payload)
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([temporary], [final])
    leftovers = [
        m.path
        for m in FileSystems.match([f"{prefix}*"])[0].metadata_list
        if mine.fullmatch(m.path.rsplit("/", 1)[1])
    ]
    if leftovers:
        FileSystems.delete(leftovers)
    this = (config.run_key, config.run_id)
    others = [
        (s.run_key, s.run_id, s.path)
        for s in _snapshots(config.folder)
        if (s.run_key, s.run_id) != this
    ]
    stale = statefile.stale_snapshots(others, config.run_key, config.run_id, config.keep_snapshots)
    if stale:
        FileSystems.delete(stale)
    logger.info("wrote feed state for %d feeds to %s", len(states), final)
    return final


# --------------------------------------------------------------------------- Beam transforms


class _ReadSnapshotFn(beam.DoFn):
    def process(self, path: str) -> Iterator[tuple[str, FeedState]]:
        for state in read_snapshot(path):
            Metrics.counter(NAMESPACE, "feed_state_loaded").inc()
            yield state.key, state


class ReadFeedStates(beam.PTransform):
    """Pipeline root -> (feed key, FeedState) from the run's base snapshot (empty if none).

    The key is ``feed_key_for(url)`` of the URL in the feed list (``FeedState.key``)."""

    def __init__(self, config: StateConfig) -> None:
        super().__init__()
        self.config = config
        # Chosen at construction: the listing is cheap and makes the graph's input explicit.
        self.path = base_snapshot(config)

    def expand(self, pbegin):
        paths = [self.path] if self.path else []
        return (
            pbegin
            | "BaseSnapshot" >> beam.Create(paths)
            | "ParseSnapshot" >> beam.ParDo(_ReadSnapshotFn())
        )


def _apply_retries(item: tuple[str, Mapping[str, Any]]) -> Iterator[FeedState]:
    _, grouped = item
    retry_ids = sorted({dead.entry_id for dead in grouped["retry"] if dead.entry_id})
    for state in grouped["state"]:
        if retry_ids:
            Metrics.counter(NAMESPACE, "feed_state_retry").inc(len(retry_ids))
        yield with_retries(state, retry_ids)


class _CommitFn(beam.DoFn):
    def __init__(self, config: StateConfig) -> None:
        self.config = config

    def process(self, states, after=None) -> Iterator[str]:
        del after  # only there so the commit waits for it
        by_url: dict[str, FeedState] = {}
        for state in sorted(states, key=lambda s: (s.key, s.to_json())):
            by_url.setdefault(state.key, state)
        Metrics.counter(NAMESPACE, "feed_state_written").inc(len(by_url))
        yield write_snapshot(self.config, by_url.values())


class CommitFeedState(beam.PTransform):
    """FeedState pcoll -> the snapshot path, written once ``after`` is complete.

    ``after``: any PCollection that must be finished first (the written output files), used as
    a side input so the commit cannot run before it. ``retry``: dead letters (with
    ``entry_id``/``feed_url``); those with a transient reason are handed back for the next run.
    """

    def __init__(self, config: StateConfig, after=None, retry=None) -> None:
        super().__init__()
        self.config = config
        self.after = after
        self.retry = retry

    def expand(self, states):
        if self.retry is not None:
            retry = (
                self.retry
                | "TransientOnly"
                >> beam.Filter(
                    lambda d: (
                        isinstance(d, DeadLetter)
                        and d.reason in TRANSIENT_REASONS
                        and bool(d.entry_id and d.feed_url)
                    )
                )
                | "RetryByFeed" >> beam.Map(lambda d: (d.feed_url, d))
            )
            # Dead letters carry the redacted feed URL: join on that form.
            keyed = states | "StateByFeed" >> beam.Map(lambda s: (redact_url(s.feed_url), s))
            states = (
                {"state": keyed, "retry": retry}
                | "JoinRetries" >> beam.CoGroupByKey()
                | "HandBack" >> beam.FlatMap(_apply_retries)
            )
        gathered = states | "Gather" >> beam.combiners.ToList()
        side = []
        if self.after is not None:
            side.append(beam.pvalue.AsList(self.after))
        return gathered | "WriteSnapshot" >> beam.ParDo(_CommitFn(self.config), *side)
