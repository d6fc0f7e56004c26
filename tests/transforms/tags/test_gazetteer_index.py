"""The shipped gazetteer index: current, equal to a fresh build, and never used when it is not."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from transforms.tags import gazetteer_index as index
from transforms.tags.gazetteer import GazetteerTables, PlacesConfig, SmallCity, build_tables

REGENERATE = (
    "stale gazetteer index: run `python -m transforms.tags.gazetteer_index` (make gazetteer-index)"
    " and commit transforms/data/gazetteer_index.json.gz"
)


@pytest.fixture(scope="module")
def built() -> GazetteerTables:
    return build_tables(PlacesConfig())


def shipped_document() -> dict:
    document = index.read_index()
    assert document is not None, REGENERATE
    return document


def write(path: Path, document: dict) -> Path:
    path.write_bytes(gzip.compress(json.dumps(document).encode("utf-8")))
    return path


def test_shipped_index_is_current_and_equals_a_fresh_build(built: GazetteerTables) -> None:
    assert shipped_document()["fingerprint"] == index.fingerprint(PlacesConfig()), REGENERATE
    loaded = index.load_tables(PlacesConfig())
    assert isinstance(loaded.small_cities, index.SmallCities)  # read, not built
    assert loaded == built, REGENERATE
    # The index was built in another process (another hash seed): the order of the names, which
    # the matcher's case-folded lookup depends on, must not depend on it.
    assert list(loaded.entries) == list(built.entries)


def test_tables_round_trip_through_the_document(built: GazetteerTables) -> None:
    document = json.loads(json.dumps(index.to_document(built, PlacesConfig())))
    assert index.from_document(document) == built
    again = json.dumps(index.to_document(built, PlacesConfig()), ensure_ascii=False)
    assert json.dumps(document, ensure_ascii=False) == again  # deterministic


def test_settings_other_than_the_index_build_from_the_sources(built: GazetteerTables) -> None:
    config = PlacesConfig(min_city_population=1_000_000)
    assert index.fingerprint(config) != index.fingerprint(PlacesConfig())
    loaded = index.load_tables(config)  # the shipped index is for the defaults
    assert not isinstance(loaded.small_cities, index.SmallCities)
    assert len(loaded.entries) < len(built.entries)  # fewer cities name a country on their own
    assert len(loaded.small_cities) > len(built.small_cities)


def test_an_index_of_other_sources_is_not_used(tmp_path: Path, built: GazetteerTables) -> None:
    document = shipped_document()
    document["fingerprint"] = "0" * 64  # what an edited places.yaml or builder looks like
    document["valid"] = []  # and what using it anyway would do
    loaded = index.load_tables(PlacesConfig(), write(tmp_path / "index.json.gz", document))
    assert not isinstance(loaded.small_cities, index.SmallCities)
    assert loaded == built


def test_an_index_with_the_right_fingerprint_but_a_damaged_body_is_not_used(
    tmp_path: Path, built: GazetteerTables
) -> None:
    document = shipped_document()
    del document["entry_table"]
    loaded = index.load_tables(PlacesConfig(), write(tmp_path / "index.json.gz", document))
    assert loaded == built


@pytest.mark.parametrize(
    "content",
    [None, b"", b"not gzip at all", gzip.compress(b"{truncated"), gzip.compress(b"[1, 2]")],
    ids=["missing", "empty", "not_gzip", "bad_json", "not_an_object"],
)
def test_a_missing_or_damaged_index_reads_as_none(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "index.json.gz"
    if content is not None:
        path.write_bytes(content)
    assert index.read_index(path) is None  # load_tables then builds, as above


def test_small_cities_decode_on_demand() -> None:
    cities = index.SmallCities({"Redmond": "US|WA|71929;US|OR|32000", "Sale": "AU|07|15000"})
    assert len(cities) == 2 and sorted(cities) == ["Redmond", "Sale"]
    assert cities["Redmond"] == (SmallCity("US", "WA", 71929), SmallCity("US", "OR", 32000))
    assert cities.get("Nowhere") is None
    assert cities == {
        "Redmond": (SmallCity("US", "WA", 71929), SmallCity("US", "OR", 32000)),
        "Sale": (SmallCity("AU", "07", 15000),),
    }


def test_a_separator_inside_a_field_is_refused() -> None:
    with pytest.raises(ValueError, match="separator"):
        index.to_document(
            GazetteerTables(
                entries={},
                qualifiers={},
                shouted=frozenset(),
                data={},
                valid=frozenset(),
                small_cities={"Odd": (SmallCity("US", "W|A", 20_000),)},
            ),
            PlacesConfig(),
        )
