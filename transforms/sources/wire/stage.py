"""ReadWireItems / WatchWireItems: agency files from a drop folder or bucket -> stories.

``--wire_input`` is a folder (read recursively), a glob, or a ``gs://`` prefix. A batch run lists
it once and reads the files no earlier run read (``transforms/sources/wire/state.py``, with
``--state_location``); a streaming run watches it with Beam's ``fileio.MatchContinuously``,
which emits each file once. Files whose names say they are still being written (``.tmp``,
``.part``, a leading ``.`` or ``_``) are left for a later run and counted
(``wire_files_in_flight``).

Each file is parsed from its bytes (``detect.parse_wire_file``: NewsML-G2, ninjs 1-3, NITF), and
every item in it counts once in the run's accounting (``entries_read``, ``wire_items_read``):
it becomes a story, a rejection (``not_text``, ``no_text``, ``too_short``, ``withdrawn``,
``withheld``, ``superseded``) or a dead letter (``bad_xml``, ``hostile_xml``, ``too_large``, …;
a file that cannot be parsed at all is one dead letter). Items of one guid are grouped (a
GroupByKey on the guid, in the job's windows when streaming) so only the highest version becomes
a story. Wire stories skip fetching and extraction; ``pipeline.graph`` hands them to language
detection, tagging and dedup with the web stories.

Outputs: ``ok`` (Story), ``rejected`` (Rejected), ``dead`` (DeadLetter) and, in batch, ``read``
(keys of the files read, for ``CommitWireState`` once the outputs are written).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.core.records import Rejected
from transforms.core.run import RunIdentity
from transforms.extract.config import ExtractConfig
from transforms.sources.wire.detect import MAX_FILE_BYTES, parse_wire_file
from transforms.sources.wire.items import READ_ERROR, TOO_LARGE, WireItem, WireProblem
from transforms.sources.wire.state import WireStateConfig, carried, load_seen
from transforms.sources.wire.story import (
    Envelope,
    TextConfig,
    WireFile,
    choose_version,
    dead_letter,
    decide,
    entry_id_for,
    needs_version_choice,
    not_text,
    problem_rejection,
)

logger = logging.getLogger(__name__)

NAMESPACE = "wirestream"
IN_FLIGHT_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload", ".lock", ".swp")


@dataclass(frozen=True)
class WireConfig:
    input: str | None = None
    text: TextConfig = field(default_factory=TextConfig)
    state: WireStateConfig = field(default_factory=WireStateConfig)
    max_file_bytes: int = MAX_FILE_BYTES
    poll_seconds: float = 60.0  # streaming: how often the folder is listed

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1:
            raise ValueError("--wire_max_file_bytes must be positive")
        if self.poll_seconds <= 0:
            raise ValueError("--wire_poll_seconds must be positive")

    @property
    def enabled(self) -> bool:
        return bool(self.input)

    @property
    def pattern(self) -> str:
        return pattern_for(self.input or "")


def pattern_for(path: str) -> str:
    """A folder or prefix is read recursively; a path with glob characters is used as given."""
    if any(ch in path for ch in "*?["):
        return path
    return path.rstrip("/") + "/**"


def input_root(path: str) -> str:
    """The folder part of ``--wire_input`` (before any glob character): names are relative to it."""
    cut = min((path.index(ch) for ch in "*?[" if ch in path), default=None)
    if cut is None:
        return path.rstrip("/")
    return path[:cut].rsplit("/", 1)[0]


def in_flight(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith((".", "_")) or name.lower().endswith(IN_FLIGHT_SUFFIXES)


def wire_file(metadata, root: str) -> WireFile:
    path = metadata.path
    name = path[len(root) :].lstrip("/") if root and path.startswith(root + "/") else path
    return WireFile(
        path=path,
        size=int(metadata.size_in_bytes or 0),
        mtime=float(getattr(metadata, "last_updated_in_seconds", 0.0) or 0.0),
        name=name,
    )


def list_files(config: WireConfig) -> list[WireFile]:
    """Every complete file under ``--wire_input``, sorted by path (a bad location is exit 2)."""
    from apache_beam.io.filesystems import FileSystems

    try:
        matched = FileSystems.match([config.pattern])[0].metadata_list
    except Exception as exc:  # filesystem layers raise their own types
        raise ValueError(
            f"--wire_input {config.input}: cannot list it ({type(exc).__name__}: {exc}). "
            "Fix: pass an existing folder, glob or gs:// prefix these credentials may read"
        ) from exc
    path = config.input or ""
    globbed = any(ch in path for ch in "*?[")
    # An empty bucket prefix is an ordinary quiet hour; a missing local folder is a typo.
    if not matched and not globbed and "://" not in path and not FileSystems.exists(path):
        raise ValueError(
            f"--wire_input {config.input}: no such folder or prefix. Fix: create it, or "
            "pass the folder the agency files are delivered to"
        )
    root = input_root(path)
    return sorted((wire_file(m, root) for m in matched), key=lambda f: f.path)


def check_input(config: WireConfig) -> None:
    """Preflight (exit 2 before any output): the input can be listed. ``ReadWireItems`` lists
    again when the graph is built. The wire state is verified with every other state file
    (``pipeline/state_check.py``), where ``--state_repair quarantine`` applies to it too."""
    if not config.enabled:
        return
    list_files(config)


def read_capped(path: str, limit: int) -> bytes:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read(limit + 1)


def _count(name: str, n: int = 1) -> None:
    Metrics.counter(NAMESPACE, name).inc(n)


def read_file_outcomes(file: WireFile, max_bytes: int, data: bytes) -> Iterator:
    """Every item of one file's bytes as an outcome, each counted once."""
    outcomes: list[WireItem | WireProblem] = parse_wire_file(data, max_bytes)
    for outcome in outcomes:
        _count("entries_read")
        _count("wire_items_read")
        if isinstance(outcome, WireProblem):
            if outcome.rejection:
                _count(f"wire_rejected_{outcome.reason}")
                yield beam.pvalue.TaggedOutput(
                    ReadWireFileFn.REJECTED, problem_rejection(outcome, file)
                )
            else:
                _count(f"wire_dead_{outcome.reason}")
                yield beam.pvalue.TaggedOutput(ReadWireFileFn.DEAD, dead_letter(outcome, file))
            continue
        _count(f"wire_format_{outcome.source_format.replace('-', '_')}")
        envelope = Envelope(outcome, file, entry_id_for(file, outcome.index))
        if needs_version_choice(outcome):
            yield outcome.guid, envelope
        else:
            _count("wire_rejected_not_text")
            yield beam.pvalue.TaggedOutput(ReadWireFileFn.REJECTED, not_text(envelope))


