"""Every item a feed document lists is accounted for: entries, repeats, dead letters, cut items."""

from __future__ import annotations

from transforms.core.records import FeedSource, stable_hash
from transforms.sources.feed_parse import parse_feed

SOURCE = FeedSource(url="https://news.example/feed.xml", name="Example")


def _rss(items: list[tuple[str, str]], close: bool = True) -> bytes:
    body = "".join(
        f"<item><title>t</title><link>{link}</link><guid isPermaLink='false'>{guid}</guid></item>"
        for guid, link in items
    )
    end = "</channel></rss>" if close else ""
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{body}{end}'.encode()


def test_items_sharing_a_guid_are_distinguished_by_link() -> None:
    links = [f"https://news.example/section/{i}" for i in range(5)]
    parsed = parse_feed(_rss([("section-guid", link) for link in links]), SOURCE)
    assert [e.url for e in parsed.entries] == links
    assert len({e.entry_id for e in parsed.entries}) == 5
    assert parsed.entries[0].entry_id == stable_hash(SOURCE.url, "section-guid", links[0])
    assert parsed.listed == 5 and not parsed.repeats and not parsed.dead


def test_exact_repeats_are_kept_with_ids_of_their_own() -> None:
    item = ("g1", "https://news.example/a")
    parsed = parse_feed(_rss([item, ("g2", "https://news.example/b"), item, item]), SOURCE)
    assert [e.url for e in parsed.entries] == ["https://news.example/a", "https://news.example/b"]
    first = parsed.entries[0].entry_id
    assert first == stable_hash(SOURCE.url, "g1")
    assert [r.entry_id for r in parsed.repeats] == [
        stable_hash(first, "repeat", "1"),
        stable_hash(first, "repeat", "2"),
    ]
    assert {r.canonical_url for r in parsed.repeats} == {"https://news.example/a"}
    assert parsed.duplicates == 2 and parsed.listed == 4
    # The same document gives the same ids: the state remembers the repeats too.
    assert parse_feed(_rss([item, ("g2", "https://news.example/b"), item, item]), SOURCE) == parsed


def test_linkless_repeats_are_each_a_dead_letter() -> None:
    body = (
        b'<rss version="2.0"><channel><item><title>x</title></item>'
        b"<item><title>x</title></item></channel></rss>"
    )
    parsed = parse_feed(body, SOURCE)
    assert [d.reason for d in parsed.dead] == ["no_link", "no_link"]
    assert len({d.entry_id for d in parsed.dead}) == 2 and parsed.listed == 2


def test_a_document_cut_short_is_a_feed_level_dead_letter() -> None:
    whole = _rss([(f"g{i}", f"https://news.example/{i}") for i in range(6)])
    for cut in (whole[: whole.index(b"<item>", 200)], whole[:-12], whole[: len(whole) // 2]):
        parsed = parse_feed(cut, SOURCE)
        assert not parsed.entries and parsed.listed == 0
        (letter,) = parsed.dead
        assert letter.reason == "truncated_feed" and letter.entry_id is None
        assert "</rss>" in letter.error and "cut short" in letter.error
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<entry><id>1</id><link href="https://news.example/1"/><title>a</title></entry>'
    )
    assert [d.reason for d in parse_feed(atom, SOURCE).dead] == ["truncated_feed"]
    assert len(parse_feed(atom + b"</feed>\n<!-- served by x -->\n", SOURCE).entries) == 1


def test_entries_in_cdata_or_comments_are_not_counted_as_listed() -> None:
    body = (
        b'<rss version="2.0"><channel><title>F</title><!-- <item> old </item> -->'
        b"<item><title>t</title><link>https://news.example/1</link>"
        b"<description><![CDATA[<item>not an item</item>]]></description></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(body, SOURCE)
    assert len(parsed.entries) == 1 and not parsed.dead


def test_a_broken_document_that_loses_entries_is_a_dead_letter() -> None:
    # The second item's unclosed <title> swallows it: the lenient parser reads 2 of 3 items.
    body = (
        b'<rss version="2.0"><channel><title>F</title>'
        b"<item><title>a</title><link>https://news.example/1</link></item>"
        b"<item><title>b<link>https://news.example/2</link></item>"
        b"<item><title>c</title><link>https://news.example/3</link></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(body, SOURCE)
    assert not parsed.entries
    (letter,) = parsed.dead
    assert letter.reason == "bad_feed" and "read 2 of the 3 entries" in letter.error


def test_json_feed_items_that_are_not_objects_are_dead_letters() -> None:
    # They used to vanish: listed by the document, counted nowhere.
    import json

    items = [{"id": "1", "url": "https://news.example/1"}, "text", None, 7, ["x"]]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()
    parsed = parse_feed(body, SOURCE, {"Content-Type": "application/feed+json"})
    assert parsed.listed == len(items) and len(parsed.entries) == 1
    assert [d.reason for d in parsed.dead] == ["no_link"] * 4
    assert len({d.entry_id for d in parsed.dead}) == 4
    assert "not a JSON object" in parsed.dead[0].payload
