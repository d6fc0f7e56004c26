"""NewsML-G2 (IPTC): a ``newsItem``, a ``newsMessage`` of items, or another G2 item kind.

Per item (``newsItem``; ``packageItem``, ``conceptItem``, ``knowledgeItem`` and ``planningItem``
carry no story text and are ``not_text``):

* ``@guid`` and ``@version`` (a positive integer; absent means 1); ``@standardversion`` must be 2.x;
* ``itemMeta``: ``itemClass@qcode`` (``ninat:text`` is text, anything else is ``not_text``),
  ``provider`` (its name, else the code of its qcode, else its literal or URI), ``pubStatus``
  (``stat:canceled``/``stat:withdrawn`` -> withdrawn, ``stat:withheld`` -> withheld),
  ``versionCreated``, ``firstCreated``;
* ``contentMeta``: ``headline``, ``description``, ``creator``/``by`` (byline), ``located``
  (the dateline place), ``dateline``, ``contentCreated``, ``language@tag`` (else ``@xml:lang``),
  ``subject@qcode`` (or its IPTC ``@uri``) kept scheme-qualified;
* ``contentSet``: the first ``inlineXML`` with NITF or XHTML, or ``inlineData`` with plain text.
  A ``remoteContent``-only item has no body here (``no_text``: we do not fetch it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from transforms.sources.wire.items import (
    BAD_ITEM,
    NO_GUID,
    NOT_TEXT,
    UNKNOWN_FORMAT,
    UNKNOWN_VERSION,
    WireItem,
    WireProblem,
    code_of,
    iso_utc,
    local_date,
    normalise_status,
    parse_version,
    qualify,
    squash,
    unique,
)
from transforms.sources.wire.markup import (
    child,
    children,
    find,
    local,
    namespace,
    paragraphs,
    text_of,
)
from transforms.sources.wire.nitf import XML_LANG, read_body

FORMAT = "newsml-g2"
NAR = "http://iptc.org/std/nar/2006-10-01/"
ITEM_KINDS = frozenset({"newsItem", "packageItem", "conceptItem", "knowledgeItem", "planningItem"})
ROOTS = ITEM_KINDS | {"newsMessage"}
TEXT_TYPES = ("nitf", "xhtml", "html", "text/plain")


def is_newsml(root: Any) -> bool:
    return local(root.tag) in ROOTS and namespace(root.tag) == NAR


def _version_problem(element: Any, index: int) -> WireProblem | None:
    standard = element.get("standard")
    if standard and standard.strip() != "NewsML-G2":
        return WireProblem(UNKNOWN_FORMAT, f"standard {standard!r} is not NewsML-G2", index)
    version = (element.get("standardversion") or "").strip()
    if version and version.split(".", 1)[0] != "2":
        return WireProblem(
            UNKNOWN_VERSION,
            f"NewsML-G2 standardversion {version!r} is not 2.x",
            index,
            squash(element.get("guid")) or None,
            FORMAT,
        )
    return None


def parse_newsml(root: Any) -> list[WireItem | WireProblem]:
    """Every item of a G2 document, in document order."""
    problem = _version_problem(root, 0)
    if problem is not None:
        return [problem]
    if local(root.tag) != "newsMessage":
        return [parse_item(root, 0)]
    item_set = child(root, "itemSet")
    items = [
        node for node in (item_set if item_set is not None else []) if local(node.tag) in ITEM_KINDS
    ]
    if not items:
        return [
            WireProblem(BAD_ITEM, "newsMessage carries no items in its itemSet", 0, None, FORMAT)
        ]
    return [parse_item(node, index) for index, node in enumerate(items)]


def _provider(item_meta: Any) -> str | None:
    node = child(item_meta, "provider")
    if node is None:
        return None
    name = text_of(child(node, "name"))
    if name:
        return name
    if node.get("qcode"):
        return code_of(node.get("qcode")) or None
    if node.get("literal"):
        return squash(node.get("literal"))
    uri = node.get("uri")
    if uri:
        host = (urlsplit(uri.strip()).hostname or "").removeprefix("www.")
        return host or None
    return None


def _located(content_meta: Any) -> str | None:
    node = child(content_meta, "located")
    if node is None:
        return None
    name = text_of(child(node, "name"))
    if name:
        return name
    code = code_of(node.get("qcode"))
    # A readable code (``city:Moscow``) names the place; an opaque one (``geo:345678``) does not.
    if code and any(ch.isalpha() for ch in code) and not any(ch.isdigit() for ch in code):
        return code
    return None


def _subjects(content_meta: Any) -> tuple[str, ...]:
    codes = []
    for node in children(content_meta, "subject"):
        if node.get("qcode"):
            codes.append(node.get("qcode").strip())
        elif node.get("uri"):
            codes.append(qualify(uri=node.get("uri")))
    return unique(codes)


def _keywords(content_meta: Any) -> tuple[str, ...]:
    """``keyword`` elements, then the subjects' names (first name of each subject)."""
    words = [text_of(k) for k in children(content_meta, "keyword")]
    for node in children(content_meta, "subject"):
        name = child(node, "name")
        if name is not None:
            words.append(text_of(name))
    return unique(words)


