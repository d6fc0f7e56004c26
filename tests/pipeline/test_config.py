"""Feed lists: YAML and OPML through Beam's filesystems, and preflight messages with fixes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.config import FeedListError, load_feed_list, parse_feed_list
from transforms.core.records import FeedSource

YAML = """
feeds:
  - url: https://example.org/rss.xml
    name: Example
    language: en
    tags: [world, wire]
    poll_minutes: 15
  - https://example.org/other.xml
  - url: https://example.org/rss.xml
"""

OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="News">
    <outline text="Example" title="Example" type="rss" xmlUrl="https://example.org/rss.xml"
             category="/world,/europe"/>
    <outline text="no feed here"/>
  </outline>
</body></opml>
"""


def test_yaml_feed_list(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(YAML)
    sources = load_feed_list(str(path))
    assert [s.url for s in sources] == [
        "https://example.org/rss.xml",
        "https://example.org/other.xml",
    ]
    first = sources[0]
    assert (first.name, first.language, first.tags, first.poll_minutes) == (
        "Example",
        "en",
        ("world", "wire"),
        15,
    )


def test_opml_feed_list(tmp_path: Path) -> None:
    path = tmp_path / "subs.opml"
    path.write_text(OPML)
    (source,) = load_feed_list(str(path))
    assert source.url == "https://example.org/rss.xml"
    assert source.tags == ("world", "europe")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("feeds: []", "expected a list"),
        ("feeds:\n  - name: no url\n", "needs a 'url'"),
        ("feeds:\n  - url: file:///etc/passwd\n", r"must be http\(s\)"),
        ("feeds: [", "not valid YAML"),
    ],
)
def test_bad_feed_lists_say_what_to_fix(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(content)
    with pytest.raises(FeedListError, match=message):
        load_feed_list(str(path))


def test_missing_feed_list(tmp_path: Path) -> None:
    with pytest.raises(FeedListError, match="cannot read"):
        load_feed_list(str(tmp_path / "nope.yaml"))


YAML_LIST = """
defaults:
  poll_minutes: 30
  tags: [news]
feeds:
  - url: https://example.org/rss.xml
    name: Example World
    language: EN_gb
    tags: [world, news]
  - url: https://paper.example/news-sitemap.xml
    kind: sitemap
    poll_interval: 2h
    tags: "business, markets"
  - https://bare.example/atom
"""


def test_yaml_defaults_intervals_and_kinds(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(YAML_LIST, encoding="utf-8")
    sources = load_feed_list(str(path))
    assert sources == (
        FeedSource(
            url="https://example.org/rss.xml",
            name="Example World",
            language="en-gb",
            tags=("world", "news"),
            poll_minutes=30,
        ),
        FeedSource(
            url="https://paper.example/news-sitemap.xml",
            name="paper.example",
            kind="sitemap",
            tags=("business", "markets"),
            poll_minutes=120,
        ),
        FeedSource(
            url="https://bare.example/atom", name="bare.example", tags=("news",), poll_minutes=30
        ),
    )


def test_top_level_list_is_accepted() -> None:
    sources = parse_feed_list(b"- url: http://a.example/f\n- url: http://b.example/f\n")
    assert [s.url for s in sources] == ["http://a.example/f", "http://b.example/f"]
    assert all(s.poll_minutes == 60 and s.kind == "feed" for s in sources)


def test_every_problem_is_reported_with_its_fix() -> None:
    bad = b"""
feeds:
  - url: ftp://example.org/feed
  - name: no url here
  - url: https://ok.example/a
    kidn: sitemap
  - url: https://ok.example/a#dup
  - url: https://c.example/
    kind: podcast
    language: "english please"
    poll_minutes: 0
  - url: https://d.example/
    tags: {a: 1}
  - 42
"""
    with pytest.raises(FeedListError) as caught:
        parse_feed_list(bad, "feeds.yaml")
    problems = caught.value.problems
    text = str(caught.value)
    assert text.startswith("feed list feeds.yaml has 8 problem(s)")
    assert len(problems) == 8
    assert any("feeds[0]" in p and "http(s)" in p for p in problems)
    assert any("feeds[1]" in p and "needs a 'url'" in p for p in problems)
    assert any("'kidn'" in p and "did you mean 'kind'" in p for p in problems)
    assert any("podcast" in p for p in problems)
    assert any("english please" in p for p in problems)
    assert any("poll interval 0" in p for p in problems)
    assert any("tags must be" in p for p in problems)
    assert any("feeds[6]" in p for p in problems)
    assert all("Fix" in p or "must be" in p for p in problems)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"feeds: [\n  - url: x\n", "not valid YAML at line"),
        (b"feeds: {}\n", "expected a list of feeds"),
        (b"feeds: []\n", "expected a list of feeds"),
        (b"", "expected a list"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"fedes:\n  - url: https://a.example/\n", "unknown top-level key 'fedes'"),
        (
            b"defaults: {url: https://x/, pol_minutes: 3}\nfeeds: [https://a.example/]",
            "did you mean 'poll_minutes'",
        ),
        (b"!!python/object/apply:os.system ['true']", "not valid YAML"),
        # deeper than Python's recursion limit: a RecursionError traceback (exit 1) before
        (b"feeds: " + b"[" * 20000 + b"]" * 20000, "nested too deeply"),
    ],
)
def test_yaml_errors(data: bytes, fragment: str) -> None:
    with pytest.raises(FeedListError, match="problem") as caught:
        parse_feed_list(data, "feeds.yaml")
    assert fragment in str(caught.value)


