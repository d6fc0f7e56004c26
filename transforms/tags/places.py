"""A story's places: its candidate mentions settled against each other, counted and ranked.

Mentions are found in ``transforms/tags/place_mentions.py`` (matching, names of people,
organisations and events, qualifiers); the tables come from ``transforms/tags/gazetteer.py``. This
module decides what the mentions mean for the whole story:

* **Ambiguous names need corroboration** (``ambiguous`` in the data file): "Georgia", "Jordan",
  "Chad", "Turkey", "Washington", and cities that are common words or first names ("Nice",
  "Reading", "Austin", "Victoria"). Such a mention counts only for a candidate country that the
  same story names unambiguously elsewhere (a name, demonym, city or region, or the dateline), the
  best-supported one if several; a single-country name also counts after "in", "into", "across"
  or "visited" ("in Turkey") or before "-based"; otherwise it is dropped. So "the battleground
  states of Michigan, Pennsylvania and Georgia" adds to the US and never to Georgia the country.
  A city name shared by big cities in several countries (Valencia: Venezuela and Spain) is
  treated the same way unless the largest is at least ``city_ambiguity_ratio`` times the next;
  when it is, a namesake of at least ``alternate_city_population`` wins only if the story names
  places inside the namesake's country and not the big city's ("Melbourne" in a Florida story
  is the US).
* **Datelines.** A dateline place (from the extractor) names the story's country even when the
  text never mentions it again, and counts as support for ambiguous names.

Output order (``places``): the dateline country first, then by mentions (title and body), then by
first position, then by code, so the writer's "primary value" partitioning is stable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from transforms.tags.gazetteer import (
    CITY,
    COUNTRY,
    EXCLUDE,
    LOCALISED_LANGUAGES,
    REGION,
    GazetteerTables,
    PlaceEntry,
    PlacesConfig,
    ascii_fold,
    load_places_data,
)
from transforms.tags.place_mentions import Mention, MentionFinder

logger = logging.getLogger(__name__)

__all__ = [
    "LOCALISED_LANGUAGES",
    "Gazetteer",
    "Mention",
    "PlaceResult",
    "PlacesConfig",
    "load_places_data",
]

UNSUPPORTED = "ambiguous_without_support"


@dataclass(frozen=True)
class PlaceResult:
    places: tuple[str, ...]
    place_mentions: tuple[tuple[str, int], ...]
    cities: tuple[str, ...]
    dateline_country: str | None
    dateline_city: str | None


class Gazetteer:
    """A compiled place tagger; build once per worker (it holds a large automaton)."""

    def __init__(self, tables: GazetteerTables, config: PlacesConfig) -> None:
        self.config = config
        self.finder = MentionFinder(tables, config)
        self._qualifiers = tables.qualifiers
        self._lookup = {key.casefold(): entry for key, entry in tables.entries.items()}

    @classmethod
    def build(cls, config: PlacesConfig | None = None) -> Gazetteer:
        """The matcher for ``config``, its tables read from the shipped index when it matches
        (``transforms/tags/gazetteer_index.py``), else built from the sources."""
        from transforms.tags.gazetteer_index import load_tables

        config = config or PlacesConfig()
        return cls(load_tables(config), config)

    def candidates(self, text: str, language: str = "en") -> list[Mention]:
        """Every candidate place in ``text``, ambiguous ones unresolved (see ``place_mentions``)."""
        return self.finder.candidates(text, language)

    def mentions(self, text: str, language: str = "en") -> list[tuple[int, PlaceEntry, bool]]:
        """Accepted (position, entry, after_locative) mentions, ambiguous ones unresolved."""
        return [
            (m.start, m.pinned(), m.after_locative)
            for m in self.finder.candidates(text, language)
            if not m.dropped
        ]

    def resolve(self, name: str | None) -> tuple[str | None, str | None]:
        """(country, city) for a dateline place such as "MINSK" or "Washington"; lenient."""
        if not name:
            return None, None
        cleaned = " ".join(name.replace("\u00a0", " ").split()).strip(" ,-–—")
        whole = self._entry_for(cleaned)
        if whole is not None:
            return whole.codes[0], whole.city
        parts = [part.strip() for part in cleaned.split(",") if part.strip()]
        place = self._entry_for(parts[0]) if parts else None
        context = self._entry_for(parts[-1]) if len(parts) > 1 else None
        if context is None and len(parts) > 1:
            qualifier = self._qualifiers.get(parts[-1].replace(".", "").casefold())
            context = PlaceEntry(REGION, (qualifier,)) if qualifier else None
        if context is not None and context.kind in (COUNTRY, REGION):
            # "London, Ontario", "Melbourne, Fla.": the qualifier decides the country.
            code = context.codes[0]
            if place is not None:
                shared = [c for c in context.codes if c in (*place.codes, *place.alternates)]
                code = shared[0] if shared else code
            city = None
            if place is not None and code in (*place.codes, *place.alternates):
                city = place.city
            return code, city
        if place is not None:
            return place.codes[0], place.city
        return None, None

    def _entry_for(self, name: str) -> PlaceEntry | None:
        entry = None
        for form in (name, name.rstrip(".")):
            entry = self._lookup.get(form.casefold()) or self._lookup.get(
                ascii_fold(form).casefold()
            )
            if entry is not None:
                break
        if entry is None or not entry.codes or entry.kind == EXCLUDE:
            return None
        return entry

    def tag(
        self,
        title: str,
        text: str,
        dateline_place: str | None = None,
        language: str = "en",
        trace: list[Mention] | None = None,
    ) -> PlaceResult:
        """Places of one story; ``language`` other than English keeps only major cities.

        With ``trace``, every candidate mention is appended to it (title first, positions in
        title + newline + text), with the country it counted for in ``forced`` or why it was
        dropped: the places benchmark reports errors with the phrase behind them.
        """
        dateline_country, dateline_city = self.resolve(dateline_place)
        language = (language or "").split("-")[0].lower()
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        city_counts: dict[str, int] = {}
        city_first: dict[str, int] = {}
        pending: list[tuple[int, PlaceEntry, bool]] = []
        local: dict[str, int] = {}  # mentions of a country's own states, regions and cities
        offset = 0
        for part in (title or "", text or ""):
            for mention in self.finder.candidates(part, language):
                if trace is not None:
                    trace.append(replace(mention, start=offset + mention.start))
                if mention.dropped:
                    continue
                entry, position = mention.pinned(), offset + mention.start
                if entry.needs_support or entry.alternates:
                    pending.append((position, entry, mention.after_locative))
                    continue
                self._count(entry, entry.codes[0], position, counts, first)
                self._count_city(entry, entry.codes[0], position, city_counts, city_first)
                if entry.kind in (REGION, CITY):
                    local[entry.codes[0]] = local.get(entry.codes[0], 0) + 1
            offset += len(part) + 1
        evidence = dict(counts)
        if dateline_country:
            evidence[dateline_country] = evidence.get(dateline_country, 0) + 1
            local[dateline_country] = local.get(dateline_country, 0) + 1
        settled: dict[int, str | None] = {}
        for position, entry, after_locative in pending:
            code = self._settle(entry, evidence, local, after_locative)
            settled[position] = code
            if code is None:
                continue
            self._count(entry, code, position, counts, first)
            self._count_city(entry, code, position, city_counts, city_first)
        if trace is not None:
            trace[:] = [
                replace(m, forced=settled[m.start])
                if settled.get(m.start)
                else replace(m, dropped=UNSUPPORTED)
                if m.start in settled
                else m
                for m in trace
            ]

        def rank(code: str) -> tuple[int, int, int, str]:
            return (
                0 if code == dateline_country else 1,
                -counts.get(code, 0),
                first.get(code, -1),
                code,
            )

        codes = sorted(set(counts) | ({dateline_country} if dateline_country else set()), key=rank)
        cities = sorted(city_counts, key=lambda c: (-city_counts[c], city_first[c], c))
        if dateline_city:
            cities = [dateline_city] + [c for c in cities if c != dateline_city]
        return PlaceResult(
            places=tuple(codes),
            place_mentions=tuple((code, counts.get(code, 0)) for code in codes),
            cities=tuple(cities),
            dateline_country=dateline_country,
            dateline_city=dateline_city,
        )

    @staticmethod
    def _settle(
        entry: PlaceEntry, evidence: dict[str, int], local: dict[str, int], after_locative: bool
    ) -> str | None:
        """The country an ambiguous or soft mention counts for, or None to drop it."""
        if not entry.needs_support:
            # A big city with namesakes elsewhere: its own country unless the story speaks of
            # places inside a namesake's country (Melbourne in a Florida story). A country name
            # alone is not enough: "Madrid" in a story that also names Colombia is still Spain.
            # A name two countries share ("Korea") is the first unless the story names another
            # and not the first (a North Korea story's "Korean state media").
            if evidence.get(entry.codes[0], 0) > 0:
                return entry.codes[0]
            where = local if entry.kind == CITY else evidence
            near = [code for code in entry.alternates if where.get(code, 0) > 0]
            return max(near, key=lambda c: (where[c], c)) if near else entry.codes[0]
        supported = [code for code in entry.codes if evidence.get(code, 0) > 0]
        if supported:
            return max(supported, key=lambda c: (evidence[c], -entry.codes.index(c)))
        if after_locative and len(entry.codes) == 1:
            return entry.codes[0]
        return None

    @staticmethod
    def _count(
        entry: PlaceEntry, code: str, position: int, counts: dict[str, int], first: dict[str, int]
    ) -> None:
        counts[code] = counts.get(code, 0) + 1
        first.setdefault(code, position)

    @staticmethod
    def _count_city(
        entry: PlaceEntry, code: str, position: int, counts: dict[str, int], first: dict[str, int]
    ) -> None:
        if entry.kind == CITY and entry.city and code in (entry.codes[0], *entry.alternates):
            counts[entry.city] = counts.get(entry.city, 0) + 1
            first.setdefault(entry.city, position)
