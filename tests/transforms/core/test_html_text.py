"""html_to_text and safe_text: markup from the web to inert plain text, linear on hostile input."""

from __future__ import annotations

from transforms.core.html_text import has_unsafe_markup, html_to_text, safe_text


def test_blocks_become_spaces_or_lines() -> None:
    fragment = "<div><p>First &amp; <b>bold</b></p><ul><li>one</li><li>two</li></ul></div>tail"
    assert html_to_text(fragment).split() == ["First", "&", "bold", "one", "two", "tail"]
    assert html_to_text(fragment, lines=True) == "First & bold\none\ntwo\ntail"


def test_active_content_is_dropped_and_text_is_kept() -> None:
    fragment = "<p>a<script>alert(1)</script>b</p><style>p{}</style><noscript>x</noscript>c"
    assert html_to_text(fragment, lines=True) == "ab\nc"
    assert html_to_text("no markup, 3 &lt; 4", lines=True) == "no markup, 3 < 4"
    assert html_to_text("") == html_to_text("   ") == ""


def test_hostile_fragments_end_as_bounded_safe_text() -> None:
    hostile = "<a " * 20_000 + "&lt;script&gt;x\x00"
    text = safe_text(html_to_text(hostile), 500)
    assert len(text) <= 500 and not has_unsafe_markup(text)
    assert safe_text(text, 500) == text  # idempotent
