"""The cleaning rule file: its schema, safety checks and the compiled ``RuleSet``.

Kept apart from the cleaning itself so that a rule file can be validated (preflight, ``--check``)
without the text machinery, and so the loader's refusals (unsafe patterns, unknown kinds, typos)
are read in one place.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

RULES_RESOURCE = "cleaning_rules.yaml"
KINDS = frozenset(
    {"line", "leading_line", "trailing_line", "leading_prefix", "line_suffix", "related_block"}
)
# Built-in steps that are not regular expressions but still report hits under these names.
TITLE_REPEAT = "title_repeat"
REPEATED_PARAGRAPH = "repeated_paragraph"
TAG_LINE = "tag_line"
AGENCY_CREDIT = "agency_credit"
CONTROL_CHARS = "control_chars"
UNICODE_NFC = "unicode_nfc"
# Built-in steps a rule file may switch off (``disabled: [...]``), like any named rule.
SWITCHABLE_BUILTINS = (TITLE_REPEAT, REPEATED_PARAGRAPH, TAG_LINE, AGENCY_CREDIT)
MAX_PASSES = 12
RELATED_BLOCK_MAX_LINES = 8
RELATED_HEADLINE_MAX_CHARS = 160


class UnsafePatternError(ValueError):
    """A rule pattern could backtrack catastrophically; the fix is an atomic group or a bound."""


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    patterns: tuple[re.Pattern[str], ...]
    full: bool = True
    max_chars: int = 220

    def matches(self, line: str) -> bool:
        if len(line) > self.max_chars:
            return False
        for pattern in self.patterns:
            found = pattern.fullmatch(line) if self.full else pattern.match(line)
            if found:
                return True
        return False

    def strip_prefix(self, line: str) -> str:
        head = line[: self.max_chars]
        for pattern in self.patterns:
            found = pattern.match(head)
            if found and found.end() > 0:
                return line[found.end() :]
        return line

    def strip_suffix(self, line: str) -> str:
        if len(line) > 20 * self.max_chars:
            return line
        tail_start = max(0, len(line) - self.max_chars)
        tail = line[tail_start:]
        for pattern in self.patterns:
            for found in pattern.finditer(tail):
                if found.end() == len(tail) and found.start() > 0:
                    return line[: tail_start + found.start()]
        return line


@dataclass(frozen=True)
class TagLineConfig:
    min_items: int = 3
    max_items: int = 20
    max_item_words: int = 4
    max_item_chars: int = 40
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepeatConfig:
    min_words: int = 6
    min_chars: int = 30
    near_min_words: int = 12
    near_jaccard: float = 0.8
    run_min_words: int = 60
    min_share: float = 0.15
    max_paragraphs: int = 3000


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    agencies: tuple[str, ...]
    tag_line: TagLineConfig = field(default_factory=TagLineConfig)
    repeats: RepeatConfig = field(default_factory=RepeatConfig)
    disabled: frozenset[str] = frozenset()  # switched-off built-in steps (rules are left out)

    def enabled(self, name: str) -> bool:
        return name not in self.disabled

    def of_kind(self, kind: str) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.kind == kind)

    @functools.cached_property
    def agency_line(self) -> re.Pattern[str]:
        """A line that is only an agency credit: ``REUTERS``, ``— AFP``, ``(AP)``, ``/TASS/``."""
        names = "|".join(re.escape(a) for a in sorted(self.agencies, key=lambda a: (-len(a), a)))
        return re.compile(
            rf"[\-—–(/\[]?\s?(?:source\s?:\s?)?(?P<agency>{names})\s?[)/\]]?\.?", re.IGNORECASE
        )

    @functools.cached_property
    def agency_suffix(self) -> re.Pattern[str]:
        """An agency credit closing the last sentence: ``... he said. REUTERS``, ``... - AFP``."""
        names = "|".join(re.escape(a) for a in sorted(self.agencies, key=lambda a: (-len(a), a)))
        return re.compile(
            rf"(?<=[.!?\"”»’'])\s(?P<sep>[\-—–(/]\s?)?(?P<agency>{names})(?P<close>[)/])?\.?$",
            re.IGNORECASE,
        )

    @functools.cached_property
    def tag_label(self) -> re.Pattern[str] | None:
        if not self.tag_line.labels:
            return None
        labels = "|".join(re.escape(label) for label in self.tag_line.labels)
        return re.compile(rf"(?:{labels})\s?[:：]\s?", re.IGNORECASE)


def _check_safe(source: str, rule_name: str) -> None:
    """Refuse nested repetition outside atomic groups: the shape behind exponential backtracking."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser as parser  # type: ignore[attr-defined]

    repeats = {c.MAX_REPEAT, c.MIN_REPEAT}

    def walk(items: Any, inside_repeat: bool) -> None:
        for op, arg in items:
            if op in repeats:
                _low, high, sub = arg
                if inside_repeat and high > 1:
                    raise UnsafePatternError(
                        f"rule {rule_name!r}: nested repetition in {source!r}; "
                        "wrap the outer group in (?>...) or remove the inner quantifier"
                    )
                walk(sub, inside_repeat or high > 1)
            elif op in (c.ATOMIC_GROUP, c.POSSESSIVE_REPEAT):
                continue
            elif op == c.SUBPATTERN:
                walk(arg[-1], inside_repeat)
            elif op == c.BRANCH:
                for branch in arg[1]:
                    walk(branch, inside_repeat)
            elif op in (c.ASSERT, c.ASSERT_NOT):
                walk(arg[1], inside_repeat)

    walk(parser.parse(source, re.IGNORECASE), False)


