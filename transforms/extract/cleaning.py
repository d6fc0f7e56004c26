"""Post-extraction cleaning: the noise trafilatura leaves on news pages, removed by named rules.

The rules live in ``transforms/data/cleaning_rules.yaml`` so that a new kind of residue is a data
change reviewed on its own, not a code edit per site. Every removal is attributed to a rule name
and counted, because a rule that suddenly fires on every story is the first sign that it has
started eating real text. Some removals carry information that must not be lost: trailing
publisher tag lines become tags, and trailing agency credits become the story's ``agency``.

Safety properties (tested, including with hypothesis):

* rules act on whole *short* lines (``max_chars``), so a paragraph of prose is never matched by
  a keyword inside it, and regex time is bounded by the line cap;
* patterns with a quantified group around an unbounded quantifier are refused at load time
  (catastrophic backtracking);
* cleaning is idempotent (passes run to a fixpoint) and never lengthens the text beyond its
  NFC form (NFC itself can lengthen a handful of composition-excluded characters).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

from transforms.core.records import normalise_for_hash
from transforms.extract.cleaning_rules import (
    AGENCY_CREDIT,
    CONTROL_CHARS,
    KINDS,
    MAX_PASSES,
    RELATED_BLOCK_MAX_LINES,
    RELATED_HEADLINE_MAX_CHARS,
    REPEATED_PARAGRAPH,
    RULES_RESOURCE,
    SWITCHABLE_BUILTINS,
    TAG_LINE,
    TITLE_REPEAT,
    UNICODE_NFC,
    RepeatConfig,
    Rule,
    RuleSet,
    TagLineConfig,
    UnsafePatternError,
    load_rules,
    parse_rules,
)

logger = logging.getLogger(__name__)

__all__ = [
    "AGENCY_CREDIT",
    "CONTROL_CHARS",
    "KINDS",
    "MAX_PASSES",
    "RELATED_BLOCK_MAX_LINES",
    "RELATED_HEADLINE_MAX_CHARS",
    "REPEATED_PARAGRAPH",
    "RULES_RESOURCE",
    "SWITCHABLE_BUILTINS",
    "TAG_LINE",
    "TITLE_REPEAT",
    "UNICODE_NFC",
    "Cleaned",
    "RepeatConfig",
    "Rule",
    "RuleSet",
    "TagLineConfig",
    "UnsafePatternError",
    "clean_text",
    "load_rules",
    "normalise_whitespace",
    "parse_rules",
]

# Zero-width and formatting characters with no meaning in plain text. ZWJ/ZWNJ (U+200C/D) are
# kept: Persian, Arabic and Indic scripts need them. A character class, not ``str.translate``
# with a dict (a Python lookup per character, several times slower on whole stories).
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad\u200e\u200f]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
_HSPACE = re.compile(r"[^\S\n]+")
# C0/C1 controls other than tab and newline, and lone surrogates: never meaningful in text.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_SENTENCE_END = (".", "。", "!", "！", "?", "？", ":", "：", ";", "…")


@dataclass(frozen=True)
class Cleaned:
    """A cleaned body and what cleaning learned from it (nothing the reader needs is lost)."""

    text: str
    hits: tuple[tuple[str, int], ...] = ()
    tags: tuple[str, ...] = ()
    agency: str | None = None
    removed: tuple[tuple[str, str], ...] = ()  # (rule, text removed), for audits and benchmarks


def normalise_whitespace(text: str) -> tuple[list[str], bool, int, int]:
    """NFC, invisible and control characters out, one space between words, no empty runs.

    Returns the non-empty lines, whether *every* paragraph was separated by a blank line (then
    the output keeps blank lines; a mixed layout collapses to single newlines, which keeps the
    output no longer than the input), and the NFC and control-character change counts.
    """
    nfc = unicodedata.normalize("NFC", text)
    nfc_changed = int(nfc != text)
    stripped = _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", nfc))
    cleaned = _CONTROLS.sub("", stripped)
    controls = int(cleaned != stripped)
    raw_lines = [_HSPACE.sub(" ", line).strip() for line in cleaned.split("\n")]
    lines = [line for line in raw_lines if line]
    blank_separated = len(lines) > 1
    previous_blank = True
    seen_text = False
    for line in raw_lines:
        if line:
            if seen_text and not previous_blank:
                blank_separated = False
                break
            seen_text = True
        previous_blank = not line
    return lines, blank_separated, nfc_changed, controls


def _is_headline_like(line: str) -> bool:
    return (
        len(line) <= RELATED_HEADLINE_MAX_CHARS
        and not line.endswith(_SENTENCE_END)
        and len(line.split()) <= 25
    )


def _tag_items(line: str, config: TagLineConfig, label: re.Pattern[str] | None) -> list[str]:
    """Items of a publisher tag line, or [] when the line is not one."""
    labelled = label.match(line) if label else None
    body = line[labelled.end() :] if labelled else line
    if not body or len(body) > config.max_items * (config.max_item_chars + 2):
        return []
    if body.endswith(_SENTENCE_END) and not body.endswith("…"):
        return []
    items = [item.strip() for item in re.split(r"\s?[,;|·•]\s?", body)]
    items = [item for item in items if item]
    minimum = 1 if labelled else config.min_items
    if not minimum <= len(items) <= config.max_items:
        return []
    for item in items:
        if len(item) > config.max_item_chars or len(item.split()) > config.max_item_words:
            return []
        if any(ch in item for ch in '.!?:"“”«»()[]'):
            return []
        if item[0].isalpha() and item[0].islower():
            return []
    return items


def _shingles(words: list[str]) -> frozenset[tuple[str, str, str]]:
    return frozenset(zip(words, words[1:], words[2:], strict=False))


def _repeat_groups(keys: list[str], config: RepeatConfig) -> list[int]:
    """For each paragraph (by its ``normalise_for_hash`` key), the first one it repeats.

    Repeats are exact (after case, punctuation and whitespace folding) or near (word 3-gram
    Jaccard). The near test uses an inverted index of 3-grams with capped postings, so it stays
    linear in practice even on hostile input; a paragraph's 3-grams are first intersected with
    every 3-gram seen (one set operation), so most paragraphs, which repeat nothing, cost no
    Python loop over their 3-grams.
    """
    first_by_key: dict[str, int] = {}
    index: dict[tuple[str, str, str], list[int]] = {}
    seen: set[tuple[str, str, str]] = set()
    shingle_sets: dict[int, frozenset[tuple[str, str, str]]] = {}
    groups: list[int] = []
    for position, key in enumerate(keys):
        if position >= config.max_paragraphs:
            groups.extend(range(position, len(keys)))
            break
        words = key.split()
        long_enough = len(words) >= config.min_words or len(key) >= config.min_chars
        if long_enough and key in first_by_key:
            groups.append(first_by_key[key])
            continue
        group = position
        if len(words) >= config.near_min_words:
            shingles = _shingles(words)
            overlaps: Counter[int] = Counter()
            for shingle in shingles & seen:
                for other in index[shingle][:50]:
                    overlaps[other] += 1
            for other, common in sorted(overlaps.items()):
                union = len(shingles) + len(shingle_sets[other]) - common
                if union and common / union >= config.near_jaccard:
                    group = other
                    break
            if group == position:
                shingle_sets[position] = shingles
                seen.update(shingles)
                for shingle in shingles:
                    index.setdefault(shingle, []).append(position)
        if long_enough:
            first_by_key.setdefault(key, position)
        groups.append(group)
    return groups


def _drop_repeats(lines: list[str], config: RepeatConfig) -> tuple[list[str], list[str]]:
    """Drop the second copy of a run of paragraphs, when the run is substantial.

    Spinners paste a second, lightly edited copy of the body after their instructions, and some
    CMSs render the body twice: a story must never contain its own body twice. But interviews
    repeat their questions, recipes and meal plans their refrains, and product pages their
    feature lists; so a paragraph is only dropped when it occurs exactly twice (a copy, not a
    template; counted verbatim for verbatim repeats, by near-duplicate group otherwise), belongs
    to a run of such second copies of at least ``run_min_words`` words, and the runs together
    hold at least ``min_share`` of the text (a copied body is half of it; a meal plan that
    repeats one day's menu is a few percent).
    """
    keys = [normalise_for_hash(line) for line in lines]
    groups = _repeat_groups(keys, config)
    sizes = Counter(groups)
    key_counts = Counter(keys)
    flags = []
    for i, group in enumerate(groups):
        if group == i:
            flags.append(False)
        elif keys[i] == keys[group]:
            flags.append(key_counts[keys[i]] == 2)
        else:
            flags.append(sizes[group] <= 2)
    # Short lines (subheads, bylines, "0") neither start nor break a run, and neither do lines
    # that repeat more often than twice (a refrain of the body is a refrain of its copy too,
    # four times in all); inside a dropped run they go too when they repeat an earlier line, and
    # stay when they are new.
    short = [
        (len(k.split()) < config.min_words and len(k) < config.min_chars)
        or (group != i and not flags[i])
        for i, (k, group) in enumerate(zip(keys, groups, strict=True))
    ]
    first_seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        first_seen.setdefault(key, index)
    runs: list[range] = []
    repeated_words = 0
    i = 0
    while i < len(lines):
        if not flags[i]:
            i += 1
            continue
        end = j = i
        while j < len(lines) and (flags[j] or short[j]):
            if flags[j]:
                end = j
            j += 1
        run = range(i, end + 1)
        words = sum(len(lines[k].split()) for k in run if flags[k])
        chars = sum(len(lines[k]) for k in run if flags[k])
        if words >= config.run_min_words or chars >= 6 * config.run_min_words:
            runs.append(run)
            repeated_words += max(words, chars // 6)
        i = end + 1
    total_words = sum(max(len(line.split()), len(line) // 6) for line in lines)
    if not runs or repeated_words < config.min_share * total_words:
        return list(lines), []
    drop = {k for run in runs for k in run if flags[k] or first_seen[keys[k]] < k}
    kept = [line for k, line in enumerate(lines) if k not in drop]
    dropped = [line for k, line in enumerate(lines) if k in drop]
    return kept, dropped


def _one_pass(
    lines: list[str], title_key: str, rules: RuleSet, hits: Counter[str], found: dict[str, Any]
) -> list[str]:
    trace: list[tuple[str, str]] = found.setdefault("trace", [])

    def hit(name: str, line: str) -> None:
        hits[name] += 1
        trace.append((name, line))

    lines = list(lines)
    # Leading stamps and leading lines (breadcrumbs, the headline repeated as the first line).
    for rule in rules.of_kind("leading_prefix"):
        while lines:
            stripped = rule.strip_prefix(lines[0]).strip()
            if stripped == lines[0]:
                break
            hit(rule.name, lines[0][: len(lines[0]) - len(stripped)])
            lines[0:1] = [stripped] if stripped else []
    leading = rules.of_kind("leading_line")
    while lines:
        rule = next((r for r in leading if r.matches(lines[0])), None)
        if rule is not None:
            hit(rule.name, lines[0])
        elif (
            title_key and rules.enabled(TITLE_REPEAT) and normalise_for_hash(lines[0]) == title_key
        ):
            hit(TITLE_REPEAT, lines[0])
        else:
            break
        lines.pop(0)
    # Suffixes, then whole boilerplate lines and related-link blocks anywhere.
    for rule in rules.of_kind("line_suffix"):
        for i, line in enumerate(lines):
            stripped = rule.strip_suffix(line).rstrip()
            if stripped != line:
                hit(rule.name, line[len(stripped) :])
                lines[i] = stripped
        lines = [line for line in lines if line]
    anywhere = rules.of_kind("line")
    blocks = rules.of_kind("related_block")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        rule = next((r for r in anywhere if r.matches(line)), None)
        if rule is not None:
            hit(rule.name, line)
            i += 1
            continue
        block = next((r for r in blocks if r.matches(line)), None)
        if block is not None:
            hit(block.name, line)
            i += 1
            taken = 0
            while i < len(lines) and taken < RELATED_BLOCK_MAX_LINES:
                if not _is_headline_like(lines[i]):
                    break
                hit(block.name, lines[i])
                i += 1
                taken += 1
            continue
        kept.append(line)
        i += 1
    lines, repeated = (
        _drop_repeats(kept, rules.repeats) if rules.enabled(REPEATED_PARAGRAPH) else (kept, [])
    )
    for line in repeated:
        hit(REPEATED_PARAGRAPH, line)
    # Trailing credits, agency sign-offs and tag lines, innermost last line first.
    trailing = rules.of_kind("trailing_line")
    while lines:
        last = lines[-1]
        credits = rules.enabled(AGENCY_CREDIT)
        credit = rules.agency_line.fullmatch(last) if credits and len(last) <= 60 else None
        if credit:
            found.setdefault("agency", credit.group("agency"))
            hit(AGENCY_CREDIT, last)
            lines.pop()
            continue
        rule = next((r for r in trailing if r.matches(last)), None)
        if rule is not None:
            hit(rule.name, last)
            lines.pop()
            continue
        items = _tag_items(last, rules.tag_line, rules.tag_label) if rules.enabled(TAG_LINE) else []
        if items:
            found.setdefault("tags", [])
            found["tags"][:0] = items
            hit(TAG_LINE, last)
            lines.pop()
            continue
        suffix = rules.agency_suffix.search(last[-80:]) if credits else None
        if suffix:
            agency = suffix.group("agency")
            marked = suffix.group("sep") or suffix.group("close")
            if marked or (agency.isupper() and len(agency) > 1):
                found.setdefault("agency", agency)
                hit(AGENCY_CREDIT, suffix.group(0))
                lines[-1] = last[: len(last) - len(suffix.group(0))].rstrip()
                continue
        break
    return lines


def clean_text(
    text: str, title: str = "", rules: RuleSet | None = None, keep_title_below: int = 0
) -> Cleaned:
    """Clean an extracted body; ``title`` lets a headline repeated atop the body be removed.

    A short teaser can be little more than its headline and a lead sentence: when the body
    without the headline would be shorter than ``keep_title_below`` characters (the length under
    which the story is rejected), the headline stays, since a story that is kept with its headline
    twice loses nothing while a rejected one loses the lead too.
    """
    cleaned = _clean(text, title, rules or load_rules())
    if title and len(cleaned.text) < keep_title_below and dict(cleaned.hits).get(TITLE_REPEAT):
        return _clean(text, "", rules or load_rules())
    return cleaned


def _clean(text: str, title: str, rules: RuleSet) -> Cleaned:
    hits: Counter[str] = Counter()
    found: dict[str, Any] = {}
    lines, blank_separated, nfc_changed, controls = normalise_whitespace(text or "")
    if nfc_changed:
        hits[UNICODE_NFC] += 1
    if controls:
        hits[CONTROL_CHARS] += 1
    title_key = normalise_for_hash(title or "")
    for _ in range(MAX_PASSES):
        after = _one_pass(lines, title_key, rules, hits, found)
        if after == lines:
            break
        lines = after
    joiner = "\n\n" if blank_separated else "\n"
    tags: list[str] = []
    for tag in found.get("tags", []):
        if tag not in tags:
            tags.append(tag)
    return Cleaned(
        text=joiner.join(lines),
        hits=tuple(sorted(hits.items())),
        tags=tuple(tags),
        agency=found.get("agency"),
        removed=tuple(found.get("trace", ())),
    )
