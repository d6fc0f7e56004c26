"""The run identity: which run this is, resolved once when the job is configured.

Three things outlive a batch run and must agree on which run wrote them: its output files
(``part-<run_id>-…``, replaced by a re-run of the same run), its dedup fingerprint file
(``fingerprints-<run_id>.jsonl``, ignored by a re-run of the same run) and its feed-state
snapshot (``feed-state-<run_key>-<run_id>.jsonl``, which a re-run of the same run neither reads
nor keeps). If each of them read the clock for itself, a re-run of "the same run" would not find
its own files: it would dedup against its own stories and find its own feed marks, and replace
its outputs with nothing. So the identity is worked out here, once, from ``--run_id``,
``--run_date``, ``--replay`` and one reading of the start time, and handed to every stage.

- ``run_id`` names the run: ``--run_id``, else ``--run_date``, else ``replay`` when replaying an
  archive, else the start time. Characters other than letters, digits, ``-`` and ``_`` become
  ``-`` so the id is safe in any file name.
- ``run_key`` is the run's logical time, ``YYYYMMDDTHHMMSSZ`` (sortable): ``--run_date`` when
  given, else the start time. It orders feed-state snapshots and measures poll intervals and
  sitemap ages, never the wall clock of whichever worker happens to ask.
- ``run_date`` (``YYYY-MM-DD``, UTC) is the day partition of the fingerprint store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from transforms.core.timefmt import parse_iso

KEY_FORMAT = "%Y%m%dT%H%M%SZ"
REPLAY_RUN_ID = "replay"
_KEY = re.compile(r"\d{8}T\d{6}Z")


def parse_run_date(value: str) -> datetime:
    """``YYYY-MM-DD``, ``YYYY-MM-DDTHH``, or a full ISO 8601 time (naive = UTC)."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}", text):
        text += ":00"
    moment = parse_iso(text.replace("z", "Z"))
    if moment is None:
        raise ValueError(
            f"--run_date {value!r} is not a date. Fix: use YYYY-MM-DD, YYYY-MM-DDTHH or a full "
            "ISO 8601 time such as 2026-11-25T10:00:00Z"
        )
    return moment


def run_key_for(run_date: str | None, now: datetime | None = None) -> str:
    """Sortable key of a logical time: ``run_date`` if given, else ``now`` (default: the clock)."""
    moment = parse_run_date(run_date) if run_date else (now or datetime.now(UTC))
    return moment.astimezone(UTC).strftime(KEY_FORMAT)


def key_time(key: str) -> datetime:
    """The moment a run key stands for (UTC)."""
    return datetime.strptime(key, KEY_FORMAT).replace(tzinfo=UTC)


def safe_run_id(value: str) -> str:
    """``value`` with every character a file name might not take replaced by ``-``."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in value)


@dataclass(frozen=True)
class RunIdentity:
    """One run's name and logical time; build it with ``resolve`` (or directly in tests)."""

    run_id: str
    run_key: str
    dated: bool = False  # the logical time came from --run_date (else from the start time)

    def __post_init__(self) -> None:
        if not self.run_id or safe_run_id(self.run_id) != self.run_id:
            raise ValueError(f"run id {self.run_id!r} cannot name a file")
        if not _KEY.fullmatch(self.run_key):
            raise ValueError(f"run key {self.run_key!r} is not YYYYMMDDTHHMMSSZ")

    @property
    def run_date(self) -> str:
        """UTC day of the logical time, ``YYYY-MM-DD``."""
        return f"{self.run_key[0:4]}-{self.run_key[4:6]}-{self.run_key[6:8]}"

    @classmethod
    def resolve(
        cls,
        *,
        run_id: str | None,
        run_date: str | None,
        replay: str | None,
        now: datetime,
    ) -> RunIdentity:
        """The identity from the job's flags; ``now`` is the start time, read once by the caller."""
        key = run_key_for(run_date, now=now)
        if run_id:
            name = run_id
        elif run_date:
            name = run_date
        elif replay:
            name = REPLAY_RUN_ID
        else:
            name = key
        return cls(run_id=safe_run_id(name), run_key=key, dated=bool(run_date))
