"""RemoveStaleRunFiles: a re-run of the same run id leaves exactly that run's files behind.

Scheduled runs are re-run (a backfill, a retry after a failure, an operator clearing an Airflow
task). File names carry the run id, so a re-run overwrites its own files in place; but a re-run
of live feeds rarely sees the same input, and any partition the first attempt wrote that the
second attempt does not (a story that dropped off the feed, a different publication date) would
otherwise keep the first attempt's file: the same entry counted twice, or an entry from the old
attempt mixed into the new one. This step runs after every file of the run is final, lists the
files carrying this run id, and deletes the ones this attempt did not write. Deleting only after
the new files are in place means a failed re-run never leaves less than the previous attempt did.

Only whole names of the form ``part-<run_id>-NNNNN-of-NNNNN<suffix>`` count, so run ``daily``
never touches the files of run ``daily-2``: two runs with different run ids can write to the same
output at the same time without deleting each other's files. The same scoping holds for the
writer's temporary folders (``.temp-<run_id>-<uuid>``): once the run's files are final, its own
temporary folder and any an earlier, killed attempt of the same run left behind are removed;
another run's never are.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.sinks.naming import run_file_glob, run_file_pattern
from transforms.sinks.partitioned import OUTPUTS, TEMP_PREFIX, WriteConfig

LOG = logging.getLogger(__name__)
NAMESPACE = "wirestream"


def files_of_run(config: WriteConfig, output: str, windows: bool = True) -> list[str]:
    """Full paths of the files of ``config.run_id`` under one output (local or ``gs://``).

    ``windows=False`` (the batch cleanup) does not take streaming window names for its own, so
    batch run ``daily`` never takes the files of a batch run named ``daily-w20261124T101500Z``.
    """
    depth = len(config.partition_by) if output == "stories" else 1
    pattern = "/".join(
        [config.output, output, *(["*"] * depth), run_file_glob(config.run_id, config.suffix)]
    )
    exact = run_file_pattern(config.run_id, config.suffix, windows)
    matched = FileSystems.match([pattern])[0].metadata_list
    return sorted(m.path for m in matched if exact.fullmatch(m.path.rsplit("/", 1)[-1]))


def _relative(path: str, output: str, config: WriteConfig) -> str:
    """``<output>/<partition folders>/<file>``: the name the writer reports, whatever the root."""
    depth = len(config.partition_by) if output == "stories" else 1
    return "/".join(path.replace("\\", "/").split("/")[-(depth + 2) :])


def stale_files(config: WriteConfig, written: Iterable[str]) -> list[str]:
    """Files of this run id on disk that this attempt did not write."""
    root = config.output.rstrip("/") + "/"
    keep = {name.removeprefix(root).replace("\\", "/") for name in written}
    return [
        path
        for output in OUTPUTS
        for path in files_of_run(config, output, windows=False)
        if _relative(path, output, config) not in keep
    ]


def temporary_folders(config: WriteConfig) -> list[str]:
    """This run's writer temporary folders under the output root (``partitioned.temp_directory``).

    On ``gs://`` a folder is its objects, listed with ``**``; local folders are listed with the
    operating system (Beam's local ``match`` lists files only, so it never sees an empty folder,
    which is exactly what a finished write leaves) and deleted whole.
    """
    root = config.output.rstrip("/")
    exact = re.compile(rf"{re.escape(TEMP_PREFIX)}{re.escape(config.run_id)}-[0-9a-f]{{32}}")
    if "://" not in root:
        if not os.path.isdir(root):
            return []
        return sorted(f"{root}/{name}" for name in os.listdir(root) if exact.fullmatch(name))
    pattern = f"{root}/{TEMP_PREFIX}{config.run_id}-*/**"
    found = []
    for metadata in FileSystems.match([pattern])[0].metadata_list:
        if exact.fullmatch(metadata.path[len(root) + 1 :].split("/", 1)[0]):
            found.append(metadata.path)
    return sorted(found)


class _DeleteStaleFn(beam.DoFn):
    def __init__(self, config: WriteConfig) -> None:
        self.config = config
        self.deleted = Metrics.counter(NAMESPACE, "rerun_stale_files_deleted")

    def process(self, written: list[str]) -> Iterator[str]:
        stale = stale_files(self.config, written)
        if stale:
            LOG.warning("re-run of %s: removing %d stale file(s)", self.config.run_id, len(stale))
            FileSystems.delete(stale)
            self.deleted.inc(len(stale))
        temporary = temporary_folders(self.config)
        if temporary:
            # Every file of the run is final: its temporary folders hold nothing it needs.
            FileSystems.delete(temporary)
            Metrics.counter(NAMESPACE, "rerun_temporary_removed").inc(len(temporary))
        yield from stale


class RemoveStaleRunFiles(beam.PTransform):
    """Written FileResults -> the paths of earlier attempts' files that were deleted.

    Batch only: it waits for every file of the run, which a streaming run never finishes.
    """

    def __init__(self, config: WriteConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, files):
        return (
            files
            | "WrittenFileNames" >> beam.Map(lambda result: result.file_name)
            | "AllWrittenFileNames" >> beam.combiners.ToList()
            | "DeleteStaleFiles" >> beam.ParDo(_DeleteStaleFn(self.config))
        )