class _CountListingFn(beam.DoFn):
    """What the launcher's listing found but the run does not read, as counters."""

    def process(self, element: tuple[str, int]) -> Iterator[None]:
        name, n = element
        _count(name, n)
        return iter(())


class ReadWireFileFn(beam.DoFn):
    """WireFile -> (guid, Envelope) for versioned items; rejections, dead letters, read keys."""

    DEAD = "dead"
    REJECTED = "rejected"
    READ = "read"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def _read(self, file: WireFile) -> tuple[bytes, None] | tuple[None, WireProblem]:
        if file.size > self.max_bytes:  # listed size: not even read
            limit = f"{file.size} bytes > --wire_max_file_bytes {self.max_bytes}"
            return None, WireProblem(TOO_LARGE, limit)
        try:
            return read_capped(file.path, self.max_bytes), None
        except Exception as exc:  # any filesystem failure: reported, retried next run
            return None, WireProblem(READ_ERROR, f"{type(exc).__name__}: {exc}")

    def process(self, file: WireFile) -> Iterator:
        _count("wire_files_read")
        data, problem = self._read(file)
        if data is not None:
            file = replace(file, digest=hashlib.sha256(data).hexdigest()[:20])
            yield from read_file_outcomes(file, self.max_bytes, data)
        elif problem is not None:
            _count("entries_read")
            _count("wire_items_read")
            _count(f"wire_dead_{problem.reason}")
            yield beam.pvalue.TaggedOutput(self.DEAD, dead_letter(problem, file))
        if problem is None or problem.reason != READ_ERROR:
            # A file that could not be read is not marked: the next run tries it again.
            yield beam.pvalue.TaggedOutput(self.READ, file.key)


