"""One validator for the files people edit by hand: the feed list's way, for every rule file.

The taxonomy, the agency list and the cleaning rules are YAML that a desk editor changes without
a developer. A misspelt key (``exclud:``, ``min_scor:``) must not be ignored, and a file with
five mistakes must not take five runs to fix: the document is checked against a schema and
every problem is reported at once, each with its place (``topics[3] (elections).exclud``) and
its fix, with "did you mean" for unknown keys, exactly as the feed list is
(``pipeline/config.py``).

The schemas are JSON Schema (a small subset: type, properties, required,
additionalProperties, items, enum, minimum, maximum, minLength, minItems, pattern, anyOf) plus
two checks JSON Schema cannot state: ``x-unique`` (a key unique among a list's items) and
``format: regex`` (compiles as a Python regular expression). Every schema is published in the
package data as ``transforms/data/schemas/<name>.schema.json`` (``feeds``, ``taxonomy``,
``agencies``, ``cleaning_rules``; plain JSON Schema, the extensions left out) so an editor with
a YAML language server checks a feed list or a rule file as it is typed::

    # yaml-language-server: $schema=transforms/data/schemas/feeds.schema.json
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from typing import Any


class RuleFileError(ValueError):
    """A rule file cannot be used; the message lists every problem and its fix."""

    def __init__(self, location: str, problems: Iterable[str]) -> None:
        self.location = location
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{location} has {len(self.problems)} problem(s):\n{lines}")


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def _type_name(value: Any) -> str:
    for name in _TYPES:
        if _is(value, name):
            return name
    return type(value).__name__


def problems_of(document: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Every problem of ``document`` against ``schema``, each starting with its place."""
    found: list[str] = []
    _check(document, schema, where, found)
    return found


def _place(where: str) -> str:
    return where or "the document"


def _check(value: Any, schema: dict[str, Any], where: str, found: list[str]) -> None:
    if "anyOf" in schema:
        options = schema["anyOf"]
        for option in options:
            if not problems_of(value, option, where):
                return
        matching = [o for o in options if _type_ok(value, o)]
        if len(matching) == 1:
            _check(value, matching[0], where, found)
        else:
            kinds = " or ".join(_describe(o) for o in options)
            found.append(f"{_place(where)}: expected {kinds}, got {_type_name(value)}")
        return
    if not _type_ok(value, schema):
        found.append(
            f"{_place(where)}: expected {_describe(schema)}, got {_type_name(value)} "
            f"{json.dumps(value, default=str)[:60]}"
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        choices = [str(c) for c in schema["enum"]]
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(choices)}"
        found.append(f"{_place(where)}: {value!r} is not allowed. Fix: {hint}")
    if _is(value, "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low}" + (f" to {high}" if high is not None else " up")
            found.append(f"{_place(where)}: {value} is out of range. Fix: a value {bounds}")
    if isinstance(value, str):
        if len(value.strip()) < schema.get("minLength", 0):
            found.append(f"{_place(where)}: must not be empty")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            message = schema.get("x-pattern-message", "has the wrong form")
            found.append(f"{_place(where)}: {value!r} {message}")
        if schema.get("format") == "regex":
            try:
                re.compile(value)
            except re.error as err:
                found.append(f"{_place(where)}: {value!r} is not a regular expression ({err})")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{_place(where)}: needs at least {schema['minItems']} item(s)")
        item_schema = schema.get("items")
        unique = schema.get("x-unique")
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            label = f"{where}[{index}]"
            if unique and isinstance(item, dict) and item.get(unique) is not None:
                key = str(item[unique])
                label = f"{label} ({key})"
                if key in seen:
                    found.append(
                        f"{label}: {unique} {key!r} is already used by item {seen[key]}. "
                        f"Fix: each {unique} once"
                    )
                seen.setdefault(key, index)
            if item_schema:
                _check(item, item_schema, label, found)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                found.append(f"{_place(where)}: {key!r} is missing. Fix: add it")
        for key in sorted(value, key=str):
            inner = f"{where}.{key}" if where else str(key)
            if key in properties:
                _check(value[key], properties[key], inner, found)
            elif schema.get("additionalProperties") is False:
                close = difflib.get_close_matches(str(key), list(properties), n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"use {', '.join(properties) or 'no keys'}"
                )
                found.append(f"{inner}: unknown key. Fix: {hint}")
        for group in schema.get("x-one-of-keys", []):
            if not any(k in value for k in group):
                found.append(f"{_place(where)}: needs one of {', '.join(group)}")


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind is None:
        return True
    kinds = kind if isinstance(kind, list) else [kind]
    return any(_is(value, k) for k in kinds)


def _describe(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "a value")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and "items" in schema:
        return f"a list of {_describe(schema['items'])}s"
    return {"object": "a mapping", "array": "a list"}.get(kind, kind)


def validate(document: Any, schema: dict[str, Any], location: str) -> None:
    """Raise RuleFileError with every problem, or return when the document is usable."""
    problems = problems_of(document, schema)
    if problems:
        raise RuleFileError(location, problems)


def load_yaml(text: str, location: str) -> Any:
    """YAML with its syntax error placed (line, column) in the same error shape."""
    import yaml

    from transforms.core.yamltext import safe_load

    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleFileError(
            location, [f"is not valid YAML{where}: {problem}. Fix: correct the syntax there"]
        ) from exc


# --------------------------------------------------------------------------- schemas

_STRING = {"type": "string", "minLength": 1}
_STRINGS = {"type": "array", "items": {"type": ["string", "integer", "number"]}}
_COUNT = {"type": "integer", "minimum": 0}
_RATIO = {"type": "number", "minimum": 0, "maximum": 1}

PHRASE = {
    "type": "string",
    "minLength": 1,
    "pattern": r"^[^*]*\*?$",
    "x-pattern-message": "has '*' inside it. Fix: '*' only at the end of a phrase",
}

TAXONOMY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "wirestream topic taxonomy",
    "type": "object",
    "additionalProperties": False,
    "required": ["topics"],
    "properties": {
        "min_score": _COUNT,
        "title_weight": _COUNT,
        "section_weight": _COUNT,
        "tag_weight": _COUNT,
        "max_topics": {"type": "integer", "minimum": 1},
        "min_share": _RATIO,
        "min_phrases": {"type": "integer", "minimum": 1},
        "topics": {
            "type": "array",
            "minItems": 1,
            "x-unique": "id",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "phrases"],
                "properties": {
                    "id": _STRING,
                    "phrases": {"type": "array", "minItems": 1, "items": PHRASE},
                    "exclude": {"type": "array", "items": PHRASE},
                    "min_score": _COUNT,
                    "min_phrases": {"type": "integer", "minimum": 1},
                    "sink": {"type": "boolean"},
                },
            },
        },
    },
}

