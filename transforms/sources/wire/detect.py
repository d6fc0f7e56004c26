"""One wire file's bytes -> its items: the format is read from the content, never the file name.

``parse_wire_file`` is the whole parsing library's entry point (no Beam, no I/O): gzip is
undone (capped), the first significant character says JSON or XML (byte-order marks and
UTF-16/32 honoured), the XML root element or the JSON object's properties say which standard:

* ``newsItem``/``newsMessage``/other G2 items in the NAR namespace -> ``newsml.py``;
* ``nitf`` -> ``nitf.py``;
* a JSON object (or array of objects) with ninjs properties -> ``ninjs.py``;
* anything else -> one ``unknown_format`` problem.

It never raises for bad input: every failure is a ``WireProblem`` with a reason, so one hostile
file costs one dead letter, not a crashed bundle.
"""

from __future__ import annotations

import zlib

from transforms.sources.wire.items import (
    EMPTY_FILE,
    TOO_LARGE,
    UNKNOWN_FORMAT,
    WireItem,
    WireProblem,
)
from transforms.sources.wire.markup import MarkupError, local, parse_xml
from transforms.sources.wire.newsml import ROOTS, is_newsml, parse_newsml
from transforms.sources.wire.ninjs import load_json, looks_like_ninjs, parse_ninjs_document
from transforms.sources.wire.nitf import parse_nitf

MAX_FILE_BYTES = 10 * 1024 * 1024

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


def gunzip(data: bytes, limit: int) -> bytes:
    """Undo gzip (agencies and buckets gzip large drops), refusing to inflate past ``limit``."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise MarkupError(UNKNOWN_FORMAT, f"corrupt gzip: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise MarkupError(TOO_LARGE, f"decompresses beyond {limit} bytes")
    if not inflater.eof:
        raise MarkupError(UNKNOWN_FORMAT, "truncated gzip")
    return out


def first_char(data: bytes) -> str:
    """The first non-space character, decoded as the BOM (or NUL pattern) says."""
    head = data[:256]
    encoding = "utf-8"
    for bom, name in _BOMS:
        if head.startswith(bom):
            head, encoding = head[len(bom) :], name
            break
    else:
        if head[:4].count(0) == 3:
            encoding = "utf-32-be" if head[0] == 0 else "utf-32-le"
        elif len(head) > 1 and head[0] == 0:
            encoding = "utf-16-be"
        elif len(head) > 1 and head[1] == 0:
            encoding = "utf-16-le"
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")
    return text[:1]


def detect(data: bytes) -> str:
    """``json``, ``xml`` or ``unknown`` from the content's first significant character."""
    char = first_char(data)
    if char in ("{", "["):
        return "json"
    if char == "<":
        return "xml"
    return "unknown"


def parse_wire_file(data: bytes, max_bytes: int = MAX_FILE_BYTES) -> list[WireItem | WireProblem]:
    """Every item of one wire file, each a ``WireItem`` or a ``WireProblem``."""
    try:
        if len(data) > max_bytes:
            raise MarkupError(TOO_LARGE, f"file is larger than {max_bytes} bytes")
        data = gunzip(data, max_bytes)
        if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
            return [WireProblem(EMPTY_FILE, "empty file")]
        kind = detect(data)
        if kind == "json":
            value = load_json(data)
            if not looks_like_ninjs(value):
                return [WireProblem(UNKNOWN_FORMAT, "JSON but not ninjs (no uri or ninjs fields)")]
            return parse_ninjs_document(value)
        if kind == "xml":
            root = parse_xml(data)
            name = local(root.tag)
            if is_newsml(root):
                return parse_newsml(root)
            if name == "nitf":
                return parse_nitf(root)
            hint = " (a NewsML-G2 name outside the NewsML-G2 namespace)" if name in ROOTS else ""
            return [WireProblem(UNKNOWN_FORMAT, f"XML root <{name}> is not a wire item{hint}")]
        return [WireProblem(UNKNOWN_FORMAT, "neither XML nor JSON")]
    except MarkupError as exc:
        return [WireProblem(exc.reason, str(exc), excerpt=data[:2000].decode("utf-8", "replace"))]