def _headline(content_meta: Any) -> str:
    lines = children(content_meta, "headline")
    main = [h for h in lines if (h.get("role") or "").endswith("main")] or lines
    return text_of(main[0]) if main else ""


def _description(content_meta: Any) -> str:
    nodes = children(content_meta, "description")
    summary = [d for d in nodes if "summary" in (d.get("role") or "")] or nodes
    return text_of(summary[0]) if summary else ""


def _content(content_set: Any | None) -> tuple[list[str], Any | None, str]:
    """(paragraphs, NITF root when the body is NITF, why there is no text)."""
    if content_set is None:
        return [], None, "no contentSet"
    remote_only = True
    for node in content_set:
        name = local(node.tag)
        kind = (node.get("contenttype") or "").lower()
        if name == "inlineXML":
            remote_only = False
            for sub in node:
                sub_name = local(sub.tag)
                if sub_name == "nitf":
                    body = read_body(sub)
                    return list(body.paragraphs), sub, "NITF body.content is empty"
                if sub_name == "html":
                    xhtml_body = child(sub, "body")
                    target = sub if xhtml_body is None else xhtml_body
                    return paragraphs(target), None, "XHTML body is empty"
                if isinstance(sub.tag, str):
                    return paragraphs(sub), None, f"inlineXML {sub_name} has no text"
            if kind and not any(t in kind for t in TEXT_TYPES):
                continue
        elif name == "inlineData":
            remote_only = False
            if kind and "text/plain" not in kind and "text/html" not in kind:
                continue
            text = node.text or ""
            lines = [squash(line) for line in text.splitlines()]
            return [line for line in lines if line], None, "inlineData is empty"
    if remote_only and any(local(n.tag) == "remoteContent" for n in content_set):
        return [], None, "remoteContent only (not fetched)"
    return [], None, "contentSet holds no inline text"


def parse_item(element: Any, index: int) -> WireItem | WireProblem:
    kind = local(element.tag)
    guid = squash(element.get("guid"))
    problem = _version_problem(element, index)
    if problem is not None:
        return problem
    if not guid:
        if kind != "newsItem":  # a package or concept is not a story, with or without an id
            return WireProblem(NOT_TEXT, f"{kind} (no guid)", index, None, FORMAT, rejection=True)
        return WireProblem(NO_GUID, f"{kind} without a guid", index, None, FORMAT)
    version = parse_version(element.get("version"))
    if version is None:
        return WireProblem(
            BAD_ITEM,
            f"version {element.get('version')!r} is not a positive integer",
            index,
            guid,
            FORMAT,
        )
    item_meta = child(element, "itemMeta")
    item_class_node = child(item_meta, "itemClass") if item_meta is not None else None
    qcode = (
        (item_class_node.get("qcode") or item_class_node.get("uri") or "")
        if item_class_node is not None
        else ""
    )
    if kind != "newsItem":
        item_class = "composite" if kind == "packageItem" else kind.removesuffix("Item")
    elif not qcode:
        return WireProblem(BAD_ITEM, "newsItem without itemMeta/itemClass", index, guid, FORMAT)
    else:
        item_class = qcode.strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()
    status_node = child(item_meta, "pubStatus") if item_meta is not None else None
    status = (
        (status_node.get("qcode") or status_node.get("uri")) if status_node is not None else None
    )
    content_meta = child(element, "contentMeta")
    meta = content_meta if content_meta is not None else element.makeelement("contentMeta")
    body_paragraphs, nitf, why_empty = _content(child(element, "contentSet"))
    nitf_body = read_body(nitf) if nitf is not None else None
    creators = [text_of(child(c, "name")) for c in children(meta, "creator")]
    byline = unique([text_of(b) for b in children(meta, "by")] or creators)
    if not byline and nitf_body is not None:
        byline = nitf_body.byline
    language_node = child(meta, "language")
    language = (language_node.get("tag") if language_node is not None else None) or element.get(
        XML_LANG
    )
    dateline = text_of(child(meta, "dateline")) or (nitf_body.dateline if nitf_body else None)
    content_created = child(meta, "contentCreated")
    created_text = content_created.text if content_created is not None else None
    version_created = find(element, "itemMeta", "versionCreated")
    first_created = find(element, "itemMeta", "firstCreated")
    return WireItem(
        guid=guid,
        version=version,
        source_format=FORMAT,
        item_class=item_class,
        pub_status=normalise_status(status),
        index=index,
        headline=_headline(meta) or (nitf_body.headline if nitf_body else ""),
        body="\n".join(body_paragraphs),
        description=_description(meta) or (nitf_body.abstract if nitf_body else ""),
        byline=byline,
        located=_located(meta) or (nitf_body.located if nitf_body else None),
        dateline=dateline or None,
        dateline_date=(nitf_body.dateline_date if nitf_body else None) or local_date(created_text),
        provider=_provider(item_meta) if item_meta is not None else None,
        language=squash(language) or None,
        subjects=_subjects(meta),
        keywords=_keywords(meta),
        first_created=iso_utc(first_created.text if first_created is not None else None),
        version_created=iso_utc(version_created.text if version_created is not None else None),
        content_created=iso_utc(created_text),
        no_text_detail="" if body_paragraphs else why_empty,
    )
