"""ninjs (IPTC News in JSON) 1.x, 2.x and 3.x: one object, or an array of objects, per file.

The generation is read from ``standard.version`` (2.x, 3.x) or ``$standard.version`` (1.3+);
without one it is recognised by its property names: 3.x writes camelCase (``versionCreated``,
``pubStatus``), 2.x lower-case arrays (``headlines``, ``bodies``, ``subjects``), 1.x single
strings (``headline``, ``body_text``/``body_html``/``body_xhtml``, ``byline``, ``subject``).
A declared generation other than 1, 2 or 3 is ``unknown_version``.

Field mapping (1.x / 2.x / 3.x): ``uri`` -> guid; ``version`` -> version; ``type`` (``text``
or absent is text; anything else ``not_text``); ``pubstatus``/``pubStatus`` (``canceled`` ->
withdrawn, ``withheld`` -> withheld); ``headline``/``headlines``; ``byline``/``by``;
``located``; ``body_*``/``bodies`` (XHTML, HTML, NITF or plain text); ``description_*``/
``descriptions``; ``subject`` (``scheme`` + ``code``) / ``subjects`` (``uri``, else ``literal``);
``language``; ``infosource``/``infosources``/``infoSources`` (the provider; else
``copyrightholder``/``copyrightHolder``); ``firstcreated``/``versioncreated``/``contentcreated``
and their camelCase forms.
"""

from __future__ import annotations

import json
from typing import Any

from transforms.sources.wire.items import (
    BAD_ENCODING,
    BAD_ITEM,
    BAD_JSON,
    NO_GUID,
    TOO_LARGE,
    UNKNOWN_FORMAT,
    UNKNOWN_VERSION,
    WireItem,
    WireProblem,
    iso_utc,
    normalise_status,
    parse_version,
    qualify,
    squash,
    unique,
)
from transforms.sources.wire.markup import MarkupError, html_paragraphs, xml_fragment_paragraphs

KNOWN_MAJORS = ("1", "2", "3")
_V3_KEYS = (
    "versionCreated",
    "firstCreated",
    "contentCreated",
    "pubStatus",
    "altIds",
    "infoSources",
)
_V2_KEYS = ("headlines", "bodies", "subjects", "descriptions", "by", "infosources")
_V1_KEYS = ("headline", "body_text", "body_html", "body_xhtml", "byline", "subject", "infosource")
MAX_ITEMS = 10_000


def load_json(data: bytes) -> Any:
    """Decode (UTF-8/16/32 as RFC 8259 allows, BOM tolerated) and parse; errors are problems."""
    try:
        text = data.decode(json.detect_encoding(data))
    except (UnicodeDecodeError, LookupError) as exc:
        raise MarkupError(BAD_ENCODING, f"not UTF-8/16/32 JSON: {exc}") from exc
    try:
        return json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise MarkupError(BAD_JSON, f"invalid JSON: {exc}") from exc
    except (RecursionError, ValueError) as exc:  # absurd nesting, integers beyond the digit cap
        raise MarkupError(BAD_JSON, f"unreadable JSON: {type(exc).__name__}: {exc}") from exc


def looks_like_ninjs(value: Any) -> bool:
    if isinstance(value, list):  # an array of items; a junk element is its own problem
        return any(isinstance(v, dict) and looks_like_ninjs(v) for v in value[:MAX_ITEMS])
    if not isinstance(value, dict):
        return False
    if "uri" in value or "standard" in value or "$standard" in value:
        return True
    return any(key in value for key in (*_V3_KEYS, *_V2_KEYS, *_V1_KEYS))


def generation(item: dict[str, Any]) -> str:
    """ "1", "2", "3", or the declared major version we do not know."""
    for key in ("standard", "$standard"):
        standard = item.get(key)
        if isinstance(standard, dict) and standard.get("version") is not None:
            name = str(standard.get("name") or "ninjs").strip().lower()
            if name != "ninjs":
                return f"not ninjs ({name})"
            return str(standard["version"]).strip().split(".", 1)[0]
    if any(key in item for key in _V3_KEYS):
        return "3"
    if any(key in item for key in _V2_KEYS):
        return "2"
    return "1"


def parse_ninjs_document(value: Any) -> list[WireItem | WireProblem]:
    objects = value if isinstance(value, list) else [value]
    if not objects:
        return [WireProblem(BAD_ITEM, "empty ninjs array", 0)]
    out: list[WireItem | WireProblem] = []
    for index, item in enumerate(objects[:MAX_ITEMS]):
        out.append(parse_ninjs_item(item, index))
    for index in range(MAX_ITEMS, len(objects)):
        out.append(WireProblem(TOO_LARGE, f"array holds more than {MAX_ITEMS} items", index))
    return out


def _string(value: Any) -> str:
    return (
        squash(value)
        if isinstance(value, str | int | float) and not isinstance(value, bool)
        else ""
    )


def _first_value(entries: Any, prefer: tuple[str, ...] = ("main", "")) -> dict[str, Any] | None:
    """The entry of a headlines/bodies/descriptions array with the preferred role."""
    if not isinstance(entries, list):
        return None
    usable = [e for e in entries if isinstance(e, dict) and isinstance(e.get("value"), str)]
    for role in prefer:
        for entry in usable:
            if str(entry.get("role") or "").lower() == role:
                return entry
    return usable[0] if usable else None


