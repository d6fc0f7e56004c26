"""What decided a run's output, as JSON values, recorded in ``_run_report.json``.

A later reader (a person comparing two runs, a script deciding whether to reprocess) needs the
settings as values they can compare, not Python ``repr`` strings: numbers as numbers, lists as
lists, each stage's configuration as an object.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.graph import JobConfig


def jsonable(value: Any) -> Any:
    """Dataclasses to objects, tuples to lists, anything else not JSON-native to its string."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def job_settings(job: JobConfig, flags: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's identity and every stage's configuration, plus the flags as given."""
    settings: dict[str, Any] = {
        "run_id": job.write.run_id,
        "format": job.write.file_format,
        "partition_by": list(job.write.partition_by),
        "shards": job.write.shards,
        "feeds": len(job.sources),
        "dedup": str(job.dedup.minhash),  # the config string that names the dedup store folder
        "stages": {
            name: jsonable(getattr(job, name))
            for name in ("feeds", "fetch", "extract", "language", "tags", "dedup", "write")
        },
    }
    retry = job.retry
    if retry is not None:  # what was retried; the entries themselves are in "retried"
        settings["retry"] = {
            "from": retry.location,
            "reasons": list(retry.reasons),
            "files": len(retry.files),
            "dead_letters_found": retry.found,
            "entries_retried": len(retry.entries),
            "feeds_read_again": list(retry.feeds),
            "not_retried": retry.skipped,
        }
    if flags is not None:
        settings["flags"] = jsonable(dict(sorted(flags.items())))
    return settings
