"""Topics from a user-editable taxonomy, matched with one Aho-Corasick pass per case mode.

The taxonomy format is documented at the top of ``data/taxonomy.yaml`` (the default one, for
general news desks). Rules, chosen so a media monitor can predict what a phrase will do:

* all-lowercase phrases match case-insensitively; a phrase with any capital letter matches as
  written, so "WHO" is the World Health Organization and never the pronoun;
* every hit must sit on word boundaries; a trailing ``*`` lifts the right boundary only
  ("sanction*" finds "sanctions", "sanctioned");
* a phrase hit inside an ``exclude`` phrase of the same topic does not count ("trade war" is not
  conflict, "tennis court" is not courts);
* score = body hits + ``title_weight`` x title hits; a topic is kept when its score reaches its
  ``min_score`` and ``min_share`` of the best topic's score (a passing mention of the police in an
  election story is not a crime story), and when at least ``min_phrases`` different phrases of
  it were found in title and body: one word repeated is often another sense of it ("traffic" to
  a website, "oil" on skin, "under assault" said of banks), a story on the subject uses several;
  topics are ordered by score, then by taxonomy order, so the first topic (the one the writer
  partitions by) is stable for a given text;
* a ``sink`` topic is never written: when it comes first the story gets no topic at all (the
  words of a subject the desk does not file, such as lifestyle, outweigh the stray hits of the
  topics it does), otherwise it is left out of the list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

BUNDLED_TAXONOMY = "bundled:taxonomy.yaml"


@dataclass(frozen=True)
class Topic:
    id: str
    phrases: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    min_score: int = 2
    min_phrases: int = 1
    sink: bool = False


SECTION = "section"
TAG = "tag"
ID_PHRASE = -1  # a section or tag named by the topic's id ("sport", "politics")


class Hit(NamedTuple):
    """One counted phrase hit: ``topic`` and ``phrase`` index the taxonomy, ``start`` is the
    character offset in the title (``in_title``) or in the body. A tuple: one is made per hit
    of every story, and a frozen dataclass costs several times more to build. ``source`` is
    ``SECTION`` or ``TAG`` for the publisher's own filing of the story (its URL's section
    segments, its tags and categories): one such hit per topic, ``start`` -1, ``phrase``
    ``ID_PHRASE`` when the section or tag is the topic's id."""

    topic: int
    phrase: int
    in_title: bool
    start: int
    source: str = ""


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    title_weight: int = 2
    max_topics: int = 5
    min_share: float = 0.2
    section_weight: int = 0
    tag_weight: int = 0


def _read_text(path: str) -> str:
    if path == BUNDLED_TAXONOMY:
        return resources.files("transforms").joinpath("data/taxonomy.yaml").read_text("utf-8")
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as handle:
        return handle.read().decode("utf-8")


def parse_taxonomy(document: dict[str, Any]) -> Taxonomy:
    """Validate a taxonomy document; errors name the offending topic so users can fix files."""
    if not isinstance(document, dict) or not isinstance(document.get("topics"), list):
        raise ValueError("taxonomy must be a mapping with a 'topics' list")
    default_min = int(document.get("min_score", 2))
    default_phrases = int(document.get("min_phrases", 1))
    topics = []
    seen: set[str] = set()
    for index, item in enumerate(document["topics"]):
        if not isinstance(item, dict) or not str(item.get("id", "")).strip():
            raise ValueError(f"taxonomy topic #{index} has no 'id'")
        topic_id = str(item["id"]).strip()
        if topic_id in seen:
            raise ValueError(f"taxonomy topic {topic_id!r} is defined twice")
        seen.add(topic_id)
        phrases = tuple(str(p).strip() for p in item.get("phrases") or [] if str(p).strip())
        if not phrases:
            raise ValueError(f"taxonomy topic {topic_id!r} has no phrases")
        for phrase in phrases:
            if "*" in phrase[:-1]:
                raise ValueError(f"topic {topic_id!r}: '*' only at the end of a phrase: {phrase!r}")
        exclude = tuple(str(p).strip() for p in item.get("exclude") or [] if str(p).strip())
        topics.append(
            Topic(
                topic_id,
                phrases,
                exclude,
                int(item.get("min_score", default_min)),
                int(item.get("min_phrases", default_phrases)),
                bool(item.get("sink", False)),
            )
        )
    return Taxonomy(
        topics=tuple(topics),
        title_weight=int(document.get("title_weight", 2)),
        max_topics=int(document.get("max_topics", 5)),
        min_share=float(document.get("min_share", 0.2)),
        section_weight=int(document.get("section_weight", 0)),
        tag_weight=int(document.get("tag_weight", 0)),
    )


