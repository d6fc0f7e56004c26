"""The wire parsers on the IPTC standard's own examples and on items written from the specs."""

from __future__ import annotations

import json

import pytest

from tests.transforms.sources.wire.wirefiles import ITEMS, g2_file, g2_item, g2_message
from transforms.sources.wire import items as reasons
from transforms.sources.wire.detect import parse_wire_file
from transforms.sources.wire.items import WireItem, WireProblem, iso_utc, qualify


def one(data: bytes) -> WireItem:
    (item,) = parse_wire_file(data)
    assert isinstance(item, WireItem), item
    return item


def iptc(shared_dir, name: str) -> bytes:
    return next((shared_dir / "data" / "newsml-g2-iptc").glob(f"{name}*")).read_bytes()


# --------------------------------------------------------------------------- NewsML-G2


def test_g2_text_item_with_nitf_body_maps_every_field(shared_dir) -> None:
    item = one(iptc(shared_dir, "LISTING_2_"))
    assert item.source_format == "newsml-g2"
    assert (item.guid, item.version) == ("urn:newsml:acmenews.com:20161121:US-FINANCE-FED", 11)
    assert item.is_text and item.pub_status == reasons.USABLE
    assert item.headline == 'Fed to halt QE to avert "bubble"'
    assert item.byline == ("Meredith Jameson",)
    assert item.located == "New York, NY"
    assert item.language == "en-US"
    assert item.subjects == ("medtop:04000000", "medtop:20000350", "medtop:20000379")
    assert item.version_created == "2018-11-21T21:25:32Z"  # -05:00 shifted to UTC
    assert item.content_created == "2016-11-21T20:21:06Z"
    assert item.dateline_date == "2016-11-21"  # the local date, not the UTC one
    paragraphs = item.body.split("\n")
    assert len(paragraphs) == 2 and paragraphs[0].startswith("(New York, NY - October 21)")
    assert "  " not in item.body


def test_g2_sports_story_keeps_all_scheme_qualified_subjects(shared_dir) -> None:
    item = one(iptc(shared_dir, "LISTING_22_"))
    assert item.subjects[:3] == ("medtop:20000822", "medtop:20000849", "league:l.mlb.com")
    assert item.located == "Philadelphia"  # a readable qcode names the place
    assert item.provider == "www.xmlteam.com"
    assert len(item.body.split("\n")) == 6
    assert item.description.startswith("A pair of teams")


@pytest.mark.parametrize(
    ("name", "item_class"),
    [("LISTING_3_", "picture"), ("LISTING_6_", "composite"), ("ap_metadata", "video")],
)
def test_g2_non_text_items_are_classified(shared_dir, name, item_class) -> None:
    item = one(iptc(shared_dir, name))
    assert item.item_class == item_class and not item.is_text


def test_g2_text_item_without_inline_text_says_why(shared_dir) -> None:
    item = one(iptc(shared_dir, "LISTING_1_"))  # inlineXML holds only comments
    assert item.is_text and item.body == ""
    assert item.no_text_detail
    assert item.provider == "REUTERS" and item.located == "Berlin"
    assert item.first_created == "2016-10-18T18:12:21Z"


def test_g2_news_message_counts_every_item(shared_dir) -> None:
    outcomes = parse_wire_file(iptc(shared_dir, "LISTING_24_"))
    assert len(outcomes) == 5  # the package and its four (incomplete) news items
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    package, *news = outcomes
    assert isinstance(package, WireProblem) and package.rejection
    assert package.reason == reasons.NOT_TEXT
    assert all(isinstance(o, WireProblem) and o.reason == reasons.BAD_ITEM for o in news)
    assert [o.guid for o in news] == ["N1", "N2", "N3", "N4"]


@pytest.mark.parametrize("name", ["LISTING_25_", "LISTING_28_"])
def test_g2_fragments_are_not_items(shared_dir, name) -> None:
    (problem,) = parse_wire_file(iptc(shared_dir, name))
    assert isinstance(problem, WireProblem) and problem.reason == reasons.UNKNOWN_FORMAT


def test_g2_latin1_declared_encoding_is_honoured(shared_dir) -> None:
    item = one(iptc(shared_dir, "ap_metadata"))
    assert item.provider == "AP"


def test_g2_message_of_text_items_and_xhtml_body() -> None:
    data = g2_message(
        g2_item(guid="urn:a", version=1),
        g2_item(guid="urn:b", version=4, xhtml=True),
        g2_item(guid="urn:c", status="stat:canceled"),
    )
    first, second, third = parse_wire_file(data)
    assert (first.guid, second.guid, third.guid) == ("urn:a", "urn:b", "urn:c")
    assert second.version == 4 and second.body.count("\n") == 2
    assert "<" not in second.body and "x" not in second.body.split("\n")[0][:1]
    assert third.pub_status == reasons.CANCELED
    assert first.subjects == ("medtop:20000763", "medtop:09000000")  # uri -> qcode


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("stat:canceled", reasons.CANCELED),
        ("stat:withdrawn", reasons.CANCELED),
        ("stat:withheld", reasons.HELD),
        ("http://cv.iptc.org/newscodes/pubstatusg2/canceled", reasons.CANCELED),
        ("stat:usable", reasons.USABLE),
    ],
)
def test_g2_publication_status(status, expected) -> None:
    assert one(g2_file(status=status)).pub_status == expected


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"version": "two"}, reasons.BAD_ITEM),
        ({"version": "0"}, reasons.BAD_ITEM),
        ({"guid": ""}, reasons.NO_GUID),
        ({"standardversion": "3.0"}, reasons.UNKNOWN_VERSION),
    ],
)
def test_g2_items_missing_what_the_standard_requires(kwargs, reason) -> None:
    (problem,) = parse_wire_file(g2_file(**kwargs))
    assert isinstance(problem, WireProblem) and problem.reason == reason


