"""The on-disk schema, derived from the record types: what the writers and validators agree on."""

from __future__ import annotations

import dataclasses

import pytest

from transforms.core.records import DeadLetter, Rejected, Story
from transforms.core.schema import RECORD_TYPES, arrow_schema, fields, validate


def _story(**kw) -> Story:
    values = dict(
        story_id="s",
        entry_id="e",
        url="https://news.example/a",
        canonical_url="https://news.example/a",
        site="news.example",
        feed_url="https://news.example/feed",
        title="t",
        text="x",
        fetched_at="2026-11-24T06:00:00Z",
    )
    return Story(**{**values, **kw})


@pytest.mark.parametrize("output", sorted(RECORD_TYPES))
def test_every_field_of_every_record_type_has_a_kind(output: str) -> None:
    names = [name for name, _kind, _nullable in fields(output)]
    assert names == [f.name for f in dataclasses.fields(RECORD_TYPES[output])]
    assert {kind for _n, kind, _null in fields(output)} <= {
        "string",
        "int64",
        "float64",
        "bool",
        "list",
    }


def test_optional_fields_are_nullable_and_required_ones_are_not() -> None:
    kinds = {name: (kind, nullable) for name, kind, nullable in fields("stories")}
    assert kinds["story_id"] == ("string", False)
    assert kinds["published_at"] == ("string", True)
    assert kinds["authors"] == ("list", False)


def test_records_as_written_validate() -> None:
    story = _story(place_mentions=(("BY", 2),), authors=("A",))
    assert validate("stories", story.to_json()) == []
    dead = DeadLetter(stage="fetch", reason="timeout", url="u", error="e")
    assert validate("errors", dead.to_json()) == []
    rejected = Rejected(stage="extract", reason="too_short", url="u")
    assert validate("rejected", rejected.to_json()) == []


def test_validation_names_every_problem() -> None:
    record = _story().to_json()
    record["surprise"] = 1
    del record["title"]
    record["story_id"] = None
    record["text"] = 3
    problems = validate("stories", record)
    assert "unexpected field 'surprise'" in problems
    assert "missing field 'title'" in problems
    assert "'story_id' is null" in problems
    assert any(p.startswith("'text' should be string") for p in problems)


def test_parquet_schema_keeps_list_and_struct_columns_typed() -> None:
    import pyarrow as pa

    schema = arrow_schema("stories")
    assert schema.field("authors").type == pa.list_(pa.string())
    mentions = schema.field("place_mentions").type
    assert pa.types.is_list(mentions) and mentions.value_type.num_fields == 2
    assert schema.names == [name for name, _k, _n in fields("stories")]