OPML_NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="World">
      <outline text="Example" title="Example World" type="rss"
               xmlUrl="https://example.org/rss.xml" category="/news/world,uk" language="en"/>
      <outline text="Paper sitemap" type="sitemap" xmlUrl="https://paper.example/s.xml"/>
    </outline>
    <outline text="Loose" xmlurl="https://loose.example/feed"/>
    <outline text="Just a folder"/>
  </body>
</opml>"""


def test_opml_nested_outlines_and_sitemaps(tmp_path: Path, caplog) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(OPML_NESTED)
    with caplog.at_level(logging.WARNING, logger="pipeline.config"):
        sources = load_feed_list(str(path))
    # The leaf that is not a feed is named, never skipped silently.
    assert "1 outline(s) without an xmlUrl" in caplog.text and "'Just a folder'" in caplog.text
    assert sources == (
        FeedSource(
            url="https://example.org/rss.xml",
            name="Example World",
            language="en",
            tags=("news", "world", "uk"),
        ),
        FeedSource(url="https://paper.example/s.xml", name="Paper sitemap", kind="sitemap"),
        FeedSource(url="https://loose.example/feed", name="Loose"),
    )


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"<opml><body><outline", "not valid OPML"),
        (b"<rss/>", "expected <opml>"),
        (b'<!DOCTYPE opml [<!ENTITY x "y">]><opml/>', "declares XML entities"),
        (b"<opml><body><outline xmlUrl='javascript:x'/></body></opml>", "http(s)"),
        (b"<opml><body/></opml>", "expected a list of feeds"),
    ],
)
def test_opml_errors(data: bytes, fragment: str) -> None:
    with pytest.raises(FeedListError) as caught:
        parse_feed_list(data, "feeds.opml")
    assert fragment in str(caught.value)


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FeedListError, match=r"cannot read it: file not found\. Fix: check --feeds"):
        load_feed_list(str(tmp_path / "nope.yaml"))


def test_duplicate_feeds_are_kept_once_with_a_warning(caplog) -> None:
    data = b"feeds:\n  - url: https://a.example/f\n    name: first\n  - url: HTTPS://A.example:443/f#x\n"
    with caplog.at_level("WARNING"):
        (source,) = parse_feed_list(data, "feeds.yaml")
    assert source.name == "first"
    assert "same feed as feeds[0]" in caplog.text