def _markup_paragraphs(value: str, content_type: str) -> list[str]:
    kind = content_type.lower()
    if "nitf" in kind or (kind.endswith("xml") and "xhtml" not in kind):
        return xml_fragment_paragraphs(value)
    if "html" in kind or "xhtml" in kind:
        return html_paragraphs(value)
    if "text/plain" in kind or not kind:
        if not kind and "<" in value and ">" in value:
            return html_paragraphs(value)
        return [line for line in (squash(x) for x in value.splitlines()) if line]
    return []


def _body(item: dict[str, Any], gen: str) -> list[str]:
    if gen == "1":
        for key, kind in (("body_xhtml", "application/xhtml+xml"), ("body_html", "text/html")):
            if isinstance(item.get(key), str) and item[key].strip():
                return _markup_paragraphs(item[key], kind)
        if isinstance(item.get("body_text"), str):
            return _markup_paragraphs(item["body_text"], "text/plain")
        for key, value in sorted(item.items()):
            if key.startswith("body_") and isinstance(value, str) and value.strip():
                return _markup_paragraphs(value, "text/html")
        return []
    entry = _first_value(item.get("bodies"))
    if entry is None:
        return []
    kind = str(entry.get("contentType") or entry.get("contenttype") or "")
    return _markup_paragraphs(entry["value"], kind)


def _description(item: dict[str, Any], gen: str) -> str:
    if gen == "1":
        for key in ("description_text", "description_html", "description_usage"):
            if isinstance(item.get(key), str):
                return " ".join(
                    _markup_paragraphs(
                        item[key], "text/html" if key.endswith("html") else "text/plain"
                    )
                )
        return ""
    entry = _first_value(item.get("descriptions"), ("summary", "main", ""))
    return squash(entry["value"]) if entry else ""


def _headline(item: dict[str, Any], gen: str) -> str:
    if gen == "1":
        return _string(item.get("headline"))
    entry = _first_value(item.get("headlines"))
    return squash(entry["value"]) if entry else ""


def _subjects(item: dict[str, Any], gen: str) -> tuple[str, ...]:
    codes = []
    entries = item.get("subject" if gen == "1" else "subjects")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        if gen == "1":
            code = qualify(
                code=_string(entry.get("code")), scheme=_string(entry.get("scheme")) or None
            )
        else:
            uri = _string(entry.get("uri"))
            code = qualify(uri=uri) if uri else _string(entry.get("literal"))
        if code:
            codes.append(code)
    return unique(codes)


def _keywords(item: dict[str, Any], gen: str) -> tuple[str, ...]:
    """``keywords`` (1.x-3.x providers send them), then the subjects' names."""
    listed = item.get("keywords")
    words = [_string(k) for k in listed if _string(k)] if isinstance(listed, list) else []
    entries = item.get("subject" if gen == "1" else "subjects")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and _string(entry.get("name")):
            words.append(_string(entry["name"]))
    return unique(words)


def _provider(item: dict[str, Any]) -> str | None:
    for key in ("infosource", "infosources", "infoSources"):
        sources = item.get(key)
        if isinstance(sources, dict):
            sources = [sources]
        if not isinstance(sources, list):
            continue
        named = [s for s in sources if isinstance(s, dict) and _string(s.get("name"))]
        preferred = [s for s in named if "provider" in _string(s.get("role")).lower()] or named
        if preferred:
            return _string(preferred[0]["name"])
    for key in ("copyrightholder", "copyrightHolder"):
        if _string(item.get(key)):
            return _string(item[key])
    return None


def _get(item: dict[str, Any], gen: str, lower: str, camel: str) -> Any:
    return item.get(camel if gen == "3" else lower, item.get(lower, item.get(camel)))


def parse_ninjs_item(item: Any, index: int) -> WireItem | WireProblem:
    if not isinstance(item, dict):
        return WireProblem(UNKNOWN_FORMAT, f"array element {index} is not a ninjs object", index)
    gen = generation(item)
    if gen not in KNOWN_MAJORS:
        return WireProblem(
            UNKNOWN_VERSION,
            f"ninjs version {gen!r} is not 1.x, 2.x or 3.x",
            index,
            _string(item.get("uri")) or None,
        )
    source_format = f"ninjs-{gen}"
    guid = _string(item.get("uri"))
    if not guid:
        return WireProblem(NO_GUID, "ninjs object without uri", index, None, source_format)
    version = parse_version(item.get("version"))
    if version is None:
        return WireProblem(
            BAD_ITEM,
            f"version {item.get('version')!r} is not a positive integer",
            index,
            guid,
            source_format,
        )
    item_type = (_string(item.get("type")) or "text").lower()
    try:
        body = _body(item, gen)
    except MarkupError as exc:
        return WireProblem(exc.reason, f"body: {exc}", index, guid, source_format)
    byline = _string(item.get("byline" if gen == "1" else "by"))
    status = _get(item, gen, "pubstatus", "pubStatus")
    return WireItem(
        guid=guid,
        version=version,
        source_format=source_format,
        item_class=item_type,
        pub_status=normalise_status(status if isinstance(status, str) else None),
        index=index,
        headline=_headline(item, gen),
        body="\n".join(body),
        description=_description(item, gen),
        byline=unique([byline]) if byline else (),
        located=_string(item.get("located")) or None,
        provider=_provider(item),
        language=_string(item.get("language")) or None,
        subjects=_subjects(item, gen),
        keywords=_keywords(item, gen),
        first_created=iso_utc(_get(item, gen, "firstcreated", "firstCreated")),
        version_created=iso_utc(_get(item, gen, "versioncreated", "versionCreated")),
        content_created=iso_utc(_get(item, gen, "contentcreated", "contentCreated")),
        no_text_detail="" if body else "no body",
    )
