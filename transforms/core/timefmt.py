"""Timestamps as the pipeline writes and reads them: ISO 8601, UTC, second precision.

Records carry times as strings (``2026-11-24T10:00:00Z``, see ``transforms.core.records``):
they sort lexically, survive every coder and are what the sinks write. Every reader of such a
string goes through ``parse_iso``, so "naive means UTC" and "offsets are converted" hold
everywhere; what a caller does with a value it cannot read (skip it, treat it as missing,
refuse it) stays the caller's decision.
"""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_iso(moment: datetime) -> str:
    """Render an aware or naive (assumed UTC) datetime as second-precision ISO 8601 UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def now_iso() -> str:
    return utc_iso(datetime.now(UTC))


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 / RFC 3339 time (``Z`` or an offset; naive means UTC) as an aware UTC
    datetime; None when ``value`` is empty or not such a time."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