class ChooseVersionFn(beam.DoFn):
    """(guid, envelopes) -> the highest version's story or decision; the others superseded."""

    REJECTED = "rejected"

    def __init__(self, text: TextConfig) -> None:
        self.text = text

    def process(self, element: tuple[str, Iterable[Envelope]]) -> Iterator:
        _, envelopes = element
        kept, superseded = choose_version(list(envelopes))
        for rejection in superseded:
            _count("wire_rejected_superseded")
            yield beam.pvalue.TaggedOutput(self.REJECTED, rejection)
        outcome = decide(kept, self.text)
        if isinstance(outcome, Rejected):
            _count(f"wire_rejected_{outcome.reason}")
            yield beam.pvalue.TaggedOutput(self.REJECTED, outcome)
        else:
            _count("wire_stories")
            yield outcome


def _versions(items: beam.PCollection, text: TextConfig) -> beam.pvalue.DoOutputsTuple:
    return (
        items
        | "GroupWireVersions" >> beam.GroupByKey()
        | "ChooseWireVersion"
        >> beam.ParDo(ChooseVersionFn(text)).with_outputs(ChooseVersionFn.REJECTED, main="ok")
    )


class ReadWireItems(beam.PTransform):
    """Pipeline root -> {"ok", "rejected", "dead", "read"} for the files new since the last run.

    The folder is listed and the state read when the transform is built (on the launcher), so
    the files a run takes are fixed before any worker starts and a re-run takes the same ones.
    """

    def __init__(self, config: WireConfig) -> None:
        super().__init__()
        self.config = config
        listed = list_files(config)
        self.in_flight = [f for f in listed if in_flight(f.path)]
        complete = [f for f in listed if not in_flight(f.path)]
        seen = load_seen(config.state) if config.state.enabled else {}
        self.files = [f for f in complete if f.key not in seen]
        self.seen_before = len(complete) - len(self.files)
        self.kept = carried(seen, [f.key for f in complete], config.state)
        logger.info(
            "wire input %s: %d new files, %d read before, %d still being written",
            config.input,
            len(self.files),
            self.seen_before,
            len(self.in_flight),
        )

    def expand(self, pbegin):
        config = self.config
        counts = [
            ("wire_files_seen_before", self.seen_before),
            ("wire_files_in_flight", len(self.in_flight)),
        ]
        _ = (
            pbegin
            | "WireListing" >> beam.Create([c for c in counts if c[1]])
            | "CountWireListing" >> beam.ParDo(_CountListingFn())
        )
        parsed = (
            pbegin
            | "WireFiles" >> beam.Create(self.files)
            | "ReadWireFiles"
            >> beam.ParDo(ReadWireFileFn(config.max_file_bytes)).with_outputs(
                ReadWireFileFn.DEAD, ReadWireFileFn.REJECTED, ReadWireFileFn.READ, main="items"
            )
        )
        chosen = _versions(parsed.items, config.text)
        rejected = (parsed[ReadWireFileFn.REJECTED], chosen[ChooseVersionFn.REJECTED]) | (
            "AllWireRejected" >> beam.Flatten()
        )
        return {
            "ok": chosen.ok,
            "rejected": rejected,
            "dead": parsed[ReadWireFileFn.DEAD],
            "read": parsed[ReadWireFileFn.READ],
        }


