"""Builders of wire files for the tests: real bytes in the shape the IPTC specifications give."""

from __future__ import annotations

import html
import json
from pathlib import Path

ITEMS = Path(__file__).parent / "items"

BODY = [
    "ROTTERDAM, May 2 (EXN) - Dock workers at the port of Rotterdam ended a two-day strike on "
    "Thursday after unions and employers agreed on a new wage deal, both sides said.",
    "The agreement raises wages by five percent this year and another three percent next year, "
    "and adds two days of paid leave for night shifts.",
    "Container traffic, which had backed up along the coast, is expected to be back to normal "
    "by the weekend, the port authority said in a statement.",
]


def g2_item(
    guid: str = "urn:newsml:example.net:20240502:rotterdam-strike",
    version: int | str = 1,
    status: str = "stat:usable",
    item_class: str = "ninat:text",
    body: list[str] | None = None,
    headline: str = "Rotterdam dock strike ends with wage deal",
    created: str = "2024-05-02T11:00:00+02:00",
    version_created: str | None = None,
    standardversion: str = "2.35",
    xhtml: bool = False,
) -> str:
    """A NewsML-G2 newsItem with NITF (or XHTML) inline text, as a string (no XML prolog)."""
    paras = BODY if body is None else body
    ps = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
    if xhtml:
        content = (
            '<inlineXML contenttype="application/xhtml+xml">'
            f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head>'
            f"<body>{ps}</body></html></inlineXML>"
        )
    else:
        content = (
            '<inlineXML contenttype="application/nitf+xml">'
            '<nitf xmlns="http://iptc.org/std/NITF/2006-10-18/"><body><body.head><hedline>'
            f"<hl1>{html.escape(headline)}</hl1></hedline></body.head>"
            f"<body.content>{ps}</body.content></body></nitf></inlineXML>"
        )
    return f"""<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="{guid}"
 version="{version}" standard="NewsML-G2" standardversion="{standardversion}" xml:lang="en">
 <itemMeta>
  <itemClass qcode="{item_class}"/>
  <provider qcode="nprov:EXN"><name>Example News</name></provider>
  <versionCreated>{version_created or created}</versionCreated>
  <firstCreated>{created}</firstCreated>
  <pubStatus qcode="{status}"/>
 </itemMeta>
 <contentMeta>
  <contentCreated>{created}</contentCreated>
  <located qcode="city:Rotterdam"><name>Rotterdam</name></located>
  <creator><name>Pieter de Vries</name></creator>
  <language tag="en"/>
  <subject qcode="medtop:20000763"><name>labour dispute</name></subject>
  <subject uri="http://cv.iptc.org/newscodes/mediatopic/09000000"/>
  <headline>{html.escape(headline)}</headline>
 </contentMeta>
 <contentSet>{content}</contentSet>
</newsItem>"""


def g2_file(**kwargs) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + g2_item(**kwargs)).encode("utf-8")


def g2_message(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<newsMessage xmlns="http://iptc.org/std/nar/2006-10-01/">'
        "<header><sent>2024-05-02T12:00:00Z</sent></header>"
        f"<itemSet>{''.join(items)}</itemSet></newsMessage>"
    ).encode()


def ninjs_file(**fields) -> bytes:
    item = {
        "standard": {"name": "ninjs", "version": "2.0"},
        "uri": "urn:newsml:example.net:20240502:rotterdam-strike",
        "type": "text",
        "version": "1",
        "versioncreated": "2024-05-02T09:00:00Z",
        "headlines": [{"role": "main", "value": "Rotterdam dock strike ends with wage deal"}],
        "bodies": [{"contenttype": "text/plain", "value": "\n".join(BODY)}],
        "language": "en",
    }
    item.update(fields)
    return json.dumps(item, ensure_ascii=False).encode("utf-8")
