"""Reading a run's output files back for the report: a narrow projection, never the bodies.

Counting a run must cost a projection of its files (the columns in ``REPORT_COLUMNS``), not a
parse of every story's text; both output formats read back to the same JSON form.
"""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

from apache_beam.io.filesystems import FileSystems

from transforms.core.records import utc_iso


def read_records(path: str) -> list[dict[str, Any]]:
    """Every record of one output file, in the writer's JSON form (timestamps as ISO strings)."""
    from apache_beam.io.filesystem import CompressionTypes

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        data = handle.read()
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return _iso_times(pq.read_table(io.BytesIO(data)).to_pylist())
    return [
        json.loads(line)
        for line in gzip.decompress(data).decode("utf-8").splitlines()
        if line.strip()
    ]


# The columns the report needs: never the text, summary, description or payload, so counting a
# run costs a projection of its files, not a parse of every body.
REPORT_COLUMNS = {
    "stories": (
        ("story_id", "string"),
        ("entry_id", "string"),
        ("url", "string"),
        ("feed_url", "string"),
        ("title", "string"),
        ("language", "string"),
        ("topics", "list"),
        ("places", "list"),
        ("cluster_id", "string"),
        ("cluster_size", "int"),
    ),
    "duplicates": (
        ("story_id", "string"),
        ("entry_id", "string"),
        ("url", "string"),
        ("feed_url", "string"),
        ("title", "string"),
        ("cluster_id", "string"),
        ("duplicate_of", "string"),
        ("duplicate_reason", "string"),
        ("similarity", "float"),
    ),
    "rejected": (
        ("stage", "string"),
        ("reason", "string"),
        ("url", "string"),
        ("entry_id", "string"),
        ("feed_url", "string"),  # the per-feed health table
        # withdrawn agency items are listed by guid and story id
        ("wire_guid", "string"),
        ("story_id", "string"),
        ("at", "string"),
        ("detail", "string"),
    ),
    "errors": (
        ("stage", "string"),
        ("reason", "string"),
        ("url", "string"),
        ("entry_id", "string"),
        ("feed_url", "string"),
        ("error", "string"),
        ("at", "string"),
    ),
}


def read_projection(path: str, output: str) -> list[dict[str, Any]]:
    """The report's columns of one output file (JSONL or Parquet), nothing else decoded."""
    import pyarrow as pa
    from apache_beam.io.filesystem import CompressionTypes

    columns = REPORT_COLUMNS[output]
    types = {
        "string": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "list": pa.list_(pa.string()),
    }
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        data = handle.read()
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        present = set(pq.read_schema(io.BytesIO(data)).names)
        wanted = [name for name, _ in columns if name in present]
        table = pq.read_table(io.BytesIO(data), columns=wanted)
    else:
        import pyarrow.json as pj

        body = gzip.decompress(data)
        if not body.strip():
            return []
        schema = pa.schema([(name, types[kind]) for name, kind in columns])
        table = pj.read_json(
            io.BytesIO(body),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    return _iso_times(table.to_pylist())


def _iso_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parquet timestamps back to the records' ISO 8601 form, so both formats read the same."""
    for row in rows:
        for key, value in row.items():
            if hasattr(value, "tzinfo") and hasattr(value, "isoformat"):
                row[key] = utc_iso(value)
    return rows
