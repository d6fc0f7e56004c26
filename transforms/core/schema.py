"""The on-disk schema of every output, derived once from the record types.

The Parquet writer uses it so every file of an output has the same columns and types (an empty
list must not turn a column into ``null`` type in one file and ``list<string>`` in the next),
and tests validate JSON records against the same definition.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from transforms.core.records import DeadLetter, Rejected, Story

RECORD_TYPES = {"stories": Story, "duplicates": Story, "rejected": Rejected, "errors": DeadLetter}

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
        if name in STRUCT_LISTS:
            struct = pa.struct([(n, getattr(pa, t)()) for n, t in STRUCT_LISTS[name]])
            columns.append(pa.field(name, pa.list_(struct)))
        elif kind == "list":
            columns.append(pa.field(name, pa.list_(pa.string())))
        else:
            columns.append(pa.field(name, getattr(pa, kind)()))
    return pa.schema(columns)


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
