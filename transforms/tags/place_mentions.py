"""Candidate place mentions in one text, and why each one does or does not count.

``MentionFinder`` holds the compiled tables (``transforms/tags/gazetteer.py``): one Aho-Corasick
automaton per worker process, plus one per story language on first use. The word tests are in
``transforms/tags/place_context.py``. What a mention means for the story (ambiguous names settled
against the rest of it, counts, order) is decided in ``transforms/tags/places.py``.

Matching rules, chosen for precision over recall because a wrong country routes a story to the
wrong desk while a missed one usually has a second mention elsewhere:

* **Case-sensitive, word-bounded.** Keys are matched as written ("Turkey", not "turkey") plus an
  upper-case variant that only counts in lines in capitals (headlines: "FRANCE WINS") or at the
  start of a paragraph (datelines: "MINSK, November 7. /TASS/."), not in running text (NASA's
  "SOFIA"). A match must not touch a letter or digit on either side, so "Belarus" never fires
  inside "Belarusian".
* **Leftmost-longest.** Overlapping matches resolve to the longest: "Inner Mongolia" is China,
  not Mongolia; "New Mexico" is the US, not Mexico; "Papua New Guinea" is not Guinea.
* **Exclusion phrases** (``exclusions`` in the data file) win over the place inside them:
  "Latin American", "Indian Ocean", "Washington Post", "French fries", "Guinea pig", things
  named after a place ("Indian corn", "Jerusalem stone"), in plural and in title-case headings.
* **Proper-name chains.** A city, state, region, ambiguous name or a country name that is also a
  given name ("India", "Israel") does not count when it is glued to another capitalised word:
  followed by one ("Austin Dillon", "Jordan Peterson", "Wichita Heights") or preceded by one that
  is not a function word or a compass word ("Michael Jordan", "Real Madrid", "Sierra Nevada").
  A name once seen after a first name ("John Durham") is that person in the whole story, so its
  bare mentions ("Durham said") are dropped too. Plain country names and demonyms are exempt
  ("US President", "Russian Foreign Minister"); so are lines in capitals (headlines). A possessive
  ends a name ("Trump's China policy"), and only a word that can be a first name makes a surname:
  "Rakuten Madrid" or "Team China" never turn every later "Madrid" or "China" into a person, nor
  does a word the story also uses in lower case ("One Washington-based expert").
* **Words of the story's own.** A single-word name the story also uses as a common word needs the
  story's support like an ambiguous name ("Centerpiece of China and Roses" beside "a china
  plate"); a nationality word naming a language is not the country ("written in Spanish",
  "Spanish-language"; ``language_cues`` in the data file). A name in capitals opening a paragraph
  as its dateline ("WASHINGTON — NASA said") counts like one after "in".
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
* **Other languages.** Stories in one of ``LOCALISED_LANGUAGES`` also match country names in
  that language (pycountry's ISO 3166 translations plus ``localised_aliases``), only for that
  language; in inflecting languages a stem of five letters or more matches ("России").
  Non-English stories keep only major cities (a million people or a capital), since small-city
  names collide with ordinary words of other languages ("Essen", "Bukan"), and German stories skip
  the "followed by a capitalised word" test because German capitalises every noun.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from transforms.tags import place_context as ctx
from transforms.tags.gazetteer import (
    CITY,
    COUNTRY,
    DEMONYM,
    EXCLUDE,
    REGION,
    SHORT_CITY_NAMES,
    GazetteerTables,
    PlaceEntry,
    PlacesConfig,
    ascii_fold,
    automaton_of,
    localised_names,
)

ENGLISH = frozenset({"en", "und", ""})
NOUN_CAPITALISING = frozenset({"de", "lb"})
# Dropped-mention reasons, as reported in a trace and by the places benchmark.
EXCLUDED = "exclusion_phrase"
NOT_MAJOR = "minor_city_in_other_language"
CAPS_CLASH = "short_caps_clash"
SHOUTED = "capitals_in_running_text"
ORGANISATION = "organisation_name"
PERSON = "part_of_a_name"
SURNAME = "surname_in_this_story"
QUALIFIED_ELSEWHERE = "qualified_as_other_country"
LANGUAGE = "language_name"

# Named rules, each of which can be switched off (``PlacesConfig.rules_off``) so the places
# benchmark can show what each one is worth on every labelled set.
ORGANISATION_NAMES = "organisation_names"
EVENT_NAMES = "event_names"
STATE_ABBREVIATIONS = "state_abbreviations"
QUALIFIED_SMALL_CITIES = "qualified_small_cities"
BASED_SMALL_CITIES = "based_small_cities"
COMMON_WORDS = "common_word_needs_support"
ORDINARY_WORDS = "ordinary_word_is_no_first_name"
LANGUAGE_NAMES = "language_names"
DATELINES = "dateline_is_locative"
RULES = (
    ORGANISATION_NAMES,
    EVENT_NAMES,
    STATE_ABBREVIATIONS,
    QUALIFIED_SMALL_CITIES,
    BASED_SMALL_CITIES,
    COMMON_WORDS,
    ORDINARY_WORDS,
    LANGUAGE_NAMES,
    DATELINES,
    SHORT_CITY_NAMES,
)


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

    def pinned(self) -> PlaceEntry:
        """The entry as a qualifier pinned it; a city named for another country's city is none."""
        entry, code = self.entry, self.forced
        if code is None:
            return entry
        city = entry.city if entry.codes and code == entry.codes[0] else None
        return replace(entry, codes=(code,), city=city, needs_support=False, alternates=())


