"""Charsets as browsers decode them (WHATWG labels: BOM, header, in-document declaration, then
detection) on real legacy bytes, and host names as IDNA 2008 / UTS 46."""

from __future__ import annotations

import pytest

from tests.httpserver import CHARSET_TEXTS, MORE_CHARSET_PAGES
from transforms.core.urls import canonicalize_url, idna_host
from transforms.fetch import http as h
from transforms.fetch.http import HttpClient, HttpConfig, parse_target
from transforms.fetch.http.body import decode_text, resolve_charset

pytestmark = pytest.mark.timeout(60)

CONFIG = HttpConfig(allow_private_networks=True, respect_robots=False, max_retries=0)


@pytest.fixture(scope="module")
def client():
    c = HttpClient(CONFIG)
    yield c
    c.close()


@pytest.mark.parametrize(
    ("name", "codec", "source"),
    [
        ("gb2312", "gb18030", "header"),
        ("shift_jis", "cp932", "header"),
        ("euc-kr", "cp949", "header"),
        ("ks_c_5601-1987", "cp949", "meta"),
        ("iso-8859-1", "cp1252", "header"),
        ("tis-620", "cp874", "meta"),
    ],
)
def test_legacy_labels_decode_as_their_superset(client, http_server, name, codec, source):
    result = client.get(http_server.url(f"/charset/{name}"))
    assert (result.encoding, result.charset_source) == (codec, source)
    assert CHARSET_TEXTS[name] in result.text
    assert "\ufffd" not in result.text
    assert not any("\x80" <= ch <= "\x9f" for ch in result.text)  # no C1 controls from cp1252


@pytest.mark.parametrize(
    ("name", "codec", "source"),
    [
        ("x-euc-jp", "euc_jp", "header"),  # standard labels Python's registry lacks
        ("cn-big5", "big5hkscs", "header"),
        ("windows-949", "cp949", "meta"),
        ("gbk-label-utf8-bytes", "utf-8", "detected"),  # GB 18030 would decode it, as mojibake
        ("unlabelled-shift_jis", "cp932", "detected"),
        ("unlabelled-euc-kr", "cp949", "detected"),
        ("euc-kr-declared-utf-8", "cp949", "detected"),
        ("cp1252-declared-utf-8", "cp1252", "detected"),
    ],
)
def test_every_standard_label_and_the_bytes_themselves(client, http_server, name, codec, source):
    result = client.get(http_server.url(f"/charset/{name}"))
    text = MORE_CHARSET_PAGES[name][0]
    assert (result.encoding, result.charset_source) == (codec, source)
    assert text in result.text and "\ufffd" not in result.text


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("GB2312", "gb18030"),
        ("gbk", "gb18030"),
        ("x-sjis", "cp932"),
        ("windows-31j", "cp932"),
        ("ks_c_5601-1987", "cp949"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("TIS-620", "cp874"),
        ("big5", "big5hkscs"),
        ("x-x-big5", "big5hkscs"),
        ("x-gbk", "gb18030"),
        ("csShiftJIS", "cp932"),
        ("unicode-1-1-utf-8", "utf-8"),
        ("iso-2022-kr", None),  # the standard's "replacement": never decoded as labelled
        ("cp932", "cp932"),  # not a standard label, but a codec Python knows
        ('"utf-8"', "utf-8"),
        ("no-such-charset", None),
        (None, None),
    ],
)
def test_whatwg_label_mapping(label, codec):
    assert resolve_charset(label) == codec


def test_bom_beats_the_header():
    text = "<html><body><p>Zürich – “news”</p></body></html>"
    body = "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    decoded, codec, source = decode_text(
        body, "iso-8859-1", kind="page", url="http://a.example/", max_bad_ratio=0.01
    )
    assert (decoded, codec, source) == (text, "utf-16", "bom")


def test_xml_declaration_labels_a_feed():
    body = '<?xml version="1.0" encoding="gb2312"?><rss><title>朱镕基</title></rss>'.encode("gbk")
    text, codec, source = decode_text(
        body, None, kind="feed", url="http://a.example/f", max_bad_ratio=0.01
    )
    assert ("朱镕基" in text, codec, source) == (True, "gb18030", "xml")


@pytest.mark.parametrize(
    ("host", "ascii_host"),
    [
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2003 would say fass.de, another domain
        ("Bücher.example", "xn--bcher-kva.example"),
        ("ＥＸＡＭＰＬＥ.com", "example.com"),  # UTS 46 mapping of full-width letters
        ("news_desk.example.com", "news_desk.example.com"),
        ("WWW.Example.COM.", "www.example.com"),
    ],
)
def test_idna_2008_host_names(host, ascii_host):
    assert idna_host(host) == ascii_host


def test_canonical_urls_and_fetch_targets_agree_on_idna_2008():
    assert canonicalize_url("https://faß.de/Artikel?id=1") == "https://xn--fa-hia.de/Artikel?id=1"
    target = parse_target("https://faß.de/Artikel")
    assert (target.host, target.url) == ("xn--fa-hia.de", "https://xn--fa-hia.de/Artikel")
    assert canonicalize_url("http://☃.net/") is None
    with pytest.raises(h.FetchError) as info:
        parse_target("http://☃.net/")
    assert info.value.reason == h.BAD_URL
