"""Dedup rules for agency items: canonical before web copies, versions are one story."""

from __future__ import annotations

from transforms.core.records import Story, content_hash_for, story_id_for
from transforms.dedup.canonical import story_key
from transforms.dedup.in_memory import deduplicate_in_memory
from transforms.dedup.minhash import Fingerprint, MinHashConfig, MinHasher

TEXT = (
    "Dock workers at the port of Rotterdam ended a two-day strike on Thursday after unions and "
    "employers agreed on a new wage deal, both sides said. The agreement raises wages by five "
    "percent this year and another three percent next year, and adds two days of paid leave "
    "for night shifts. Container traffic, which had backed up along the coast, is expected to "
    "be back to normal by the weekend, the port authority said in a statement."
)


def story(url: str, published: str, text: str = TEXT, wire: bool = False) -> Story:
    return Story(
        story_id=story_id_for(url),
        entry_id=url,
        url=url,
        canonical_url=url,
        site="example",
        feed_url="",
        title="Strike ends",
        text=text,
        fetched_at=published,
        published_at=published,
        content_hash=content_hash_for(text),
        wire_guid=url if wire else None,
        wire_version=1 if wire else None,
        source_format="newsml-g2" if wire else "html",
    )


def test_agency_item_sorts_before_an_earlier_web_copy() -> None:
    web = story("https://news.example/strike", "2024-05-02T08:00:00Z")
    agency = story("urn:newsml:example.net:strike", "2024-05-02T09:00:00Z", wire=True)
    assert story_key(agency) < story_key(web)
    assert sorted([web, agency], key=story_key)[0] is agency


def test_agency_item_is_canonical_of_its_web_copies() -> None:
    web = story("https://news.example/strike", "2024-05-02T08:00:00Z")
    spun = story("https://farm.example/strike", "2024-05-02T07:00:00Z", TEXT + " Share this!")
    agency = story("urn:newsml:example.net:strike", "2024-05-02T09:00:00Z", wire=True)
    kept, copies = deduplicate_in_memory([web, spun, agency], MinHashConfig())
    assert [s.story_id for s in kept] == [agency.story_id]
    assert {c.duplicate_of for c in copies} == {agency.story_id}


def test_fingerprint_carries_agency_and_version_through_the_store_format() -> None:
    item = story("urn:newsml:example.net:strike", "2024-05-02T09:00:00Z", wire=True)
    item = item.replace(wire_version=4)
    fp = MinHasher(MinHashConfig()).fingerprint(item)
    assert fp.agency and fp.wire_version == 4
    back = Fingerprint.from_json(fp.to_json())
    assert back.agency and back.wire_version == 4 and back.canonical_key() == fp.canonical_key()
    older = {k: v for k, v in fp.to_json().items() if k not in ("agency", "wire_version")}
    legacy = Fingerprint.from_json(older)  # a store written before agency items existed
    assert not legacy.agency and legacy.wire_version == 0


def _decided(item: Story, answer: list, verdicts: list | None = None) -> tuple[str, Story]:
    from apache_beam.pvalue import TaggedOutput

    from transforms.dedup.streaming import PARENTS, _decide

    held = [{"story": item.to_json(), "needed": 0, "at": 2_000_000}]
    decided = _decide(held, [answer], verdicts or [])
    (out,) = [o for o in decided if getattr(o, "tag", None) != PARENTS]
    if isinstance(out, TaggedOutput):  # a duplicate goes to the member that names its cluster
        _member, (_, asked) = out.value.value
        return "duplicate", asked["story"]
    return "canonical", out.value


def test_streaming_new_version_of_a_decided_agency_item_is_written_again() -> None:
    v1 = story("urn:newsml:example.net:strike", "2024-05-02T09:00:00Z", wire=True)
    v2 = story("urn:newsml:example.net:strike", "2024-05-02T09:00:00Z", TEXT + " Updated.", True)
    v2 = v2.replace(wire_version=2)
    # the store answers "seen before, with another text"; its own old version is no candidate
    own = ["verdict", v1.story_id, 1_000_000, "0", True, 0.95, False, 3, 3]
    kind, decided = _decided(v2, ["stored", v1.story_id, 1_000_000, True], [own])
    assert kind == "canonical" and decided.story_id == v1.story_id
    assert decided.wire_version == 2 and decided.cluster_id == v1.story_id
    # the same text delivered again is the same article: a same_url copy, as for web pages
    kind, decided = _decided(v1, ["stored", v1.story_id, 1_000_000, False])
    assert kind == "duplicate" and decided.duplicate_reason == "same_url"
    # a web page whose text changed under the same URL stays a same_url copy
    page = story("https://news.example/strike", "2024-05-02T09:00:00Z", TEXT + " Updated.")
    kind, decided = _decided(page, ["stored", page.story_id, 1_000_000, True])
    assert kind == "duplicate" and decided.duplicate_reason == "same_url"
