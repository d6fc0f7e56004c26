"""Other ways to weigh topic evidence, tried out of fold on the hand-labelled pages.

    python -m benchmarks.tagging DIR [DIR ...] --topics LABELS [LABELS ...] --cv 5

The topic matcher scores a topic by counting its phrase hits (a title hit counts ``title_weight``
times). Its remaining first-topic errors are mostly a word used in another sense ("under
assault", "Terror Level 100", the Revolutionary War) or a side subject that outscores the main
one. This module tries general answers to that, each a reweighting of the same hits
(``TopicMatcher.evidence``), so nothing is matched twice and every candidate is scored on exactly
the evidence the production scorer sees:

* ``lede``: news is written as an inverted pyramid, so hits in the first ``lede_chars`` body
  characters count ``lede_weight`` times;
* ``spread``: coverage rather than repetition: the body is cut into ``spread_chars`` pieces and
  each piece (and the title) adds at most ``spread_cap`` hits' worth, so one word repeated in a
  paragraph weighs less than the topic's words spread through the story;
* ``specific``: multi-word or capitalised phrases ("Wall Street", "NATO") count
  ``specific_weight`` times a single lower-case word;
* ``sense``: a single lower-case word counts ``unsupported_weight`` times unless another phrase of
  the same topic occurs within ``window`` words (-1: anywhere in the story);
* ``repeat``: a phrase found n times counts n ** ``repeat_exponent``;
* ``density``: a topic needs at least ``density`` hits per 1,000 body characters, beyond
  ``min_score`` (out-of-taxonomy lifestyle pages collect stray hits over a long text);
* ``idf``: a phrase counts idf ** ``idf_exponent``, document frequencies computed (without labels)
  over every body of the evaluation sets given;
* ``title``: a title hit counts ``title_weight`` times (the taxonomy's value when unset);
* ``section``: the publisher's filing in the URL (``/sport/``, ``/business/``: a section segment
  that is a topic's id or holds one of its phrases, ``TopicMatcher.filing``) counts
  ``section_weight``, once per topic;
* ``tags``: the same for the page's own tags and categories (``tag_weight``);
* ``support``: every topic needs ``min_phrases`` different phrases (the taxonomy asks it of
  energy and transport only), so one word used in another sense cannot make a topic;
* ``abstain``: the story gets no topic unless its first topic has ``first_phrases`` different
  phrases and a score of ``first_score`` (lifestyle pages no topic fits collect a few stray hits);
* ``margin``: no topic unless the first outscores the second by ``first_margin`` of its score;
* ``lead``: no topic unless the first topic is in the title or the first ``first_lead`` body
  characters;
* ``sink``: a taxonomy's ``sink`` topics (a subject the desk does not file: a story they lead
  gets no topic) weigh ``sink_weight`` (0: ignored); only with a taxonomy that has one
  (``benchmarks.tagging --taxonomy``).

Parameters are chosen by k-fold cross-validation with folds fixed by page id (the same folds as
``benchmarks.places``): in each fold the grid point with the most first topics right on the other
folds is chosen (ties: the larger mean margin between the best accepted and the best other topic,
then the setting nearest "off"), and scored on the fold's pages. Every mechanism is tried alone,
then by greedy forward selection inside each fold (add the mechanism that most improves the
training folds, stop when none does), and forward selection with each mechanism left out. The
out-of-fold count is the figure to compare with the production scorer (all mechanisms off).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Params:
    """One scoring; the defaults are the production scorer."""

    lede_chars: int = 0
    lede_weight: float = 1.0
    spread_chars: int = 0
    spread_cap: float = 1.0
    specific_weight: float = 1.0
    window: int = 0
    unsupported_weight: float = 1.0
    repeat_exponent: float = 1.0
    density: float = 0.0
    idf_exponent: float = 0.0
    title_weight: float | None = None  # None: the taxonomy's
    section_weight: float | None = None
    tag_weight: float | None = None
    min_phrases: int = 0  # 0: the taxonomy's per-topic min_phrases; else at least this many
    first_phrases: int = 0  # abstain unless the first topic has this many different phrases
    first_margin: float = 0.0  # abstain unless (first - second) / first reaches this
    first_lead: int = 0  # abstain unless the first topic is in the title or first N body chars
    first_score: float = 0.0  # abstain unless the first topic scores this much
    sink_weight: float | None = None  # sink topics' weight (None: 1, as the taxonomy; 0: ignored)


# first value of every parameter is "off" (the production scorer)
MECHANISMS: dict[str, dict[str, tuple[Any, ...]]] = {
    "lede": {"lede_chars": (0, 300, 600, 1000), "lede_weight": (1.0, 1.5, 2.0, 3.0)},
    "spread": {"spread_chars": (0, 300, 500, 1000), "spread_cap": (1.0, 2.0, 3.0)},
    "specific": {"specific_weight": (1.0, 1.5, 2.0, 3.0)},
    "sense": {"window": (0, -1, 100, 50, 25), "unsupported_weight": (1.0, 0.5, 0.25, 0.0)},
    "repeat": {"repeat_exponent": (1.0, 0.75, 0.5)},
    "density": {"density": (0.0, 0.25, 0.5, 1.0)},
    "idf": {"idf_exponent": (0.0, 0.5, 1.0)},
    "title": {"title_weight": (None, 1.0, 2.0, 3.0, 4.0)},
    "section": {"section_weight": (None, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0)},
    "tags": {"tag_weight": (None, 0.0, 1.0, 2.0, 3.0, 4.0)},
    "support": {"min_phrases": (0, 2, 3)},
    "abstain": {"first_phrases": (0, 2, 3), "first_score": (0.0, 4.0, 6.0)},
    "margin": {"first_margin": (0.0, 0.1, 0.25, 0.4)},
    "lead": {"first_lead": (0, 300, 600, 1000)},
    "sink": {"sink_weight": (None, 0.0, 0.5, 2.0)},
}


@dataclass(frozen=True)
class Feature:
    topic: int
    phrase: int
    in_title: bool
    start: int
    word: int  # word index over title then body, for windows
    specific: bool  # several words, or written with a capital letter
    source: str = ""  # "section" or "tag" for the publisher's filing (TopicMatcher.filing)


@dataclass(frozen=True)
class Page:
    page: str
    accepted: tuple[str, ...]
    length: int
    features: tuple[Feature, ...]
    idf: dict[tuple[int, int], float] = field(default_factory=dict, compare=False)


def _specific(phrase: str) -> bool:
    core = phrase.rstrip("*").strip()
    return " " in core or "-" in core or core != core.lower()


def page_evidence(
    matcher: Any,
    page: str,
    title: str,
    body: str,
    accepted: Sequence[str],
    url: str = "",
    tags: Sequence[str] = (),
) -> Page:
    """A labelled page's hits with what the candidate scorings look at (the publisher's
    filing always, whatever weight the taxonomy gives it)."""
    title_words = [m.start() for m in _WORD.finditer(title or "")]
    body_words = [m.start() for m in _WORD.finditer(body or "")]
    topics = matcher.taxonomy.topics
    features = []
    for hit in matcher.evidence(title, body):
        starts = title_words if hit.in_title else body_words
        word = (
            bisect.bisect_right(starts, hit.start) - 1 + (0 if hit.in_title else len(title_words))
        )
        phrase = topics[hit.topic].phrases[hit.phrase]
        features.append(
            Feature(hit.topic, hit.phrase, hit.in_title, hit.start, word, _specific(phrase))
        )
    for hit in matcher.filing(url, tags, every=True):
        features.append(Feature(hit.topic, hit.phrase, False, -1, -1, False, hit.source))
    return Page(page, tuple(accepted), len(body or ""), tuple(features))


def document_frequencies(matcher: Any, bodies: Iterable[str]) -> dict[tuple[int, int], float]:
    """idf of every (topic, phrase) over the bodies, scaled so the median phrase weighs 1."""
    seen: dict[tuple[int, int], int] = {}
    count = 0
    for body in bodies:
        count += 1
        for key in {(hit.topic, hit.phrase) for hit in matcher.evidence("", body)}:
            seen[key] = seen.get(key, 0) + 1
    idf = {key: math.log((count + 1) / (df + 1)) for key, df in seen.items()}
    values = sorted(idf.values())
    median = values[len(values) // 2] if values else 1.0
    unseen = math.log(count + 1)
    out = {key: value / median for key, value in idf.items()}
    out[(-1, -1)] = unseen / median  # any phrase the corpus never used
    return out


def rank(matcher: Any, page: Page, params: Params) -> list[tuple[str, float]]:
    """Topics kept for the page under ``params``, best first, with their scores."""
    taxonomy = matcher.taxonomy
    by_topic: dict[int, list[Feature]] = {}
    for feature in page.features:
        by_topic.setdefault(feature.topic, []).append(feature)
    title_weight = taxonomy.title_weight if params.title_weight is None else params.title_weight
    filing = {
        "section": taxonomy.section_weight
        if params.section_weight is None
        else params.section_weight,
        "tag": taxonomy.tag_weight if params.tag_weight is None else params.tag_weight,
    }
    sinks = {i for i, topic in enumerate(taxonomy.topics) if topic.sink}
    sink_weight = 1.0 if params.sink_weight is None else params.sink_weight
    if not sink_weight:
        by_topic = {i: hits for i, hits in by_topic.items() if i not in sinks}
    scored: dict[int, tuple[float, int]] = {}
    lead: set[int] = set()  # topics with a hit in the title or the first first_lead characters
    for index, all_hits in by_topic.items():
        # the publisher's filing: a fixed weight, none of the text's reweightings
        filed = sum(filing[hit.source] for hit in all_hits if hit.source)
        filed_phrases = {
            (hit.source, hit.phrase) if hit.phrase < 0 else hit.phrase
            for hit in all_hits
            if hit.source and filing[hit.source] > 0
        }
        hits = [hit for hit in all_hits if not hit.source]
        if any(hit.in_title or hit.start < params.first_lead for hit in hits):
            lead.add(index)
        weights = []
        for hit in hits:
            if hit.in_title:
                weight = float(title_weight)
            elif hit.start < params.lede_chars:
                weight = params.lede_weight
            else:
                weight = 1.0
            if params.window and not hit.specific:
                reach = params.window if params.window > 0 else math.inf
                if not any(
                    o.phrase != hit.phrase and abs(o.word - hit.word) <= reach for o in hits
                ):
                    weight *= params.unsupported_weight
            if hit.specific:
                weight *= params.specific_weight
            if params.idf_exponent:
                idf = page.idf.get((hit.topic, hit.phrase), page.idf.get((-1, -1), 1.0))
                weight *= idf**params.idf_exponent
            weights.append(weight)
        phrases: dict[int, float] = {}
        for hit, weight in zip(hits, weights, strict=True):
            phrases[hit.phrase] = phrases.get(hit.phrase, 0.0) + weight
        different = len(filed_phrases | {p for p, total in phrases.items() if total > 0})
        if params.spread_chars:
            pieces: dict[int, float] = {}
            for hit, weight in zip(hits, weights, strict=True):
                key = -1 if hit.in_title else hit.start // params.spread_chars
                pieces[key] = pieces.get(key, 0.0) + weight
            score = sum(
                min(total, params.spread_cap * (title_weight if key < 0 else 1))
                for key, total in pieces.items()
            )
        else:
            score = sum(total**params.repeat_exponent for total in phrases.values() if total > 0)
        if index in sinks:
            score *= sink_weight
        scored[index] = (score + filed, different)
    best = max((score for score, _ in scored.values()), default=0.0)
    floor_density = params.density * page.length / 1000
    kept = [
        index
        for index, (score, different) in scored.items()
        if score > 0
        and score >= max(taxonomy.topics[index].min_score, floor_density)
        and score >= taxonomy.min_share * best
        and different >= max(taxonomy.topics[index].min_phrases, params.min_phrases)
    ]
    kept.sort(key=lambda index: (-scored[index][0], index))
    kept = kept[: taxonomy.max_topics]
    if kept and (kept[0] in sinks or _abstains(params, kept, scored, lead)):
        return []
    return [(taxonomy.topics[i].id, scored[i][0]) for i in kept if i not in sinks]


def _abstains(
    params: Params, kept: list[int], scored: dict[int, tuple[float, int]], lead: set[int]
) -> bool:
    """Whether the first topic has too little evidence to give the story any topic: a
    lifestyle page no topic fits collects a few stray hits of one, a story on a subject uses
    several of its words, leads with them, and outscores the runner-up clearly."""
    first, (score, different) = kept[0], scored[kept[0]]
    second = scored[kept[1]][0] if len(kept) > 1 else 0.0
    return (
        different < params.first_phrases
        or (score - second) / score < params.first_margin
        or (params.first_lead > 0 and first not in lead)
        or score < params.first_score
    )


def judge(page: Page, ranked: list[tuple[str, float]]) -> tuple[bool, float]:
    """(first topic right, margin in [-1, 1] between the best accepted and the best other)."""
    first = ranked[0][0] if ranked else None
    if not page.accepted:
        return first is None, 1.0 if first is None else -1.0
    good = max((s for t, s in ranked if t in page.accepted), default=0.0)
    bad = max((s for t, s in ranked if t not in page.accepted), default=0.0)
    return first in page.accepted, (good - bad) / (good + bad) if good + bad else 0.0


def fold_of(page: str, k: int) -> int:
    """The fold of a page: fixed by its id, so adding pages never moves the others."""
    return int(hashlib.sha256(page.encode("utf-8")).hexdigest()[:12], 16) % k


def _grid(mechanisms: Sequence[str]) -> list[tuple[Params, int]]:
    """Every setting of the mechanisms, with its distance from "off" (for ties)."""
    names = [(name, param) for name in mechanisms for param in MECHANISMS[name]]
    values = [MECHANISMS[name][param] for name, param in names]
    out = []
    for combo in itertools.product(*values):
        settings = {param: value for (_, param), value in zip(names, combo, strict=True)}
        distance = sum(v.index(c) for v, c in zip(values, combo, strict=True))
        out.append((replace(Params(), **settings), distance))
    return out


def _objective(matcher: Any, pages: Sequence[Page], params: Params) -> tuple[int, float]:
    right = margin = 0.0
    for page in pages:
        ok, gap = judge(page, rank(matcher, page, params))
        right += ok
        margin += gap
    return int(right), margin / len(pages) if pages else 0.0


def _choose(
    matcher: Any, pages: Sequence[Page], grid: list[tuple[Params, int]]
) -> tuple[Params, tuple[int, float]]:
    best = max(grid, key=lambda item: (*_objective(matcher, pages, item[0]), -item[1]))
    return best[0], _objective(matcher, pages, best[0])


def _forward(
    matcher: Any, pages: Sequence[Page], allowed: Sequence[str]
) -> tuple[Params, list[str]]:
    """Greedy forward selection: add mechanisms while one improves the training pages."""
    chosen: list[str] = []
    params = Params()
    score = _objective(matcher, pages, params)
    while True:
        trials = []
        for name in allowed:
            if name in chosen:
                continue
            base = {p: getattr(params, p) for m in chosen for p in MECHANISMS[m]}
            grid = [(replace(candidate, **base), distance) for candidate, distance in _grid([name])]
            candidate, candidate_score = _choose(matcher, pages, grid)
            trials.append((candidate_score, name, candidate))
        if not trials:
            return params, chosen
        best_score, name, candidate = max(
            trials, key=lambda t: (t[0], -list(MECHANISMS).index(t[1]))
        )
        if best_score <= score:
            return params, chosen
        params, score = candidate, best_score
        chosen.append(name)


def _changed(params: Params) -> dict[str, Any]:
    off = Params()
    return {k: v for k, v in vars(params).items() if v != getattr(off, k)}


def cross_validate(
    matcher: Any, pages: Sequence[Page], k: int = 5, heldout: Sequence[Page] = ()
) -> dict[str, Any]:
    """Out-of-fold first topics right for each mechanism, forward selection and its ablation.

    ``heldout`` pages take no part in any choice: each setting chosen on all of ``pages`` is
    scored on them afterwards, beside the production scorer, for the record.
    """
    folds = [[p for p in pages if fold_of(p.page, k) == f] for f in range(k)]
    train = [[p for p in pages if fold_of(p.page, k) != f] for f in range(k)]

    def out_of_fold(select) -> dict[str, Any]:
        right = 0
        chosen = []
        for f in range(k):
            params = select(train[f])
            chosen.append(_changed(params))
            right += sum(judge(p, rank(matcher, p, params))[0] for p in folds[f])
        in_sample = select(list(pages))
        figures = {
            "out_of_fold_right": right,
            "out_of_fold_accuracy": round(right / len(pages), 4) if pages else None,
            "chosen_per_fold": chosen,
            "chosen_on_all_pages": _changed(in_sample),
            "right_in_sample": _objective(matcher, pages, in_sample)[0],
        }
        if heldout:
            figures["heldout_right"] = _objective(matcher, heldout, in_sample)[0]
        return figures

    production = _objective(matcher, pages, Params())[0]
    result: dict[str, Any] = {
        "pages": len(pages),
        "folds": k,
        "fold_sizes": [len(f) for f in folds],
        "production_right": production,
        "production_accuracy": round(production / len(pages), 4) if pages else None,
        "alone": {},
        "ablation": {},
    }
    if heldout:
        result["heldout_pages"] = len(heldout)
        result["heldout_production_right"] = _objective(matcher, heldout, Params())[0]
    for name in MECHANISMS:
        grid = _grid([name])
        result["alone"][name] = out_of_fold(lambda ps, g=grid: _choose(matcher, ps, g)[0])
    everything = list(MECHANISMS)
    result["forward"] = out_of_fold(lambda ps: _forward(matcher, ps, everything)[0])
    for name in MECHANISMS:
        others = [m for m in everything if m != name]
        result["ablation"][name] = out_of_fold(lambda ps, o=others: _forward(matcher, ps, o)[0])
    return result
