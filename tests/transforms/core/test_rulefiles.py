"""Rule files are validated like the feed list: every problem at once, with place and fix."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import yaml

from transforms.core.rulefiles import SCHEMAS, RuleFileError, problems_of, published
from transforms.extract.cleaning import load_rules
from transforms.tags.agencies import load_agencies
from transforms.tags.topics import load_taxonomy

DATA = resources.files("transforms") / "data"


def test_bundled_files_are_valid() -> None:
    for name, schema in (
        ("taxonomy.yaml", SCHEMAS["taxonomy"]),
        ("agencies.yaml", SCHEMAS["agencies"]),
        ("cleaning_rules.yaml", SCHEMAS["cleaning_rules"]),
        ("sample/feeds.yaml", SCHEMAS["feeds"]),
    ):
        document = yaml.safe_load((DATA / name).read_text("utf-8"))
        assert problems_of(document, schema) == [], name


def test_published_schemas_match_the_validator() -> None:
    for name in SCHEMAS:
        path = DATA / "schemas" / f"{name}.schema.json"
        assert json.loads(path.read_text("utf-8")) == published(name), name


def test_taxonomy_reports_every_problem_with_place_and_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        "min_scor: 2\n"
        "min_share: 2\n"
        "topics:\n"
        "  - id: elections\n"
        "    phrases: [election*, ballot]\n"
        "    exclud: [election day sale]\n"
        "  - id: elections\n"
        "    phrases: [vote]\n"
        "  - id: bad\n"
        "    phrases: ['a*b']\n"
        "  - phrases: [x]\n",
        "utf-8",
    )
    with pytest.raises(RuleFileError) as raised:
        load_taxonomy(str(path))
    found = raised.value.problems
    text = "\n".join(found)
    assert "min_scor: unknown key. Fix: did you mean 'min_score'?" in text
    assert "topics[0] (elections).exclud: unknown key. Fix: did you mean 'exclude'?" in text
    assert "topics[1] (elections): id 'elections' is already used by item 0" in text
    assert "topics[2] (bad).phrases[0]: 'a*b' has '*' inside it" in text
    assert "topics[3]: 'id' is missing" in text
    assert "min_share: 2 is out of range" in text
    assert len(found) == 6
    assert str(path) in str(raised.value)


def test_agencies_and_cleaning_rules_are_checked_the_same_way(tmp_path: Path) -> None:
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text("agencies:\n  - {aliases: [Nameless], domain: [x.org]}\nreplce: true\n")
    with pytest.raises(RuleFileError) as raised:
        load_agencies(str(agencies))
    text = "\n".join(raised.value.problems)
    assert "agencies[0]: 'code' is missing" in text
    assert "agencies[0].domain: unknown key. Fix: did you mean 'domains'?" in text
    assert "replce: unknown key. Fix: did you mean 'replace'?" in text

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - {name: a, kind: lines, pattern: 'x'}\n"
        "  - {name: b, kind: line, patern: 'x'}\n"
        "  - {name: c, kind: line, patterns: ['(unclosed']}\n"
    )
    with pytest.raises(RuleFileError) as raised:
        load_rules(str(rules))
    text = "\n".join(raised.value.problems)
    assert "rules[0] (a).kind: 'lines' is not allowed. Fix: did you mean 'line'?" in text
    assert "rules[1] (b).patern: unknown key. Fix: did you mean 'pattern'?" in text
    assert "rules[1] (b): needs one of pattern, patterns" in text
    assert "rules[2] (c).patterns[0]: '(unclosed' is not a regular expression" in text


def test_yaml_syntax_errors_are_placed(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text("topics:\n  - id: a\n    phrases: [unclosed\n")
    with pytest.raises(RuleFileError, match="line 4"):
        load_taxonomy(str(path))


def test_feed_list_schema_catches_what_editors_should_see() -> None:
    document = {"feeds": [{"url": "ftp://x", "kind": "atom", "nmae": "X"}], "defaults": []}
    text = "\n".join(problems_of(document, SCHEMAS["feeds"]))
    assert "defaults: expected a mapping" in text
    assert "feeds[0].kind: 'atom' is not allowed" in text
    assert "feeds[0].nmae: unknown key. Fix: did you mean 'name'?" in text