class WatchWireItems(beam.PTransform):
    """Streaming: watch ``--wire_input`` (``fileio.MatchContinuously``) -> the same outputs.

    Each file is emitted once by the watch (its dedup state is checkpointed by the runner); its
    items carry the poll time as event time and are grouped by guid in the job's windows.
    ``windowing`` is the job's one windowing strategy (``transforms.core.windowing``).
    """

    def __init__(
        self,
        config: WireConfig,
        windowing,
        start: float | None = None,
        stop: float | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.windowing = windowing
        self.start = start
        self.stop = stop

    def expand(self, pbegin):
        from apache_beam.io import fileio
        from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

        config = self.config
        kwargs = {}
        if self.start is not None:
            kwargs["start_timestamp"] = Timestamp(self.start)
        if self.stop is not None:
            kwargs["stop_timestamp"] = Timestamp(self.stop)
        else:
            kwargs["stop_timestamp"] = MAX_TIMESTAMP
        files = (
            pbegin
            | "WatchWireInput"
            >> fileio.MatchContinuously(config.pattern, interval=config.poll_seconds, **kwargs)
            | "SkipInFlight" >> beam.Filter(_complete)
            | "AsWireFiles" >> beam.Map(wire_file, input_root(config.input or ""))
        )
        parsed = files | "ReadWireFiles" >> beam.ParDo(
            ReadWireFileFn(config.max_file_bytes)
        ).with_outputs(
            ReadWireFileFn.DEAD, ReadWireFileFn.REJECTED, ReadWireFileFn.READ, main="items"
        )
        items = parsed.items | "WindowWireItems" >> self.windowing()
        chosen = _versions(items, config.text)
        rejected = (
            parsed[ReadWireFileFn.REJECTED] | "WindowWireRejected" >> self.windowing(),
            chosen[ChooseVersionFn.REJECTED],
        ) | "AllWireRejected" >> beam.Flatten()
        return {
            "ok": chosen.ok,
            "rejected": rejected,
            "dead": parsed[ReadWireFileFn.DEAD] | "WindowWireDead" >> self.windowing(),
        }


def _complete(metadata) -> bool:
    if in_flight(metadata.path):
        _count("wire_files_in_flight")
        return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("wire input (agency NewsML-G2, ninjs, NITF files)")
    group.add_argument(
        "--wire_input",
        default=None,
        help="Folder (read recursively), glob or gs:// prefix where agency files (NewsML-G2, "
        "ninjs 1.x-3.x, NITF) are delivered; with or without --feeds. Batch runs read the files "
        "that arrived since the last run (with --state_location); --streaming watches it.",
    )
    group.add_argument(
        "--wire_max_file_bytes",
        type=int,
        default=MAX_FILE_BYTES,
        help="Largest wire file read (also the cap on what a gzipped file may inflate to); "
        "larger files are dead letters (too_large).",
    )
    group.add_argument(
        "--wire_poll_seconds",
        type=float,
        default=60.0,
        help="Streaming: how often --wire_input is listed for new files.",
    )
    group.add_argument(
        "--wire_state_horizon_days",
        type=float,
        default=WireStateConfig.horizon_days,
        help="With --state_location: how long a file that left --wire_input is remembered as "
        "read (so a restored copy is not ingested again).",
    )


class WireOptions(PipelineOptions):
    """The wire-input flags, typed: ``options.view_as(WireOptions)``."""

    wire_input: str | None
    wire_max_file_bytes: int
    wire_poll_seconds: float
    wire_state_horizon_days: float

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(
    options: PipelineOptions,
    run: RunIdentity,
    state_location: str | None,
    extract: ExtractConfig,
    wire_input: str | None,
) -> WireConfig:
    """The stage's config: ``wire_input`` as the job resolved it (the flag, or the bundled
    sample's folder), the run identity keys the wire state, ``extract`` the cleaning knobs."""
    view = options.view_as(WireOptions)
    horizon = view.wire_state_horizon_days
    return WireConfig(
        input=wire_input or None,
        text=TextConfig(
            clean=extract.clean,
            parse_datelines=extract.parse_datelines,
            rules_path=extract.rules_path,
            min_chars=extract.min_chars,
            max_chars=extract.max_chars,
        ),
        state=WireStateConfig(
            location=state_location.rstrip("/") if state_location else None,
            run_key=run.run_key,
            run_id=run.run_id,
            horizon_days=WireStateConfig.horizon_days if horizon is None else float(horizon),
        ),
        max_file_bytes=view.wire_max_file_bytes or MAX_FILE_BYTES,
        poll_seconds=view.wire_poll_seconds or 60.0,
    )