AGENCIES_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "wirestream wire agencies",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "replace": {"type": "boolean"},
        "agencies": {
            "type": "array",
            "x-unique": "code",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code"],
                "properties": {
                    "code": _STRING,
                    "aliases": _STRINGS,
                    "signatures": _STRINGS,
                    "domains": _STRINGS,
                },
            },
        },
    },
}

CLEANING_KINDS = (
    "line",
    "leading_line",
    "trailing_line",
    "leading_prefix",
    "line_suffix",
    "related_block",
)
_REGEX = {"type": "string", "minLength": 1, "format": "regex"}

CLEANING_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "wirestream cleaning rules",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"type": "integer", "enum": [1]},
        "max_chars": {"type": "integer", "minimum": 1},
        "agencies": _STRINGS,
        # rule names (or built-in steps) switched off; cleaning.parse_rules checks the names
        "disabled": _STRINGS,
        "tag_line": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "min_items": _COUNT,
                "max_items": _COUNT,
                "max_item_words": _COUNT,
                "max_item_chars": _COUNT,
                "labels": _STRINGS,
            },
        },
        "repeated_paragraphs": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "min_words": _COUNT,
                "min_chars": _COUNT,
                "near_min_words": _COUNT,
                "near_jaccard": _RATIO,
                "run_min_words": _COUNT,
                "min_share": _RATIO,
                "max_paragraphs": _COUNT,
            },
        },
        "rules": {
            "type": "array",
            "x-unique": "name",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "kind"],
                "x-one-of-keys": [["pattern", "patterns"]],
                "properties": {
                    "name": _STRING,
                    "kind": {"type": "string", "enum": list(CLEANING_KINDS)},
                    "pattern": _REGEX,
                    "patterns": {"type": "array", "minItems": 1, "items": _REGEX},
                    "match": {"type": "string", "enum": ["full", "search"]},
                    "max_chars": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
}

_TAGS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": ["string", "integer"]}}]}
_INTERVAL = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 7 * 24 * 60},
        {"type": "string", "pattern": r"^\s*\d+\s*(m|min|mins|minutes?|h|hours?|d|days?)?\s*$"},
    ]
}
_FEED_PROPERTIES: dict[str, Any] = {
    "url": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://", "description": "http(s)"},
    "name": {"type": "string"},
    "kind": {"type": "string", "enum": ["feed", "sitemap"]},
    "language": {"type": "string", "pattern": "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"},
    "tags": _TAGS,
    "poll_minutes": _INTERVAL,
    "poll_interval": _INTERVAL,
}
_FEED = {
    "anyOf": [
        {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": _FEED_PROPERTIES,
        },
    ]
}
FEEDS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/wirestream/wirestream/transforms/data/schemas/feeds.schema.json",
    "title": "wirestream feed list (feeds.yaml)",
    "description": "A list of feeds, or a mapping with 'feeds' and optional 'defaults'. "
    "Validated the same way (every problem at once) by python -m pipeline --check.",
    "anyOf": [
        {"type": "array", "items": _FEED},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["feeds"],
            "properties": {
                "defaults": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {k: v for k, v in _FEED_PROPERTIES.items() if k != "url"},
                },
                "feeds": {"type": "array", "items": _FEED},
            },
        },
    ],
}

SCHEMAS = {
    "feeds": FEEDS_SCHEMA,
    "taxonomy": TAXONOMY_SCHEMA,
    "agencies": AGENCIES_SCHEMA,
    "cleaning_rules": CLEANING_SCHEMA,
}


def published(name: str) -> dict[str, Any]:
    """A schema as published in the package data: plain JSON Schema, no ``x-`` extensions."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("x-")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(SCHEMAS[name])
