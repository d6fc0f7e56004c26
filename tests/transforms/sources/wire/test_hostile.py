"""Hostile and broken wire files: each is a problem with a named reason, never an exception."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.transforms.sources.wire.wirefiles import g2_file, g2_item, ninjs_file
from transforms.sources.wire import items as reasons
from transforms.sources.wire.detect import parse_wire_file
from transforms.sources.wire.items import WireProblem

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:lol" version="1">
 <contentMeta><headline>&lol4;</headline></contentMeta></newsItem>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE newsItem [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:xxe" version="1">
 <itemMeta><itemClass qcode="ninat:text"/></itemMeta>
 <contentMeta><headline>&xxe;</headline></contentMeta></newsItem>"""

EXTERNAL_DTD = (
    b'<?xml version="1.0"?>\n<!DOCTYPE newsItem SYSTEM "http://127.0.0.1:9/newsml.dtd">\n'
    + g2_item().encode()
)


def single(data: bytes, **kwargs) -> WireProblem:
    outcomes = parse_wire_file(data, **kwargs)
    assert len(outcomes) == 1, outcomes
    (problem,) = outcomes
    assert isinstance(problem, WireProblem), problem
    assert problem.reason in reasons.DEAD_REASONS
    assert problem.error
    return problem


@pytest.mark.parametrize("data", [LAUGHS, XXE, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"])
def test_doctype_and_entities_are_refused(data) -> None:
    problem = single(data)
    assert problem.reason == reasons.HOSTILE_XML
    assert "root:" not in problem.error + problem.excerpt.split("<!DOCTYPE")[0]


def test_doctype_hidden_in_utf16_is_refused_after_parsing() -> None:
    text = XXE.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    problem = single(text.encode("utf-16"))
    assert problem.reason == reasons.HOSTILE_XML


def test_undeclared_entity_is_bad_xml() -> None:
    data = g2_file().replace(b"Rotterdam dock", b"&nbsp;Rotterdam dock")
    assert single(data).reason == reasons.BAD_XML


def test_truncated_xml() -> None:
    data = g2_file()
    assert single(data[: len(data) // 2]).reason == reasons.BAD_XML


def test_declared_utf8_but_latin1_bytes() -> None:
    data = g2_file(headline="Zürich talks").replace("Zürich".encode(), "Zürich".encode("latin-1"))
    assert single(data).reason == reasons.BAD_ENCODING


def test_latin1_bytes_without_declaration() -> None:
    data = g2_item(headline="Café crème").encode("latin-1")
    assert single(data).reason == reasons.BAD_ENCODING


def test_unknown_declared_encoding() -> None:
    data = g2_file().replace(b'encoding="UTF-8"', b'encoding="x-klingon-7"')
    assert single(data).reason == reasons.BAD_ENCODING


def test_declared_latin1_is_read() -> None:
    data = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n' + g2_item(headline="Café")).encode(
        "latin-1"
    )
    (item,) = parse_wire_file(data)
    assert item.headline == "Café"


def test_truncated_json() -> None:
    data = ninjs_file()
    assert single(data[:-40]).reason == reasons.BAD_JSON


def test_json_with_invalid_utf8() -> None:
    data = ninjs_file(headlines=[{"value": "Zürich"}]).replace("Zürich".encode(), b"Z\xfcrich")
    assert single(data).reason == reasons.BAD_ENCODING


def test_absurdly_nested_json() -> None:
    assert single(b"[" * 200_000 + b"]" * 200_000).reason == reasons.BAD_JSON


def test_json_integer_beyond_the_digit_cap() -> None:
    data = b'{"uri": "urn:x", "urgency": ' + b"9" * 10_000 + b"}"
    assert single(data).reason == reasons.BAD_JSON


def test_deeply_nested_xml_hits_the_parser_depth_limit() -> None:
    depth = 5000
    data = b'<nitf version="-//IPTC//DTD NITF 3.6//EN">' + b"<x>" * depth + b"</x>" * depth
    data += b"</nitf>"
    assert single(data).reason == reasons.BAD_XML


def test_file_over_the_cap() -> None:
    data = g2_file()
    assert single(data, max_bytes=len(data) - 1).reason == reasons.TOO_LARGE


def test_gzip_bomb_is_cut_at_the_cap() -> None:
    bomb = gzip.compress(b"<nitf>" + b" " * 5_000_000 + b"</nitf>")
    assert len(bomb) < 10_000
    assert single(bomb, max_bytes=1_000_000).reason == reasons.TOO_LARGE


def test_gzipped_item_is_read() -> None:
    (item,) = parse_wire_file(gzip.compress(g2_file()))
    assert item.guid.endswith("rotterdam-strike")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", reasons.EMPTY_FILE),
        (b"  \n\t ", reasons.EMPTY_FILE),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", reasons.UNKNOWN_FORMAT),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', reasons.UNKNOWN_FORMAT),
        (b"<rss version='2.0'><channel/></rss>", reasons.UNKNOWN_FORMAT),
        (b"\x1f\x8b\x08\x00garbage", reasons.UNKNOWN_FORMAT),
        (json.dumps({"uri": "urn:x", "version": "-3"}).encode(), reasons.BAD_ITEM),
        (json.dumps({"standard": {"name": "other", "version": "1"}}).encode(), None),
    ],
    ids=["empty", "blank", "png", "jsonfeed", "rss", "bad-gzip", "negative-version", "other-std"],
)
def test_not_a_wire_item(data, reason) -> None:
    problem = single(data)
    if reason is not None:
        assert problem.reason == reason


def test_g2_item_in_a_foreign_namespace_is_unknown() -> None:
    data = g2_file().replace(b"http://iptc.org/std/nar/2006-10-01/", b"urn:not-iptc")
    problem = single(data)
    assert problem.reason == reasons.UNKNOWN_FORMAT and "namespace" in problem.error


def test_broken_nitf_inside_a_ninjs_body_is_one_problem() -> None:
    data = ninjs_file(bodies=[{"contenttype": "application/nitf+xml", "value": "<nitf><body>"}])
    problem = single(data)
    assert problem.reason == reasons.BAD_XML and problem.guid
