"""Spelling and vocabulary markers of close standard languages (Malay/Indonesian, BCS, Norwegian).

Character n-gram models barely separate these groups, so the identifier lets each standard's own
words, stems and usage patterns decide inside a group; the markers are data
(``transforms/data/language_markers.yaml``) so that a new marker is a data change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


MARKERS_RESOURCE = "language_markers.yaml"


@dataclass(frozen=True)
class MarkerSet:
    """One set of marker evidence in a close group; every hit votes for all of ``votes``."""

    votes: frozenset[str]
    weight: float
    words: frozenset[str]
    stems: tuple[str, ...]
    token_patterns: tuple[re.Pattern[str], ...]
    exceptions: frozenset[str]
    text_patterns: tuple[re.Pattern[str], ...]

    def token_hit(self, token: str) -> bool:
        if token in self.words:
            return True
        if token in self.exceptions:
            return False
        return token.startswith(self.stems) or any(
            pattern.fullmatch(token) for pattern in self.token_patterns
        )


@dataclass(frozen=True)
class MarkerGroup:
    members: tuple[str, ...]
    sets: tuple[MarkerSet, ...]


def load_markers(text: str | None = None) -> dict[str, MarkerGroup]:
    """Parse the markers file (the packaged one unless ``text`` is given); fail loudly on typos.

    A misspelt member would silently never vote, so every set's votes must name members.
    """
    from transforms.core.yamltext import safe_load

    if text is None:
        text = resources.files("transforms").joinpath("data", MARKERS_RESOURCE).read_text("utf-8")
    raw = safe_load(text) or {}
    groups: dict[str, MarkerGroup] = {}
    for name, body in (raw.get("groups") or {}).items():
        members = tuple(body["members"])
        sets = []
        for entry in body.get("sets") or []:
            votes = frozenset(entry["votes"])
            unknown = votes - set(members)
            if not votes or unknown:
                raise ValueError(f"marker group {name}: votes {sorted(unknown)} are not members")
            sets.append(
                MarkerSet(
                    votes=votes,
                    weight=float(entry.get("weight", 1.0)),
                    words=frozenset(w.lower() for w in entry.get("words") or ()),
                    stems=tuple(sorted(w.lower() for w in entry.get("stems") or ())),
                    token_patterns=tuple(re.compile(p) for p in entry.get("token_patterns") or ()),
                    exceptions=frozenset(w.lower() for w in entry.get("except") or ()),
                    text_patterns=tuple(re.compile(p) for p in entry.get("text_patterns") or ()),
                )
            )
        groups[name] = MarkerGroup(members, tuple(sets))
    return groups


#: Close groups of standard languages that character n-grams barely separate, with the spelling
#: and vocabulary of each member's norm (``transforms/data/language_markers.yaml``).
MARKERS: dict[str, MarkerGroup] = load_markers()
GROUP_OF = {lang: group for group, body in MARKERS.items() for lang in body.members}


def marker_hits(text: str, group: str) -> list[tuple[frozenset[str], float]]:
    """Every piece of marker evidence in ``text``: the members it votes for, and its weight."""
    body = MARKERS[group]
    lowered = text.lower()
    hits: list[tuple[frozenset[str], float]] = []
    for token in _WORD.findall(lowered):
        for marker in body.sets:
            if marker.token_hit(token):
                hits.append((marker.votes, marker.weight))
    for marker in body.sets:
        for pattern in marker.text_patterns:
            hits.extend((marker.votes, marker.weight) for _ in pattern.finditer(lowered))
    return hits
