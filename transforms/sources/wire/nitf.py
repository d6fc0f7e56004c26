"""NITF (News Industry Text Format, IPTC): standalone documents and NITF bodies inside NewsML-G2.

What we read (NITF 3.x, and 2.5 which has the same structure):

* ``head/docdata``: ``doc-id@id-string`` (the guid; ``du-key@key`` when there is none),
  ``du-key@version``, ``date.issue@norm``/``date.release@norm``, ``doc.copyright@holder``,
  ``@management-status`` (``canceled`` is a withdrawal, ``withheld``/``embargoed`` hold it back);
  ``head/tobject/tobject.subject@tobject.subject.refnum`` (IPTC subject codes, ``subj:``);
* ``body/body.head``: ``hedline/hl1``, ``byline`` (the person, without ``byttl``),
  ``distributor``, ``dateline`` (``location`` and ``story.date@norm``), ``abstract``;
* ``body/body.content``: the running text, one paragraph per innermost block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from transforms.sources.wire.items import (
    BAD_ITEM,
    NO_GUID,
    UNKNOWN_VERSION,
    WireItem,
    WireProblem,
    iso_utc,
    local_date,
    normalise_status,
    parse_version,
    squash,
    unique,
)
from transforms.sources.wire.markup import child, children, find, local, paragraphs, text_of

FORMAT = "nitf"
_VERSION = re.compile(r"NITF\s+(\d+)\.(\d+)", re.IGNORECASE)
KNOWN_MAJORS = ("2", "3")
_BY = re.compile(r"^\s*(?:by|von|par|por|di|door|av|af)\s+", re.IGNORECASE)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class NitfBody:
    """What a NITF body says about its story (used standalone and inside NewsML-G2)."""

    headline: str = ""
    byline: tuple[str, ...] = ()
    distributor: str = ""
    located: str | None = None
    dateline: str | None = None
    dateline_date: str | None = None
    abstract: str = ""
    paragraphs: tuple[str, ...] = ()


def byline_names(element: Any | None) -> tuple[str, ...]:
    """``<byline>By Meredith Jameson, <byttl>Staff Reporter</byttl></byline>`` -> the person."""
    if element is None:
        return ()
    people = [text_of(p) for p in element.iter() if local(p.tag) == "person"]
    if people:
        return unique(people)
    text = text_of(element, frozenset({"byttl", "virtloc", "location"}))
    text = _BY.sub("", text).strip(" ,;:-")
    return unique([text]) if text else ()


def read_body(nitf: Any) -> NitfBody:
    body = child(nitf, "body")
    if body is None:
        return NitfBody()
    head = child(body, "body.head")
    headline = text_of(find(head, "hedline", "hl1")) if head is not None else ""
    byline: tuple[str, ...] = ()
    located = dateline_text = dateline_date = None
    distributor = abstract = ""
    if head is not None:
        for node in children(head, "byline"):
            byline = unique([*byline, *byline_names(node)])
        distributor = text_of(child(head, "distributor"))
        abstract = " ".join(paragraphs(child(head, "abstract")))
        dateline = child(head, "dateline")
        if dateline is not None:
            dateline_text = text_of(dateline) or None
            location = child(dateline, "location")
            city = find(location, "city") if location is not None else None
            located = (text_of(city) or text_of(location)) if location is not None else None
            story_date = child(dateline, "story.date")
            if story_date is not None:
                dateline_date = local_date(story_date.get("norm") or text_of(story_date))
    content = child(body, "body.content")
    return NitfBody(
        headline=headline,
        byline=byline,
        distributor=distributor,
        located=located or None,
        dateline=dateline_text,
        dateline_date=dateline_date,
        abstract=abstract,
        paragraphs=tuple(paragraphs(content)),
    )


def parse_nitf(root: Any) -> list[WireItem | WireProblem]:
    """A standalone NITF document: one item."""
    version = root.get("version") or ""
    found = _VERSION.search(version)
    if version and (found is None or found.group(1) not in KNOWN_MAJORS):
        return [WireProblem(UNKNOWN_VERSION, f"NITF version {version!r} is not 2.x or 3.x")]
    head = child(root, "head")
    docdata = child(head, "docdata") if head is not None else None
    guid = ""
    item_version: int | None = 1
    status = None
    published = provider = None
    subjects: list[str] = []
    if docdata is not None:
        doc_id = child(docdata, "doc-id")
        du_key = child(docdata, "du-key")
        guid = squash(doc_id.get("id-string")) if doc_id is not None else ""
        if du_key is not None:
            guid = guid or squash(du_key.get("key"))
            item_version = parse_version(du_key.get("version"))
        status = docdata.get("management-status")
        for name in ("date.issue", "date.release"):
            node = child(docdata, name)
            if node is not None and published is None:
                published = iso_utc(node.get("norm"))
        copyright_ = child(docdata, "doc.copyright")
        if copyright_ is not None:
            provider = squash(copyright_.get("holder")) or None
    if head is not None:
        for node in head.iter():
            if local(node.tag) == "tobject.subject":
                ref = squash(node.get("tobject.subject.refnum"))
                if ref:
                    subjects.append(f"subj:{ref}")
    if not guid:
        return [WireProblem(NO_GUID, "NITF document has no docdata/doc-id or du-key", 0)]
    if item_version is None:
        return [WireProblem(BAD_ITEM, "du-key version is not a positive integer", 0, guid)]
    body = read_body(root)
    title = text_of(find(head, "title")) if head is not None else ""
    body_element = child(root, "body")
    language = root.get(XML_LANG) or (
        body_element.get(XML_LANG) if body_element is not None else None
    )
    return [
        WireItem(
            guid=guid,
            version=item_version,
            source_format=FORMAT,
            item_class="text",
            pub_status=normalise_status(status),
            headline=body.headline or title,
            body="\n".join(body.paragraphs),
            description=body.abstract,
            byline=body.byline,
            located=body.located,
            dateline=body.dateline,
            dateline_date=body.dateline_date,
            provider=provider or body.distributor or None,
            language=squash(language) or None,
            subjects=unique(subjects),
            first_created=published,
            version_created=published,
            content_created=published,
            no_text_detail="" if body.paragraphs else "NITF body.content is empty",
        )
    ]
