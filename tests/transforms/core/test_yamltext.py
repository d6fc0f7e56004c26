"""libyaml parses the same documents, and an invalid one fails exactly as it always did."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from transforms.core.yamltext import safe_load

BUNDLED = sorted(
    path.name
    for path in resources.files("transforms").joinpath("data").iterdir()
    if path.name.endswith(".yaml")
)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_files_parse_to_the_same_objects(name: str) -> None:
    text = resources.files("transforms").joinpath("data", name).read_text("utf-8")
    assert safe_load(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    [
        "topics:\n  - id: a\n    phrases: [unclosed\n",
        "a: 1\n b: 2\n",
        "key: [1, 2\nother: 3\n",
        "- item\nkey: value\n",
    ],
)
def test_an_invalid_document_raises_the_pure_python_error(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError) as raised:
        safe_load(text)
    assert str(raised.value) == str(expected.value)
    assert type(raised.value) is type(expected.value)


def test_without_libyaml_the_pure_python_parser_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    assert safe_load("a: [1, 2]\nb: {c: d}\n") == {"a": [1, 2], "b": {"c": "d"}}
    with pytest.raises(yaml.YAMLError):
        safe_load("a: [1\n")


def test_yaml_one_one_scalars_read_as_before() -> None:
    # the resolver is PyYAML's in both: NO is false, 1e3 a string, 0o17 a string, dates dates
    text = "country: NO\nsci: 1e3\noct: 0o17\nwhen: 2026-11-24\nnum: 012\n"
    assert safe_load(text) == yaml.safe_load(text)
