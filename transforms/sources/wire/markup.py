"""Hardened XML parsing and markup-to-paragraph text for wire items.

The parser refuses what an agency item never needs and an attacker always does: any DOCTYPE or
entity declaration (billion laughs, external entities/XXE) is a ``hostile_xml`` dead letter before
lxml builds a tree, and the parser itself never loads a DTD, never resolves an entity, never
touches the network and keeps libxml2's depth and size limits (``huge_tree`` off). The check is
made again on the parsed document (``docinfo``), so a UTF-16 file cannot slip a DOCTYPE past the
byte-level scan. Encoding problems (bytes that do not match the declared or default encoding, an
encoding libxml2 does not know) are ``bad_encoding``; everything else that is not well-formed,
truncated files included, is ``bad_xml``.
"""

from __future__ import annotations

import re
from typing import Any

from transforms.sources.wire.items import BAD_ENCODING, BAD_XML, HOSTILE_XML, squash

_DECLARATIONS = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING_ERRORS = ("encoding", "utf-8", "utf-16", "not proper", "char 0x", "bytes:")

# Elements that hold one paragraph of running text (XHTML and NITF body.content).
BLOCKS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hl2",
        "li",
        "dt",
        "dd",
        "pre",
        "blockquote",
        "bq",
        "block",
        "td",
        "th",
    }
)
# Subtrees that are not the story's running text.
SKIP = frozenset(
    {
        "script",
        "style",
        "head",
        "media",
        "media-caption",
        "figure",
        "figcaption",
        "note",
        "fn",
        "object",
        "iframe",
        "noscript",
        "template",
    }
)


class MarkupError(Exception):
    """Why a document could not be parsed; ``reason`` is a dead-letter reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def local(tag: Any) -> str:
    """Local name of an element tag; comments and processing instructions have none."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: Any) -> str:
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].split("}", 1)[0]
    return ""


def parse_xml(data: bytes) -> Any:
    """The root element of a wire XML document, or ``MarkupError``."""
    from lxml import etree

    if _DECLARATIONS.search(data):
        raise MarkupError(HOSTILE_XML, "DOCTYPE or entity declarations are refused in wire items")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        message = str(exc)
        lowered = message.lower()
        reason = BAD_ENCODING if any(word in lowered for word in _ENCODING_ERRORS) else BAD_XML
        raise MarkupError(reason, f"not well-formed XML: {message}") from exc
    except (ValueError, LookupError) as exc:  # unknown encoding names surface as LookupError
        raise MarkupError(BAD_ENCODING, f"cannot decode: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise MarkupError(HOSTILE_XML, "DOCTYPE declarations are refused in wire items")
    for node in root.iter():
        if not isinstance(node.tag, str) and node.tag is etree.Entity:
            raise MarkupError(HOSTILE_XML, f"entity reference {node.text!r} is refused")
    return root


def children(element: Any, name: str) -> list[Any]:
    return [child for child in element if local(child.tag) == name]


def child(element: Any, name: str) -> Any | None:
    for node in element:
        if local(node.tag) == name:
            return node
    return None


def find(element: Any, *path: str) -> Any | None:
    """First element along a path of local names (namespace-agnostic)."""
    node = element
    for name in path:
        if node is None:
            return None
        node = child(node, name)
    return node


def text_of(element: Any | None, skip: frozenset[str] = frozenset()) -> str:
    """Whitespace-normalised text of an element, leaving out subtrees named in ``skip``."""
    if element is None:
        return ""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node.tag, str) and local(node.tag) in skip:
            if node.tail:
                parts.append(node.tail)
            return
        if isinstance(node.tag, str) and node.text:
            parts.append(node.text)
        for sub in node:
            walk(sub)
        if node is not element and node.tail:
            parts.append(node.tail)

    walk(element)
    return squash(" ".join(parts))


def paragraphs(element: Any | None) -> list[str]:
    """Running text of a body as paragraphs: each innermost block element is one paragraph.

    Text outside any block (a body that is one bare string, or text between blocks) is kept
    as paragraphs of its own, so nothing a provider sent as body text is lost.
    """
    if element is None:
        return []
    out: list[str] = []
    loose: list[str] = []

    def flush() -> None:
        text = squash(" ".join(loose))
        if text:
            out.append(text)
        loose.clear()

    def has_block(node: Any) -> bool:
        return any(
            isinstance(sub.tag, str) and local(sub.tag) in BLOCKS
            for sub in node.iterdescendants()
            if not _inside_skip(sub, node)
        )

    def walk(node: Any, top: bool) -> None:
        name = local(node.tag)
        if name in SKIP:
            if not top and node.tail:
                loose.append(node.tail)
            return
        if name in BLOCKS and not has_block(node):
            flush()
            text = text_of(node, SKIP)
            if text:
                out.append(text)
        else:
            if isinstance(node.tag, str) and node.text:
                loose.append(node.text)
            for sub in node:
                walk(sub, False)
            if name in BLOCKS:
                flush()
        if not top and node.tail:
            loose.append(node.tail)

    walk(element, True)
    flush()
    return out


def _inside_skip(node: Any, top: Any) -> bool:
    parent = node.getparent()
    while parent is not None and parent is not top:
        if local(parent.tag) in SKIP:
            return True
        parent = parent.getparent()
    return local(node.tag) in SKIP


def html_paragraphs(markup: str) -> list[str]:
    """Paragraphs of an HTML or XHTML fragment from a JSON field (ninjs ``body_html`` etc.).

    lxml's HTML parser neither loads DTDs nor expands custom entities; the string is already
    bounded by the file-size cap.
    """
    if not markup or not markup.strip():
        return []
    if "<" not in markup:
        import html

        return [line for line in (squash(x) for x in html.unescape(markup).splitlines()) if line]
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    return paragraphs(root)


def xml_fragment_paragraphs(markup: str) -> list[str]:
    """Paragraphs of a NITF or XHTML document carried as a string (ninjs bodies)."""
    root = parse_xml(markup.encode("utf-8"))
    body = _body_of(root)
    return paragraphs(body)


def _body_of(root: Any) -> Any:
    """The running-text part of an XHTML or NITF document (its body.content / body)."""
    if local(root.tag) == "nitf":
        content = find(root, "body", "body.content")
        return content if content is not None else find(root, "body")
    if local(root.tag) == "html":
        body = child(root, "body")
        return body if body is not None else root
    return root