class MentionFinder:
    """The compiled place matcher of one worker process (it holds a large automaton)."""

    def __init__(self, tables: GazetteerTables, config: PlacesConfig) -> None:
        self.config = config
        self._tables = tables
        self._shouted = tables.shouted
        self._entries = tables.entries
        self._automaton = automaton_of({k: (e, False) for k, e in tables.entries.items()})
        data = tables.data
        self._on = frozenset(RULES) - frozenset(config.rules_off)
        self._organisations = self._words(data, "organisation_words", ORGANISATION_NAMES)
        self._events = self._words(data, "event_words", EVENT_NAMES)
        cues = data.get("language_cues") or {}
        self._language_before = ctx.word_set(" ".join(cues.get("before") or ()))
        self._language_after = ctx.word_set(" ".join(cues.get("after") or ()))
        abbreviations = tables.state_abbreviations if STATE_ABBREVIATIONS in self._on else {}
        self._abbreviated = ctx.qualifier_pattern(abbreviations) if abbreviations else None
        # Per-language country names, compiled on a story in that language first needs them.
        self._localised: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _words(self, data: dict[str, Any], key: str, rule: str) -> frozenset[str]:
        return frozenset(data.get(key) or ()) if rule in self._on else frozenset()

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
        on = self._on
        abbreviated = self._abbreviation_mentions(text) if english else []
        based = {m.end("place") for m in ctx.BASED.finditer(text)} if english else set()
        ordinary = ctx.LowerWords(text) if english else ctx.NO_WORDS
        out: list[Mention] = []
        covered: set[int] = set()
        surnames: set[str] = set()
        for start, end, key, entry in self._matches(text, language):
            mention = Mention(start, end, text[start:end], entry)
            reason = self._drop_reason(text, start, end, key, entry, language, ordinary)
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
                elif english and QUALIFIED_SMALL_CITIES in on:
                    code = self._qualified_by(text, start, end, entry)
                    if code:
                        mention = replace(mention, forced=code)
            if (
                not reason
                and mention.forced is None
                and COMMON_WORDS in on
                and " " not in key
                and key[1:].islower()  # "China", not the acronym "US" beside the pronoun "us"
                and key.lower() in ordinary
            ):
                # The story uses the name as an ordinary word ("a large china plate"): its
                # capitalised form ("Centerpiece of China and Roses") needs the story's support.
                mention = replace(mention, entry=replace(entry, needs_support=True, alternates=()))
            locative = (
                ctx.previous_word(text, start) in ctx.LOCATIVES
                or end in based
                or (DATELINES in on and ctx.opens_dateline(text, start, end))
            )
            out.append(replace(mention, after_locative=locative, dropped=reason))
        us = PlaceEntry(REGION, ("US",))
        for start, end, phrase in abbreviated:
            if start not in covered:
                out.append(Mention(start, end, phrase, us, forced="US"))
        for match in ctx.BASED.finditer(text) if english and BASED_SMALL_CITIES in on else ():
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
        language: str,
        ordinary: ctx.LowerWords,
    ) -> str:
        english = language in ENGLISH
        if entry.kind == EXCLUDE or not entry.codes:
            return EXCLUDED
        if not english and entry.kind == CITY and not entry.major and " " not in key:
            return NOT_MAJOR
        if ctx.short_caps_clash(text, start, end, key):
            return CAPS_CLASH
        caps_line = ctx.in_caps_line(text, start, end)
        if key in self._shouted and not (ctx.starts_line(text, start) or caps_line):
            return SHOUTED  # "SOFIA" the telescope in running text, not Sofia the city
        if (
            entry.kind == DEMONYM
            and english
            and LANGUAGE_NAMES in self._on
            and ctx.language_use(text, start, end, self._language_before, self._language_after)
        ):
            return LANGUAGE  # "texts written in Spanish": the language, not Spain
        kind = ""
        if english and not caps_line:
            kind = ctx.name_kind(text, start, end, self._organisations, self._events)
            if kind == "organisation":
                return ORGANISATION
        if entry.chain_check and kind != "event" and not caps_line:
            if ORDINARY_WORDS not in self._on:
                ordinary = ctx.NO_WORDS
            glue = ctx.glued(text, start, end, ordinary)
            if glue == "before_name" and language in NOUN_CAPITALISING:
                glue = ""  # "in Berlin Vertreter": German capitalises every noun
            first_name = ctx.first_name_like(text, start, ordinary)
            if glue == "after_name" and entry.kind != COUNTRY and first_name:
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