def parse_rules(document: dict[str, Any]) -> RuleSet:
    """Build a validated RuleSet from the YAML document (fails fast with the rule's name)."""
    default_max = int(document.get("max_chars", 220))
    names: set[str] = set()
    rules = []
    disabled = frozenset(document.get("disabled") or ())
    known = {entry["name"] for entry in document.get("rules", [])} | set(SWITCHABLE_BUILTINS)
    unknown = sorted(disabled - known)
    if unknown:
        raise ValueError(
            f"disabled: unknown rule name(s) {unknown}; use names from 'rules' or "
            f"{', '.join(SWITCHABLE_BUILTINS)}"
        )
    for entry in document.get("rules", []):
        name, kind = entry["name"], entry["kind"]
        if kind not in KINDS:
            raise ValueError(f"rule {name!r}: unknown kind {kind!r}; use one of {sorted(KINDS)}")
        if name in names:
            raise ValueError(f"rule {name!r} is defined twice; rule names must be unique")
        names.add(name)
        if name in disabled:
            continue
        sources = entry.get("patterns") or [entry["pattern"]]
        for source in sources:
            _check_safe(source, name)
        rules.append(
            Rule(
                name=name,
                kind=kind,
                patterns=tuple(re.compile(s, re.IGNORECASE) for s in sources),
                full=entry.get("match", "full") == "full",
                max_chars=int(entry.get("max_chars", default_max)),
            )
        )
    tag = document.get("tag_line", {})
    rep = document.get("repeated_paragraphs", {})
    return RuleSet(
        rules=tuple(rules),
        agencies=tuple(document.get("agencies", ())),
        tag_line=TagLineConfig(
            **{k: v for k, v in tag.items() if k != "labels"}, labels=tuple(tag.get("labels", ()))
        ),
        repeats=RepeatConfig(**rep),
        disabled=disabled & set(SWITCHABLE_BUILTINS),
    )


@functools.lru_cache(maxsize=64)
def load_rules(path: str | None = None) -> RuleSet:
    """Rules from ``path`` or the bundled file; cached so each worker parses them once."""
    from transforms.core.rulefiles import CLEANING_SCHEMA, load_yaml, validate

    if path:
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path) as handle:
            text = handle.read().decode("utf-8")
    else:
        bundled = resources.files("transforms").joinpath("data").joinpath(RULES_RESOURCE)
        text = bundled.read_text("utf-8")
    location = f"cleaning rules {path or RULES_RESOURCE}"
    document = load_yaml(text, location)
    validate(document, CLEANING_SCHEMA, location)  # every problem at once, before compiling
    return parse_rules(document)
