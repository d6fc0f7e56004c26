"""WritePartitioned: Hive-style partitioned JSONL (gzip) or Parquet files, local or ``gs://``.

Layout under the output root::

    stories/date=YYYY-MM-DD/lang=xx/part-<run_id>-00000.jsonl.gz
    duplicates/date=YYYY-MM-DD/part-<run_id>-00000.jsonl.gz
    rejected/date=YYYY-MM-DD/...   errors/date=YYYY-MM-DD/...

Records are grouped per (output, partition, shard) and sorted by id before they are written, so
the same input always gives byte-identical files whatever order the runner delivered them in.
Files go through ``fileio.WriteToFiles``: written under a temporary name, then renamed into
place, so a failed run leaves no partial file under a final name. Beam's rename into a folder
that does not exist fails silently on local disks (the error is only logged at DEBUG), so the
file-naming function creates the partition folder first; the run report then counts the
records actually on disk, so a loss of that kind can never pass as a green run.

The run id in file names keeps scheduled runs from overwriting one another while a re-run of the
same run (same ``--run_id``) replaces its own files: idempotent, never duplicated. The names are
defined once, in ``transforms/sinks/naming.py``.

In streaming mode the records arrive in fixed windows: the same grouping then happens per window
(GroupByKey groups per key *and* window), the window start goes into the file name
(``part-<run_id>-w20261124T101500Z-00000-of-00001``) and every firing after the first (late
panes) adds ``-p<index>``, so no window or pane overwrites another one's file. Batch runs are in
the global window and keep their names unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.value_provider import StaticValueProvider
from apache_beam.transforms.window import IntervalWindow
from apache_beam.utils.windowed_value import PaneInfoTiming

from transforms.core.records import DeadLetter, Rejected, Story
from transforms.core.redact import redact_record
from transforms.core.run import RunIdentity
from transforms.sinks import naming

NAMESPACE = "wirestream"

OUTPUTS = ("stories", "duplicates", "rejected", "errors")
PARTITION_KEYS = ("date", "lang", "agency", "country", "topic", "site")
MISSING = "none"


@dataclass(frozen=True)
class WriteConfig:
    output: str
    run_id: str
    file_format: str = "jsonl"  # jsonl | parquet
    partition_by: tuple[str, ...] = ("date", "lang")
    shards: int = 1

    @property
    def suffix(self) -> str:
        return ".jsonl.gz" if self.file_format == "jsonl" else ".parquet"


def _hive_value(value: str | None) -> str:
    """Partition values must be safe folder names on every filesystem."""
    text = (value or MISSING).strip() or MISSING
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


def partition_of(record: Any, keys: Iterable[str]) -> str:
    """Multi-valued fields (places, topics) partition by their first, most relevant value."""
    parts = []
    for key in keys:
        if key == "date":
            value = record.partition_date
        elif not isinstance(record, Story):
            continue
        elif key == "lang":
            value = record.language
        elif key == "agency":
            value = record.agency
        elif key == "country":
            value = record.places[0] if record.places else None
        elif key == "topic":
            value = record.topics[0] if record.topics else None
        elif key == "site":
            value = record.site
        else:
            raise ValueError(f"unknown partition key {key!r}")
        parts.append(f"{key}={_hive_value(value)}")
    return "/".join(parts)


def record_key(record: Any) -> str:
    """Sort and shard key: stable across runs for every record type."""
    if isinstance(record, Story):
        return f"{record.story_id}|{record.entry_id}"
    if isinstance(record, Rejected):
        return f"{record.entry_id}|{record.story_id}|{record.url}"
    if isinstance(record, DeadLetter):
        return f"{record.entry_id}|{record.url}|{record.stage}|{record.reason}"
    raise TypeError(f"cannot write {type(record).__name__}")


def _shard(key: str, shards: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % shards if shards > 1 else 0


@dataclass(frozen=True)
class Batch:
    """One future file: its path relative to the output root, and its sorted records."""

    path: str
    output: str
    records: tuple[dict[str, Any], ...]


class _Keyed(beam.DoFn):
    def __init__(self, output: str, config: WriteConfig) -> None:
        self.output = output
        self.config = config

    def process(self, record: Any, win=beam.DoFn.WindowParam) -> Iterator[tuple[str, Any]]:
        keys = self.config.partition_by if self.output == "stories" else ("date",)
        shard = _shard(record_key(record), self.config.shards)
        name = naming.file_base(self.config.run_id, shard, self.config.shards, window_start(win))
        yield f"{self.output}/{partition_of(record, keys)}/{name}", record


def window_start(win: Any) -> str:
    """A streaming window's start as it goes into file names; "" for batch's global window."""
    if not isinstance(win, IntervalWindow):
        return ""
    return win.start.to_utc_datetime().strftime(naming.WINDOW_FORMAT)


def _to_batch(
    output: str, config: WriteConfig, item: tuple[str, Iterable[Any]], pane: Any = None
) -> Batch:
    path, records = item
    ordered = sorted(records, key=record_key)
    Metrics.counter(NAMESPACE, f"written_{output}").inc(len(ordered))
    if pane is not None:
        path = naming.with_pane(path, pane.index)  # a later firing of a window: its own file
    if pane is not None and pane.timing == PaneInfoTiming.LATE:
        Metrics.counter(NAMESPACE, f"written_{output}_late_pane").inc(len(ordered))
    return Batch(
        path=path + config.suffix,
        output=output,
        records=tuple(redact_record(r.to_json()) for r in ordered),  # no secret reaches a file
    )


class _BatchFn(beam.DoFn):
    def __init__(self, output: str, config: WriteConfig) -> None:
        self.output = output
        self.config = config

    def process(self, item: tuple[str, Iterable[Any]], pane=beam.DoFn.PaneInfoParam):
        yield _to_batch(self.output, self.config, item, pane)


class BatchSink(fileio.FileSink):
    """Writes one Batch per file: gzip JSON lines, or a Parquet table with a fixed schema."""

    def __init__(self, file_format: str) -> None:
        self.file_format = file_format
        self._handle: Any = None
        self._batches: list[Batch] = []

    def open(self, fh) -> None:
        self._handle = fh
        self._batches = []

    def write(self, record: Batch) -> None:
        self._batches.append(record)

    def flush(self) -> None:
        records = [r for batch in self._batches for r in batch.records]
        output = self._batches[0].output if self._batches else "stories"
        if self.file_format == "jsonl":
            lines = "".join(
                json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records
            )
            buffer = io.BytesIO()
            # mtime=0: the gzip header must not carry the wall clock, or reruns would differ.
            with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped:
                zipped.write(lines.encode("utf-8"))
            self._handle.write(buffer.getvalue())
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            from transforms.core.schema import arrow_schema, to_arrow_rows

            schema = arrow_schema(output)
            table = pa.Table.from_pylist(to_arrow_rows(records), schema=schema)
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression="zstd")
            self._handle.write(buffer.getvalue())


class _Naming:
    """File naming that also makes sure the partition folder exists (see module docstring)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def __call__(self, window, pane, shard_index, total_shards, compression, destination) -> str:
        folder = FileSystems.join(self.root, destination.rsplit("/", 1)[0])
        if not self.root.startswith("gs://"):
            with contextlib.suppress(OSError):  # already there
                FileSystems.mkdirs(folder)
        return destination


