"""Countries and major cities mentioned in a story, with counts, from maintained gazetteers.

The tables (``transforms/tags/gazetteer.py``) are compiled once into one Aho-Corasick automaton
per worker process; the context tests are in ``transforms/tags/place_context.py``.

Matching rules, chosen for precision over recall because a wrong country routes a story to the
wrong desk while a missed one usually has a second mention elsewhere:

* **Case-sensitive, word-bounded.** Keys are matched as written ("Turkey", not "turkey") plus an
  upper-case variant that only counts in lines in capitals (headlines: "FRANCE WINS") or at the
  start of a paragraph (datelines: "MINSK, November 7. /TASS/."), not in running text (NASA's
  "SOFIA"). A match must not touch a letter
  or digit on either side, so "Belarus" never fires inside "Belarusian".
* **Leftmost-longest.** Overlapping matches resolve to the longest: "Inner Mongolia" is China,
  not Mongolia; "New Mexico" is the US, not Mexico; "Papua New Guinea" is not Guinea.
* **Exclusion phrases** (``exclusions`` in the data file) win over the place inside them:
  "Latin American", "Indian Ocean", "Washington Post", "French fries", "Guinea pig".
* **Proper-name chains.** A city, state, region, ambiguous name or a country name that is also a
  given name ("India", "Israel") does not count when it is glued to another capitalised word:
  followed by one ("Austin Dillon", "Jordan Peterson", "Wichita Heights") or preceded by one that
  is not a function word or a compass word ("Michael Jordan", "Real Madrid", "Sierra Nevada").
  A name once seen after a first name ("John Durham") is that person in the whole story, so its
  bare mentions ("Durham said") are dropped too. Plain country names and demonyms are exempt
  ("US President", "Russian Foreign Minister"); so are lines in capitals (headlines). A possessive
  ends a name ("Trump's China policy"), and only a word that can be a first name makes a surname:
  "Rakuten Madrid" or "Team China" never turn every later "Madrid" or "China" into a person.
* **Organisation and event names** (``organisation_words`` and ``event_words`` in the data file,
  the labelling guidelines' rule): a place word followed by capitalised words that end in an
  organisation word ("Hong Kong Polytechnic University", "Japan Airlines") or preceded by one and
  "of" ("University of California", "Bank of America") is not the place; one inside an event name
  is ("the 2019 Tokyo Motor Show", "the Davis Cup Madrid Finals"), even glued to other names.
* **Qualified places.** A name followed by a US state abbreviation ("AUSTIN, Tex.",
  "Portland, Ore.", "Buffalo, N.Y.", AP style and the older forms; two-letter postal codes only
  after a city geonames has in that state) is in the US. A city below the population cut-off counts
  when the text pins it down: followed by its own state or country ("in Redmond, Washington",
  checked against geonames' admin code), or "X-based" ("Cupertino-based") when geonames knows
  only one country with a city of that name.
* **Short capitals.** Two- and three-letter aliases ("US", "UK") do not count between words in
  capitals ("CONTACT US").
* **Ambiguous names need corroboration** (``ambiguous`` in the data file): "Georgia", "Jordan",
  "Chad", "Turkey", "Washington", and cities that are common words or first names ("Nice",
  "Reading", "Austin", "Victoria"). Such a mention counts only for a candidate country that the
  same story names unambiguously elsewhere (a name, demonym, city or region, or the dateline), the
  best-supported one if several; a single-country name also counts after "in", "into", "across"
  or "visited" ("in Turkey") or before "-based"; otherwise it is dropped. So "the battleground
  states of Michigan, Pennsylvania and Georgia" adds to the US and never to Georgia the country.
  A city name shared by big cities in several countries (Valencia: Venezuela and Spain) is
  treated the same way
  unless the largest is at least ``city_ambiguity_ratio`` times the next; when it is, a namesake of
  at least ``alternate_city_population`` wins only if the story names the namesake's country and
  not the big city's ("Melbourne" in a Florida story is the US).
* **Other languages.** Stories in one of ``LOCALISED_LANGUAGES`` also match country names in
  that language (pycountry's ISO 3166 translations plus ``localised_aliases``), only for that
  language; in inflecting languages a stem of five letters or more matches ("России").
  Non-English stories keep only major cities (a million people or a capital), since small-city
  names collide with ordinary words of other languages ("Essen", "Bukan"), and German stories skip
  the "followed by a capitalised word" test because German capitalises every noun.

Output order (``places``): the dateline country first, then by mentions (title and body), then by
first position, then by code, so the writer's "primary value" partitioning is stable.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Any

from transforms.tags import place_context as ctx
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
    automaton_of,
    build_tables,
    load_places_data,
    localised_names,
)

logger = logging.getLogger(__name__)

__all__ = [
    "LOCALISED_LANGUAGES",
    "Gazetteer",
    "Mention",
    "PlaceResult",
    "PlacesConfig",
    "load_places_data",
]

ENGLISH = frozenset({"en", "und", ""})
NOUN_CAPITALISING = frozenset({"de", "lb"})
# Dropped-mention reasons, as reported by ``Gazetteer.explain`` and the places benchmark.
EXCLUDED = "exclusion_phrase"
NOT_MAJOR = "minor_city_in_other_language"
CAPS_CLASH = "short_caps_clash"
SHOUTED = "capitals_in_running_text"
ORGANISATION = "organisation_name"
PERSON = "part_of_a_name"
SURNAME = "surname_in_this_story"
UNSUPPORTED = "ambiguous_without_support"
QUALIFIED_ELSEWHERE = "qualified_as_other_country"


@dataclass(frozen=True)
class PlaceResult:
    places: tuple[str, ...]
    place_mentions: tuple[tuple[str, int], ...]
    cities: tuple[str, ...]
    dateline_country: str | None
    dateline_city: str | None


@dataclass(frozen=True)
class Mention:
    """One candidate place in a text and what became of it (``dropped`` empty when it counts)."""

    start: int
    end: int
    surface: str
    entry: PlaceEntry
    after_locative: bool = False
    forced: str | None = None  # the country a qualifier ("Portland, Ore.") pins the name to
    dropped: str = ""


class Gazetteer:
    """A compiled place matcher; build once per worker (it holds a large automaton)."""

    def __init__(self, tables: GazetteerTables, config: PlacesConfig) -> None:
        self.config = config
        self._tables = tables
        self._qualifiers = tables.qualifiers
        self._shouted = tables.shouted
        self._entries = tables.entries
        self._lookup = {key.casefold(): entry for key, entry in tables.entries.items()}
        self._automaton = automaton_of({k: (e, False) for k, e in tables.entries.items()})
        data = tables.data
        self._organisations = frozenset(data.get("organisation_words") or ())
        self._events = frozenset(data.get("event_words") or ())
        abbreviations = tables.state_abbreviations
        self._abbreviated = ctx.qualifier_pattern(abbreviations) if abbreviations else None
        # Per-language country names, compiled on a story in that language first needs them.
        self._localised: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, config: PlacesConfig | None = None) -> Gazetteer:
        config = config or PlacesConfig()
        return cls(build_tables(config), config)

    def _local_automaton(self, language: str) -> Any:
        """The automaton of one language's country names (None when not configured)."""
        if language not in self.config.languages:
            return None
        automaton = self._localised.get(language)
        if automaton is None:
            with self._lock:
                automaton = self._localised.get(language)
                if automaton is None:
                    tables = self._tables
                    table = localised_names(language, self._entries, tables.data, tables.valid)
                    automaton = automaton_of(table) if table else False
                    self._localised[language] = automaton
        return automaton or None

    # ---------------------------------------------------------------- matching

    def _matches(self, text: str, language: str = "en") -> list[tuple[int, int, str, PlaceEntry]]:
        """Word-bounded, leftmost-longest, non-overlapping (start, end, key, entry) matches."""
        found: list[tuple[int, int, str, PlaceEntry]] = []
        automata = [self._automaton]
        local = self._local_automaton(language)
        if local is not None:
            automata.append(local)
        for automaton in automata:
            for end_index, (key, entry, stem) in automaton.iter(text):
                start = end_index - len(key) + 1
                end = end_index + 1
                if start > 0 and ctx.is_word_char(text[start - 1]):
                    continue
                if stem:
                    while end < len(text) and ctx.is_word_char(text[end]):
                        end += 1
                elif end < len(text) and ctx.is_word_char(text[end]):
                    continue
                found.append((start, end, key, entry))
        found.sort(key=lambda m: (m[0], -(m[1] - m[0]), m[3].kind, m[2]))
        chosen: list[tuple[int, int, str, PlaceEntry]] = []
        last_end = -1
        for match in found:
            if match[0] >= last_end:
                chosen.append(match)
                last_end = match[1]
        return chosen

    def _small_city_country(self, name: str, code: str | None = None, state: str = "") -> str:
        """The country of a city below the cut-off, when it is known and unambiguous.

        With ``code`` (and ``state`` for the US) the city must be there: "Redmond, Washington".
        Without, geonames must know only one country with a city of that name (or the largest
        outweighs the others by ``city_ambiguity_ratio``).
        """
        cities = self._tables.small_cities.get(name) or ()
        if code is not None:
            for city in cities:
                if city.country == code and (not state or city.admin1 == state):
                    return code
            return ""
        if not cities:
            return ""
        best = cities[0]
        rivals = [c for c in cities[1:] if c.country != best.country]
        if rivals and best.population < self.config.city_ambiguity_ratio * rivals[0].population:
            return ""
        return best.country

    def _qualified_by(self, text: str, start: int, end: int, entry: PlaceEntry) -> str:
        """The code a state or country qualifying the name before it pins: "Redmond, Washington"."""
        if start < 3 or text[start - 2 : start] != ", " or entry.kind == CITY:
            return ""
        words = ctx.previous_words(text, start - 2, 3)
        key = text[start:end]
        state = self._tables.state_codes.get(key, "")
        for size in range(len(words), 0, -1):
            name = " ".join(words[-size:])
            for code in entry.codes:
                if self._small_city_country(name, code, state if code == "US" else ""):
                    return code
                big = self._entries.get(name)
                if big is not None and big.kind == CITY and code in (*big.codes, *big.alternates):
                    return code
        return ""

    def _abbreviation_mentions(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, text) of "Place, Abbr." qualifiers naming a US state ("Buffalo, N.Y.")."""
        if self._abbreviated is None:
            return []
        found = []
        for match in self._abbreviated.finditer(text):
            qualifier = match.group("qualifier")
            state = self._tables.state_abbreviations[qualifier]
            if "." not in qualifier:
                # Two-letter postal codes are words too ("OK", "IN"): only after a known city.
                place = match.group("place").split()[-1]
                if not self._small_city_country(place, "US", state):
                    big = self._entries.get(place)
                    if big is None or big.kind != CITY or "US" not in (*big.codes, *big.alternates):
                        continue
            start = match.start("place")
            for word in match.group("place").split()[:-1]:
                if word not in ctx.FUNCTION_WORDS and word not in ctx.SENTENCE_WORDS:
                    break
                start = text.index(" ", start) + 1  # "The Addison, N.Y. man" starts at Addison
            found.append((start, match.end(), text[start : match.end()]))
        return found

    def candidates(self, text: str, language: str = "en") -> list[Mention]:
        """Every candidate place in ``text``, with ``dropped`` saying why one does not count.

        Ambiguous names are returned unresolved (``tag`` settles them against the story).
        """
        english = language in ENGLISH
        abbreviated = self._abbreviation_mentions(text) if english else []
        based = {m.end("place") for m in ctx.BASED.finditer(text)} if english else set()
        out: list[Mention] = []
        covered: set[int] = set()
        surnames: set[str] = set()
        for start, end, key, entry in self._matches(text, language):
            mention = Mention(start, end, text[start:end], entry)
            reason = self._drop_reason(text, start, end, key, entry, english, language)
            if reason == SURNAME:
                surnames.add(key)
                reason = PERSON
            if not reason:
                pinned = next((q for q in abbreviated if q[0] <= start and end <= q[1]), None)
                if pinned is not None:
                    if "US" in (*entry.codes, *entry.alternates) or entry.kind != CITY:
                        covered.add(pinned[0])
                        mention = replace(mention, forced="US")
                    else:
                        reason = QUALIFIED_ELSEWHERE  # "Victoria, Tex." is not Victoria, BC
                elif english:
                    code = self._qualified_by(text, start, end, entry)
                    if code:
                        mention = replace(mention, forced=code)
            locative = ctx.previous_word(text, start) in ctx.LOCATIVES or end in based
            out.append(replace(mention, after_locative=locative, dropped=reason))
        us = PlaceEntry(REGION, ("US",))
        for start, end, phrase in abbreviated:
            if start not in covered:
                out.append(Mention(start, end, phrase, us, forced="US"))
        for match in ctx.BASED.finditer(text) if english else ():
            words = match.group("place").split()
            for size in range(1, len(words) + 1):
                name = " ".join(words[-size:])
                if name in self._entries or ascii_fold(name) in self._entries:
                    break  # a listed place: the automaton found it, "-based" is its locative
                code = self._small_city_country(name)
                if code:
                    start = match.end("place") - len(name)
                    entry = PlaceEntry(CITY, (code,))
                    out.append(Mention(start, match.end(), text[start : match.end()], entry))
                    break
        out = [
            replace(m, dropped=SURNAME) if not m.dropped and m.surface in surnames else m
            for m in out
        ]
        out.sort(key=lambda m: (m.start, m.end))
        return out

    def _drop_reason(
        self,
        text: str,
        start: int,
        end: int,
        key: str,
        entry: PlaceEntry,
        english: bool,
        language: str,
    ) -> str:
        if entry.kind == EXCLUDE or not entry.codes:
            return EXCLUDED
        if not english and entry.kind == CITY and not entry.major and " " not in key:
            return NOT_MAJOR
        if ctx.short_caps_clash(text, start, end, key):
            return CAPS_CLASH
        caps_line = ctx.in_caps_line(text, start, end)
        if key in self._shouted and not (ctx.starts_line(text, start) or caps_line):
            return SHOUTED  # "SOFIA" the telescope in running text, not Sofia the city
        kind = ""
        if english and not caps_line:
            kind = ctx.name_kind(text, start, end, self._organisations, self._events)
            if kind == "organisation":
                return ORGANISATION
        if entry.chain_check and kind != "event" and not caps_line:
            glue = ctx.glued(text, start, end)
            if glue == "before_name" and language in NOUN_CAPITALISING:
                glue = ""  # "in Berlin Vertreter": German capitalises every noun
            if glue == "after_name" and entry.kind != COUNTRY and ctx.first_name_like(text, start):
                return SURNAME
            if (
                glue == "before_name"
                and not entry.needs_support
                and ctx.previous_word(text, start) in ctx.LOCATIVES
            ):
                glue = ""  # "in Oklahoma City Thunder games": a place after "in" stays one
            if glue:
                return PERSON
        return ""

    def mentions(self, text: str, language: str = "en") -> list[tuple[int, PlaceEntry, bool]]:
        """Accepted (position, entry, after_locative) mentions, ambiguous ones unresolved."""
        return [
            (m.start, self._pinned(m), m.after_locative)
            for m in self.candidates(text, language)
            if not m.dropped
        ]

    @staticmethod
    def _pinned(mention: Mention) -> PlaceEntry:
        """The entry as a qualifier pinned it; a city named for another country's city is none."""
        entry, code = mention.entry, mention.forced
        if code is None:
            return entry
        city = entry.city if entry.codes and code == entry.codes[0] else None
        return replace(entry, codes=(code,), city=city, needs_support=False, alternates=())

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
            for mention in self.candidates(part, language):
                if trace is not None:
                    trace.append(replace(mention, start=offset + mention.start))
                if mention.dropped:
                    continue
                entry, position = self._pinned(mention), offset + mention.start
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
            if evidence.get(entry.codes[0], 0) > 0:
                return entry.codes[0]
            near = [code for code in entry.alternates if local.get(code, 0) > 0]
            return max(near, key=lambda c: (local[c], c)) if near else entry.codes[0]
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
