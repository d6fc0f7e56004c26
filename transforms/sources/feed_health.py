"""Per-feed health of one run: what each feed listed, and whether it could be read at all.

The feed reader emits one ``FeedHealth`` per feed; a batch run writes them, sorted, to
``<output>/_feed_health/<run_id>.jsonl`` (temporary name, then rename: a re-run replaces its own
file) so the run report can show a per-feed table beside the per-output counts it reads from
disk, and the failure gate (``--max_feed_failure_ratio``) can tell "a few feeds down" from "the
whole feed list unreachable". Feed URLs are redacted here: the file is an output.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms.core.redact import redact_text, redact_url

FOLDER = "_feed_health"
ERROR_CHARS = 300


@dataclass(frozen=True)
class FeedHealth:
    """One feed in one run. ``failed``: fetched or parsed to no usable document."""

    feed_url: str
    name: str = ""
    due: bool = True  # False: its poll interval had not passed, not fetched this run
    failed: bool = False
    not_modified: bool = False
    entries_listed: int = 0  # every item the document(s) listed
    seen_before: int = 0  # handed downstream by an earlier run (their outcome is there)
    cut: int = 0  # beyond --feed_max_entries: not read
    too_old: int = 0  # sitemap URLs older than --sitemap_max_age_days
    repeats: int = 0  # exact repeats of an item, written as same_url duplicates
    last_error: str | None = None
    last_success: str | None = None  # fetch time of the last usable document (state), or now

    def __post_init__(self) -> None:
        object.__setattr__(self, "feed_url", redact_url(self.feed_url))
        if self.last_error:
            object.__setattr__(self, "last_error", redact_text(self.last_error)[:ERROR_CHARS])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def health_path(output: str, run_id: str) -> str:
    return f"{output.rstrip('/')}/{FOLDER}/{run_id}.jsonl"


def write_health(output: str, run_id: str, rows: Iterable[FeedHealth]) -> str:
    ordered = sorted(rows, key=lambda row: (row.feed_url, row.name))
    body = "".join(json.dumps(r.to_json(), sort_keys=True) + "\n" for r in ordered)
    folder = f"{output.rstrip('/')}/{FOLDER}"
    if not FileSystems.exists(folder):
        FileSystems.mkdirs(folder)
    final = health_path(output, run_id)
    temporary = f"{folder}/.tmp-{run_id}-{uuid.uuid4().hex}.jsonl"
    with FileSystems.create(temporary) as handle:
        handle.write(body.encode("utf-8"))
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([temporary], [final])
    # A killed earlier attempt of this run may have left its temporary file; only this run's.
    mine = re.compile(rf"\.tmp-{re.escape(run_id)}-[0-9a-f]{{32}}\.jsonl")
    leftovers = [
        m.path
        for m in FileSystems.match([f"{folder}/.tmp-{run_id}-*"])[0].metadata_list
        if mine.fullmatch(m.path.rsplit("/", 1)[-1])
    ]
    if leftovers:
        FileSystems.delete(leftovers)
    return final


def read_health(output: str, run_id: str) -> list[dict[str, Any]]:
    path = health_path(output, run_id)
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path) as handle:
        return [json.loads(line) for line in handle.read().decode("utf-8").splitlines() if line]


class _WriteHealthFn(beam.DoFn):
    def __init__(self, output: str, run_id: str) -> None:
        self.output = output
        self.run_id = run_id

    def process(self, rows: list[FeedHealth]) -> Iterator[str]:
        yield write_health(self.output, self.run_id, rows)


class WriteFeedHealth(beam.PTransform):
    """FeedHealth -> the path of the run's health file (batch only: it gathers every feed)."""

    def __init__(self, output: str, run_id: str) -> None:
        super().__init__()
        self.output = output
        self.run_id = run_id

    def expand(self, rows):
        return (
            rows
            | "GatherHealth" >> beam.combiners.ToList()
            | "WriteHealthFile" >> beam.ParDo(_WriteHealthFn(self.output, self.run_id))
        )
