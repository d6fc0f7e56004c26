"""The HTML report renders any report document: keys missing (older or partial reports), the
per-feed table and the failure gate when present, and web text always escaped."""

from __future__ import annotations

from lxml import html as lxml_html

from pipeline.report_html import render_html


def test_a_bare_report_renders() -> None:
    page = render_html({"run_id": "r", "invariant": {"holds": True}})
    tree = lxml_html.fromstring(page)
    assert "Per-feed figures are not in this report." in tree.text_content()
    assert not tree.xpath("//script")


def test_feeds_gate_and_listed_entries_are_shown_escaped() -> None:
    report = {
        "run_id": "r",
        "invariant": {
            "holds": True,
            "entries_listed": 5,
            "skipped": {"seen_before": 1},
            "entries_read": 4,
            "stories": 4,
        },
        "gate": {"failures": ["2 of 3 feeds failed <b>"]},
        "feeds": [
            {
                "feed_url": "javascript:alert(1)",
                "name": "<script>x</script>",
                "entries_listed": 5,
                "dead_letters": 1,
                "last_error": "<img src=x onerror=alert(1)>",
            }
        ],
        "stories_per_language": {"en": 3, "de": 1},
    }
    tree = lxml_html.fromstring(render_html(report))
    text = tree.text_content()
    assert "too much failed" in text and "2 of 3 feeds failed <b>" in text
    assert "entries listed 5 = entries read 4 + skipped (seen_before 1)" in text
    assert "<script>x</script>" in text and "<img src=x onerror=alert(1)>" in text
    assert not tree.xpath("//script | //img | //a[starts-with(@href, 'javascript')]")
    assert tree.xpath("//tr[@class='failing']")
    widths = [f.get("style") for f in tree.xpath("//div[@data-chart='stories per language']//span")]
    assert "width:100.0%" in widths and "width:33.3%" in widths