def load_taxonomy(path: str | None = None) -> Taxonomy:
    from transforms.core.rulefiles import TAXONOMY_SCHEMA, load_yaml, validate

    location = path or BUNDLED_TAXONOMY
    document = load_yaml(_read_text(location), f"taxonomy {location}")
    validate(document, TAXONOMY_SCHEMA, f"taxonomy {location}")  # every problem at once
    return parse_taxonomy(document)


_NOT_LETTERS = re.compile(r"[^a-z]+")


def url_sections(url: str) -> tuple[str, ...]:
    """The section names in an article URL's path (``/sport/tennis/<slug>`` -> sport, tennis).

    Publishers file a story under a section before anyone tags it, and the path says which.
    The last segment is the story's own slug or id (its words are the headline's, counted
    already), and segments with digits are dates and ids; the rest, lower-cased, with
    separators as spaces, are the sections.
    """
    segments = [segment for segment in urlsplit(url or "").path.lower().split("/") if segment]
    out: list[str] = []
    for segment in segments[:-1]:
        if any(ch.isdigit() for ch in segment):
            continue
        words = " ".join(_NOT_LETTERS.split(segment)).strip()
        if words and words not in out:
            out.append(words)
    return tuple(out)


def _lower_same_length(text: str) -> str:
    """Lower-case without changing offsets (a few characters lower-case to two)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


class TopicMatcher:
    """Compiled taxonomy; build once per worker."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        import ahocorasick

        self.taxonomy = taxonomy
        keys: dict[bool, dict[str, list[tuple[int, bool, bool, int]]]] = {False: {}, True: {}}
        for index, topic in enumerate(taxonomy.topics):
            for phrases, excluding in ((topic.phrases, False), (topic.exclude, True)):
                for number, phrase in enumerate(phrases):
                    prefix = phrase.endswith("*")
                    body = phrase.rstrip("*").strip()
                    exact = body != body.lower()
                    key = body if exact else body.lower()
                    keys[exact].setdefault(key, []).append((index, excluding, prefix, number))
        # a section or tag named by the topic's id, singular or plural: "sport", "human rights"
        self._ids: dict[str, int] = {}
        for index, topic in enumerate(taxonomy.topics):
            name = topic.id.replace("_", " ").lower()
            for form in (name, name[:-1] if name.endswith("s") else f"{name}s"):
                self._ids.setdefault(form, index)
        self._automata = {}
        for exact, table in keys.items():
            automaton = ahocorasick.Automaton()
            for key in sorted(table):
                automaton.add_word(key, (key, tuple(table[key])))
            if table:
                automaton.make_automaton()
                self._automata[exact] = automaton

    def _hits(self, text: str) -> dict[int, list[tuple[int, int, bool, int]]]:
        """topic index -> [(start, end, is_exclusion, phrase number)] on word boundaries."""
        hits: dict[int, list[tuple[int, int, bool, int]]] = {}
        lowered = _lower_same_length(text)
        for exact, automaton in self._automata.items():
            haystack = text if exact else lowered
            for end_index, (key, targets) in automaton.iter(haystack):
                start = end_index - len(key) + 1
                end = end_index + 1
                if start > 0 and haystack[start - 1].isalnum():
                    continue
                right_bounded = end >= len(haystack) or not haystack[end].isalnum()
                for index, excluding, prefix, number in targets:
                    if not prefix and not right_bounded:
                        continue
                    stop = end
                    if prefix:
                        while stop < len(haystack) and haystack[stop].isalnum():
                            stop += 1
                    hits.setdefault(index, []).append((start, stop, excluding, number))
        return hits

    def _evidence_in(self, text: str, in_title: bool) -> list[Hit]:
        """The hits that count in one text: exclusions applied, one hit per position per topic."""
        out: list[Hit] = []
        for index, spans in self._hits(text).items():
            excluded = [(s, e) for s, e, excluding, _ in spans if excluding]
            positions: dict[int, int] = {}
            for start, end, excluding, number in spans:
                if excluding:
                    continue
                if any(s <= start and end <= e for s, e in excluded):
                    continue
                # one hit per position even if two phrases overlap there
                positions.setdefault(start, number)
            out.extend(Hit(index, number, in_title, start) for start, number in positions.items())
        return out

    def evidence(self, title: str, text: str) -> list[Hit]:
        """Every counted hit of title and body, for scorers that weigh hits by where they sit.

        ``topics`` scores exactly these hits; ``benchmarks.topic_cv`` rescores them to try
        other weightings out of fold without matching the pages again.
        """
        return self._evidence_in(title or "", True) + self._evidence_in(text or "", False)

    def _filed_under(self, names: Sequence[str], source: str) -> list[Hit]:
        """One hit per topic that any of the publisher's section or tag names is filed under:
        the name is the topic's id, or holds one of its phrases (exclusions applied)."""
        found: dict[int, int] = {}
        for name in names:
            plain = " ".join(name.split())
            if not plain:
                continue
            index = self._ids.get(plain.lower())
            if index is not None:
                found.setdefault(index, ID_PHRASE)
            for hit in self._evidence_in(plain, False):
                found.setdefault(hit.topic, hit.phrase)
        return [Hit(topic, phrase, False, -1, source) for topic, phrase in sorted(found.items())]

    def filing(self, url: str = "", tags: Sequence[str] = (), every: bool = False) -> list[Hit]:
        """The publisher's own filing of the story as evidence: the URL's section segments
        (``url_sections``) and the story's tags and categories, one hit per topic each.

        Only read when the taxonomy gives them a weight (``section_weight``, ``tag_weight``),
        or with ``every`` (``benchmarks.topic_cv`` tries weights the taxonomy does not set).
        """
        hits: list[Hit] = []
        if url and (every or self.taxonomy.section_weight):
            hits += self._filed_under(url_sections(url), SECTION)
        if tags and (every or self.taxonomy.tag_weight):
            hits += self._filed_under(tags, TAG)
        return hits

    def _scored(
        self, title: str, text: str, url: str = "", tags: Sequence[str] = ()
    ) -> dict[int, tuple[int, int]]:
        """topic index -> (score, different phrases) for every topic with at least one hit."""
        taxonomy = self.taxonomy
        weights = {
            SECTION: taxonomy.section_weight,
            TAG: taxonomy.tag_weight,
            "": 1,  # body; the title below
        }
        score: dict[int, int] = {}
        phrases: dict[int, set[tuple[str, int]]] = {}
        for topic, phrase, in_title, _, source in self.evidence(title, text) + self.filing(
            url, tags
        ):
            weight = taxonomy.title_weight if in_title else weights[source]
            score[topic] = score.get(topic, 0) + weight
            # a section or tag named by the topic's id is one more different phrase
            phrases.setdefault(topic, set()).add((source, phrase) if phrase < 0 else ("", phrase))
        return {index: (score[index], len(seen)) for index, seen in sorted(phrases.items())}

    def scores(
        self, title: str, text: str, url: str = "", tags: Sequence[str] = ()
    ) -> dict[str, int]:
        """Score of every topic with at least one hit, by topic id."""
        topics = self.taxonomy.topics
        scored = self._scored(title, text, url, tags)
        return {topics[i].id: score for i, (score, _) in scored.items()}

    def topics(
        self, title: str, text: str, url: str = "", tags: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """The story's topics, best first; ``url`` and ``tags`` are the publisher's filing."""
        scored = self._scored(title, text, url, tags)
        topics = self.taxonomy.topics
        scores = {topics[i].id: score for i, (score, _) in scored.items()}
        order = {topic.id: i for i, topic in enumerate(topics)}
        best = max(scores.values(), default=0)
        floor = self.taxonomy.min_share * best
        kept = [
            topics[i].id
            for i, (score, phrases) in scored.items()
            if score >= topics[i].min_score and score >= floor and phrases >= topics[i].min_phrases
        ]
        kept.sort(key=lambda tid: (-scores[tid], order[tid]))
        kept = kept[: self.taxonomy.max_topics]
        sinks = {topic.id for topic in topics if topic.sink}
        if kept and kept[0] in sinks:
            return ()  # the story is about something the desk does not file
        return tuple(tid for tid in kept if tid not in sinks)
