from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import FeedListError, load_feed_list

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