# --------------------------------------------------------------------------- ninjs


def test_ninjs_1x_html_body_subject_scheme_and_infosource() -> None:
    item = one((ITEMS / "ninjs1-text.json").read_bytes())
    assert item.source_format == "ninjs-1"
    assert (item.guid, item.version) == ("http://example.com/wire/ninjs1-harbour-reopens", 3)
    assert item.headline == "Harbour reopens after three-day storm closure"
    assert item.byline == ("By Anna Berg",)
    assert item.located == "Gothenburg" and item.language == "en"
    assert item.provider == "Example Nordic News Agency"
    assert item.subjects == ("medtop:17000000", "http://example.com/codes/industry/ship")
    assert item.first_created == "2024-03-05T08:00:00Z"
    assert len(item.body.split("\n")) == 3 and "track()" not in item.body
    assert item.description == "Ferries and cargo ships moved again on Tuesday."


def test_ninjs_2x_roles_plain_body_and_literal_subject() -> None:
    item = one((ITEMS / "ninjs2-text.json").read_bytes())
    assert item.source_format == "ninjs-2"
    assert item.headline == "City council approves budget with new cycle lanes"  # role main
    assert item.body.count("\n") == 2
    assert item.byline == ("Tom Hale",) and item.provider == "Example Press Association"
    assert item.subjects == ("medtop:20000565", "budget")
    assert item.description == "The vote passed by 31 to 20."


def test_ninjs_3x_camel_case_and_xhtml_body() -> None:
    item = one((ITEMS / "ninjs3-text.json").read_bytes())
    assert item.source_format == "ninjs-3"
    assert item.version == 2 and item.language == "de"
    assert item.version_created == "2024-03-07T06:30:00Z"
    assert item.content_created == "2024-03-07T04:55:00Z"
    assert item.provider == "Example Deutsche Agentur"
    assert item.subjects == ("medtop:20000853",)  # https CV URI too
    assert item.body.startswith("Im Regionalverkehr") and item.body.count("\n") == 2


def test_ninjs_3x_without_standard_is_recognised_by_its_names() -> None:
    data = json.loads((ITEMS / "ninjs3-text.json").read_text())
    del data["standard"]
    assert one(json.dumps(data).encode()).source_format == "ninjs-3"


def test_ninjs_picture_is_not_text_and_unknown_generation_is_refused() -> None:
    assert one((ITEMS / "ninjs3-picture.json").read_bytes()).item_class == "picture"
    (problem,) = parse_wire_file((ITEMS / "ninjs4-unknown.json").read_bytes())
    assert problem.reason == reasons.UNKNOWN_VERSION


def test_ninjs_array_counts_each_object_and_canceled_status() -> None:
    base = json.loads((ITEMS / "ninjs2-text.json").read_text())
    killed = {**base, "uri": "urn:killed", "pubstatus": "canceled"}
    outcomes = parse_wire_file(json.dumps([base, killed, "junk"]).encode())
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert outcomes[1].pub_status == reasons.CANCELED
    assert isinstance(outcomes[2], WireProblem)


def test_ninjs_in_utf16_with_bom() -> None:
    data = (ITEMS / "ninjs2-text.json").read_text().encode("utf-16")
    assert one(data).headline == "City council approves budget with new cycle lanes"


# --------------------------------------------------------------------------- NITF


def test_standalone_nitf() -> None:
    item = one((ITEMS / "nitf-standalone.xml").read_bytes())
    assert item.source_format == "nitf"
    assert (item.guid, item.version) == ("example-farmwire-2024-0311-wheat", 2)
    assert item.byline == ("Maria Lopez",)
    assert item.located == "Kansas City" and item.dateline_date == "2024-03-11"
    assert item.provider == "Example Farm Wire"
    assert item.subjects == ("subj:04001000",)
    assert item.first_created == "2024-03-11T14:15:00Z"
    assert "wheat field" not in item.body  # media captions are not running text
    assert len(item.body.split("\n")) == 3


def test_nitf_canceled_and_unknown_version() -> None:
    text = (ITEMS / "nitf-standalone.xml").read_text()
    canceled = text.replace('management-status="usable"', 'management-status="canceled"')
    assert one(canceled.encode()).pub_status == reasons.CANCELED
    (problem,) = parse_wire_file(text.replace("NITF 3.6", "NITF 9.1").encode())
    assert problem.reason == reasons.UNKNOWN_VERSION


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-10-21T16:25:32-05:00", "2018-10-21T21:25:32Z"),
        ("2018-10-19T20:15:00Z\n   ", "2018-10-19T20:15:00Z"),
        ("20240311T141500+0100", "2024-03-11T13:15:00Z"),
        ("20240311", "2024-03-11T00:00:00Z"),
        ("next tuesday", None),
        (None, None),
    ],
)
def test_dates(value, expected) -> None:
    assert iso_utc(value) == expected


def test_subject_qualification() -> None:
    assert qualify(uri="http://cv.iptc.org/newscodes/subjectcode/04000000") == "subj:04000000"
    assert qualify(scheme="http://cv.iptc.org/newscodes/mediatopic", code="1") == "medtop:1"


def test_keywords_are_the_subject_names(shared_dir) -> None:
    assert one(iptc(shared_dir, "LISTING_2_")).keywords == (
        "economy, business and finance",
        "central bank",
        "money and monetary policy",
    )
    assert one((ITEMS / "ninjs2-text.json").read_bytes()).keywords == ("local government", "budget")
