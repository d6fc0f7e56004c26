"""HTML fragments to plain text, and text that no HTML consumer can read as markup.

The one place the pipeline turns markup from the web into text (feed titles and summaries, a
story's summary fallback) and makes text from the web inert before it is written: feed fields
and stories are read by people's tools, and those forget to escape.

- ``html_to_text``: visible text of a fragment (lxml, linear on hostile input; script, style and
  similar content dropped), blocks separated by spaces or, with ``lines``, by line breaks.
- ``safe_text``: plain, single-spaced, bounded text in which no ``<`` can open a tag.

Not to be confused with ``transforms.extract.cleaning.clean_text``, which removes boilerplate
residue (bylines, promos, repeated lines) from an extracted article.
"""

from __future__ import annotations

import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

HTML_INPUT_CAP = 1_000_000  # longer HTML fields are cut before parsing, never buffered twice

# Elements whose content is not visible text (and may be active content): dropped whole.
_DROP_CONTENT = (
    "script",
    "style",
    "template",
    "noscript",
    "iframe",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "head",
    "title",
    "select",
    "textarea",
    "frameset",
    "noembed",
    "noframes",
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "tr",
        "td",
        "th",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "dl",
        "hr",
        "aside",
        "nav",
        "main",
        "address",
    }
)
# What makes an HTML tokenizer leave the text state: "<" then a letter, "/", "!" or "?".
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_WS = re.compile(r"\s+")


def _strip_controls(text: str) -> str:
    return "".join(
        ch if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cs", "Co") else " "
        for ch in text
    )


def html_to_text(fragment: str, *, lines: bool = False) -> str:
    """Visible text of an HTML fragment, entities decoded; script-like content is dropped.

    lxml's (libxml2's) HTML parser is linear on hostile input, unlike ``html.parser``, which is
    quadratic on text such as ``<a <a <a …`` and would let one summary hold a worker for minutes.
    Block elements are separated by a space, or with ``lines`` by a line break (one stripped,
    non-empty line per block: the paragraph structure the cleaning rules work on).
    """
    if not fragment:
        return ""
    from lxml import etree
    from lxml import html as lxml_html

    text = _strip_controls(fragment[:HTML_INPUT_CAP])
    if not text.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(text, create_parent="div")
    except (etree.ParserError, ValueError) as exc:
        logger.debug("unparsable HTML fragment, kept as text: %s", exc)
        return _as_lines(text) if lines else text
    etree.strip_elements(root, *_DROP_CONTENT, with_tail=False)
    separator = "\n" if lines else " "
    for element in root.iterdescendants():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK:
            element.tail = separator + (element.tail or "")
            if len(element) or element.text:
                element.text = separator + (element.text or "")
    content = root.text_content()
    return _as_lines(content) if lines else content


def _as_lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def has_unsafe_markup(text: str) -> bool:
    """Could an HTML consumer that forgets to escape this text see a tag in it?"""
    return bool(text) and _TAG_OPEN.search(text) is not None


def safe_text(text: str | None, limit: int) -> str:
    """Plain, single-spaced, bounded text that no HTML consumer can read as markup; idempotent.

    Markup was already reduced to text where the format said the field is HTML; what is left is
    text that merely *looks* like markup (a plain title ``<script>…`` or ``&lt;b&gt;`` decoded).
    Every ``<`` that would open a tag gets a space after it (``< script>``): the words stay
    readable, a consumer pasting the text into a page cannot be scripted, and the operation is
    linear and idempotent.
    """
    if not text:
        return ""
    cleaned = _strip_controls(text[: limit * 4 + 10_000])
    cleaned = _TAG_OPEN.sub("< ", cleaned)
    cleaned = _WS.sub(" ", cleaned).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[:limit].rstrip()
    return cleaned