class WritePartitioned(beam.PTransform):
    """{"stories", "duplicates", "rejected", "errors"} -> PCollection of written FileResults."""

    def __init__(self, config: WriteConfig) -> None:
        super().__init__()
        if config.file_format not in ("jsonl", "parquet"):
            raise ValueError(f"--format must be jsonl or parquet, not {config.file_format!r}")
        unknown = set(config.partition_by) - set(PARTITION_KEYS)
        if unknown:
            raise ValueError(
                f"--partition_by: unknown key(s) {sorted(unknown)}; use {', '.join(PARTITION_KEYS)}"
            )
        self.config = config

    def expand(self, outputs: dict[str, beam.PCollection]):
        config = self.config
        batches = []
        for name in OUTPUTS:
            label = name.capitalize()
            batches.append(
                outputs[name]
                | f"Key{label}" >> beam.ParDo(_Keyed(name, config))
                | f"Group{label}" >> beam.GroupByKey()
                | f"Batch{label}" >> beam.ParDo(_BatchFn(name, config))
            )
        fmt = config.file_format
        return (
            batches
            | "FlattenBatches" >> beam.Flatten()
            | "WriteFiles"
            >> fileio.WriteToFiles(
                path=config.output,
                destination=lambda batch: batch.path,
                sink=lambda _dest: BatchSink(fmt),
                file_naming=_Naming(config.output),
                shards=1,
                # Named after the run, so the run removes it (and a killed attempt's) once its
                # files are final, and never another run's: transforms/sinks/rerun.py.
                temp_directory=StaticValueProvider(str, temp_directory(config)),
            )
        )


TEMP_PREFIX = ".temp-"


def temp_directory(config: WriteConfig) -> str:
    """A fresh temporary folder of this run under the output root (one per graph built)."""
    return f"{config.output.rstrip('/')}/{TEMP_PREFIX}{config.run_id}-{uuid.uuid4().hex}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--output",
        default="output",
        help="Output root, a local folder or gs://bucket/prefix; stories/, duplicates/, "
        "rejected/, errors/ and _run_report.json are written under it.",
    )
    group.add_argument(
        "--format",
        dest="file_format",
        default="jsonl",
        choices=("jsonl", "parquet"),
        help="File format: gzip-compressed JSON lines or Parquet (zstd).",
    )
    group.add_argument(
        "--partition_by",
        default="date,lang",
        help="Comma-separated Hive partition keys for stories/, from "
        f"{', '.join(PARTITION_KEYS)}. Multi-valued fields use their first value "
        "(country = most-mentioned place, topic = best topic). Other outputs use date only.",
    )
    group.add_argument(
        "--shards",
        type=int,
        default=1,
        help="Files per partition and run; raise it for very large runs.",
    )


SCHEMA_FILE = "_schema.json"


def write_schema(config: WriteConfig) -> str:
    """Publish ``_schema.json`` at the output root: what every output's files contain.

    Written by the launcher once the preflight has passed (so a refused run leaves nothing), and
    rewritten identically by every run with the same format and partition keys.
    """
    from transforms.core.schema import published_schema

    partitioning: dict[str, tuple[str, ...]] = {name: ("date",) for name in OUTPUTS}
    partitioning["stories"] = tuple(config.partition_by)
    document = published_schema(config.file_format, partitioning)
    path = f"{config.output}/{SCHEMA_FILE}"
    if not config.output.startswith("gs://"):
        with contextlib.suppress(OSError):
            FileSystems.mkdirs(config.output)
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n")
    return path


def partition_keys(value: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in value.split(",") if k.strip())


class WriteOptions(PipelineOptions):
    """The output flags, typed: ``options.view_as(WriteOptions)``."""

    output: str
    file_format: str
    partition_by: str
    shards: int

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(options: PipelineOptions, run: RunIdentity) -> WriteConfig:
    """The writer's config; file names carry the job's one run id (``transforms.core.run``)."""
    view = options.view_as(WriteOptions)
    return WriteConfig(
        output=view.output.rstrip("/"),
        run_id=run.run_id,
        file_format=view.file_format,
        partition_by=partition_keys(view.partition_by),
        shards=max(1, view.shards),
    )
