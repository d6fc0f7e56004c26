"""The on-disk schema of every output, derived once from the record types.

The Parquet writer uses it so every file of an output has the same columns and types (an empty
list must not turn a column into ``null`` type in one file and ``list<string>`` in the next),
and tests validate JSON records against the same definition.

Readers get it too: timestamps (``published_at``, ``fetched_at``, ``at``) are
``timestamp[us, UTC]`` in Parquet (RFC 3339 strings with ``Z`` in JSON lines, which BigQuery and
DuckDB parse as timestamps), lists are lists, and ``published_schema`` is the document written
beside the data as ``_schema.json``: per output, the Arrow schema (readable back with
``pyarrow.ipc.read_schema``, so a JSON-lines dataset whose first file has an all-null column
still reads with the right types), its fields as text, and the BigQuery schema for an external
table over the Hive partitions.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from transforms.core.records import DeadLetter, Rejected, Story

RECORD_TYPES = {"stories": Story, "duplicates": Story, "rejected": Rejected, "errors": DeadLetter}

# ISO 8601 UTC strings in the records (records.utc_iso), timestamps on disk in Parquet.
TIMESTAMP_FIELDS = frozenset({"published_at", "fetched_at", "at"})

# Fields that are written as lists of small structs rather than as their Python tuple form.
STRUCT_LISTS = {
    "place_mentions": (("code", "string"), ("count", "int64")),
    "cleaning_hits": (("rule", "string"), ("count", "int64")),
}


def _kind(annotation: Any) -> tuple[str, bool]:
    """(base type name, nullable) for the annotations used in records.py."""
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(typing), {})
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _kind(inner[0])[0], True
    if origin is tuple:
        return "list", False
    return {str: "string", int: "int64", float: "float64", bool: "bool"}[annotation], False


def fields(output: str) -> list[tuple[str, str, bool]]:
    record_type = RECORD_TYPES[output]
    hints = typing.get_type_hints(record_type)
    result = []
    for field in dataclasses.fields(record_type):
        kind, nullable = _kind(hints[field.name])
        result.append((field.name, kind, nullable))
    return result


def arrow_schema(output: str):
    import pyarrow as pa

    columns = []
    for name, kind, _nullable in fields(output):
        if name in TIMESTAMP_FIELDS:
            columns.append(pa.field(name, pa.timestamp("us", tz="UTC")))
        elif name in STRUCT_LISTS:
            struct = pa.struct([(n, getattr(pa, t)()) for n, t in STRUCT_LISTS[name]])
            columns.append(pa.field(name, pa.list_(struct)))
        elif kind == "list":
            columns.append(pa.field(name, pa.list_(pa.string())))
        else:
            columns.append(pa.field(name, getattr(pa, kind)()))
    return pa.schema(columns)


def to_arrow_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as the Parquet writer needs them: timestamp strings as aware datetimes."""
    from datetime import datetime

    rows = []
    for record in records:
        row = dict(record)
        for name in TIMESTAMP_FIELDS:
            value = row.get(name)
            if isinstance(value, str):
                # Raises on a malformed value: a record must never be written with a wrong time.
                row[name] = datetime.fromisoformat(value.replace("Z", "+00:00"))
        rows.append(row)
    return rows


_BIGQUERY_TYPES = {
    "string": "STRING",
    "int64": "INTEGER",
    "float64": "FLOAT",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
}


def bigquery_schema(output: str) -> list[dict[str, Any]]:
    """The output's columns as a BigQuery schema (the JSON ``bq mkdef`` and ``bq mk`` take)."""
    columns: list[dict[str, Any]] = []
    for name, kind, _nullable in fields(output):
        if name in STRUCT_LISTS:
            inner = [
                {"name": n, "type": _BIGQUERY_TYPES[t], "mode": "NULLABLE"}
                for n, t in STRUCT_LISTS[name]
            ]
            columns.append({"name": name, "type": "RECORD", "mode": "REPEATED", "fields": inner})
        elif kind == "list":
            columns.append({"name": name, "type": "STRING", "mode": "REPEATED"})
        else:
            kind = "timestamp" if name in TIMESTAMP_FIELDS else kind
            columns.append({"name": name, "type": _BIGQUERY_TYPES[kind], "mode": "NULLABLE"})
    return columns


def dataset_schema(output: str, partition_keys: tuple[str, ...]):
    """The Arrow schema of the output read as a Hive-partitioned dataset (columns + keys)."""
    import pyarrow as pa

    schema = arrow_schema(output)
    for key in partition_keys:
        if key not in schema.names:
            schema = schema.append(pa.field(key, pa.string()))
    return schema


def published_schema(file_format: str, partitioning: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The ``_schema.json`` document: every output's Arrow and BigQuery schema, one file."""
    import base64

    outputs = {}
    for output in RECORD_TYPES:
        keys = partitioning.get(output, ("date",))
        schema = dataset_schema(output, keys)
        outputs[output] = {
            "partition_keys": list(keys),
            "arrow": [
                {"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema
            ],
            "arrow_ipc_base64": base64.b64encode(schema.serialize().to_pybytes()).decode(),
            "bigquery": bigquery_schema(output),
        }
    return {
        "format": file_format,
        "files": "*.jsonl.gz" if file_format == "jsonl" else "*.parquet",
        "compression": "gzip" if file_format == "jsonl" else "zstd (inside Parquet)",
        "timestamps": "Parquet: timestamp[us, UTC]; JSON lines: RFC 3339 strings in UTC "
        "(2026-11-24T10:00:00Z)",
        "partitioning": "hive (key=value folders); partition columns are strings",
        "outputs": outputs,
    }


def validate(output: str, record: dict[str, Any]) -> list[str]:
    """Problems with one written record (empty when it matches the documented schema)."""
    problems = []
    expected = {name: (kind, nullable) for name, kind, nullable in fields(output)}
    for name in sorted(set(record) - set(expected)):
        problems.append(f"unexpected field {name!r}")
    python_types: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "int64": int,
        "float64": (int, float),
        "bool": bool,
        "list": list,
    }
    for name, (kind, nullable) in expected.items():
        if name not in record:
            problems.append(f"missing field {name!r}")
            continue
        value = record[name]
        if value is None:
            if not nullable:
                problems.append(f"{name!r} is null")
            continue
        if not isinstance(value, python_types[kind]):
            problems.append(f"{name!r} should be {kind}, got {type(value).__name__}")
    return problems
