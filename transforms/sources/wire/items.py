"""What a wire parser hands on: one ``WireItem`` per item in a file, or a ``WireProblem``.

Parsers (``newsml.py``, ``ninjs.py``, ``nitf.py``) are plain functions of bytes: no Beam, no I/O,
no clock. Every item a file carries becomes exactly one of the two, so the stage can count each
one in the run's accounting: a file that cannot be read at all becomes one problem (index 0).

Reasons are a fixed vocabulary. Problems are dead letters (someone has to look at the file);
``NOT_TEXT``/``NO_TEXT``/``WITHDRAWN``/``WITHHELD``/``SUPERSEDED`` are decisions (rejections).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

# --- dead-letter reasons (the file or item is broken or hostile) ---------------------------
BAD_XML = "bad_xml"  # not well-formed XML (truncated, garbage)
BAD_JSON = "bad_json"  # not valid JSON (truncated, too deeply nested, huge numbers)
BAD_ENCODING = "bad_encoding"  # bytes do not match the declared (or the default) encoding
HOSTILE_XML = "hostile_xml"  # DOCTYPE / entity declarations: refused, never expanded
TOO_LARGE = "too_large"  # over --wire_max_file_bytes (or decompresses beyond it)
EMPTY_FILE = "empty_file"
UNKNOWN_FORMAT = "unknown_format"  # neither NewsML-G2, ninjs nor NITF
UNKNOWN_VERSION = "unknown_version"  # a known format in a version we do not read
BAD_ITEM = "bad_item"  # an item missing what the standard requires (itemClass, version)
NO_GUID = "no_guid"  # an item without an identifier cannot be versioned or withdrawn
READ_ERROR = "read_error"  # the file could not be read (transient: read again next run)

DEAD_REASONS = frozenset(
    {
        BAD_XML,
        BAD_JSON,
        BAD_ENCODING,
        HOSTILE_XML,
        TOO_LARGE,
        EMPTY_FILE,
        UNKNOWN_FORMAT,
        UNKNOWN_VERSION,
        BAD_ITEM,
        NO_GUID,
        READ_ERROR,
    }
)

# --- rejection reasons (decisions about a well-formed item) --------------------------------
NOT_TEXT = "not_text"  # picture, video, audio, graphic, package, concept, planning item
NO_TEXT = "no_text"  # a text item without a body (metadata only, or remote content)
WITHDRAWN = "withdrawn"  # canceled / withdrawn by the provider: take the story down
WITHHELD = "withheld"  # held back by the provider: not to be used (yet)
SUPERSEDED = "superseded"  # a later version of the same guid is kept

# pubStatus after normalisation
USABLE = "usable"
CANCELED = "canceled"
HELD = "withheld"

FORMATS = ("newsml-g2", "ninjs-1", "ninjs-2", "ninjs-3", "nitf")


@dataclass(frozen=True)
class WireItem:
    """One agency item as its provider described it; text already reduced to paragraphs."""

    guid: str
    version: int
    source_format: str  # one of FORMATS
    item_class: str  # "text", "picture", "video", "audio", "graphic", "composite", ...
    pub_status: str = USABLE  # USABLE | CANCELED | HELD
    index: int = 0  # position in its file (items of a newsMessage / a JSON array)
    headline: str = ""
    body: str = ""  # paragraphs, one per line
    description: str = ""
    byline: tuple[str, ...] = ()
    located: str | None = None  # the dateline place as the provider named it
    dateline: str | None = None  # the provider's dateline text, when given apart from the body
    dateline_date: str | None = None  # YYYY-MM-DD
    provider: str | None = None
    language: str | None = None
    subjects: tuple[str, ...] = ()  # scheme-qualified codes, provider order, no repeats
    keywords: tuple[str, ...] = ()  # the provider's keywords and its subjects' names
    first_created: str | None = None  # ISO 8601 UTC
    version_created: str | None = None
    content_created: str | None = None
    no_text_detail: str = ""  # why a text item has no body (remote content, empty inlineXML)

    @property
    def is_text(self) -> bool:
        return self.item_class == "text"


@dataclass(frozen=True)
class WireProblem:
    """A file or an item that cannot become a story, with a reason from the vocabulary."""

    reason: str
    error: str
    index: int = 0
    guid: str | None = None
    source_format: str | None = None
    excerpt: str = ""  # bounded by DeadLetter itself
    rejection: bool = False  # a decision (NOT_TEXT, ...) rather than a failure

    def __post_init__(self) -> None:
        if self.rejection:
            return
        if self.reason not in DEAD_REASONS:
            raise ValueError(f"unknown wire dead-letter reason {self.reason!r}")


# --------------------------------------------------------------------------- shared helpers

_BASIC = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def iso_utc(value: object) -> str | None:
    """ISO 8601 (extended or NITF's basic form, with or without offset) -> ``...Z`` in UTC."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    basic = _BASIC.match(text)
    if basic:
        y, mo, d, h, mi, s, zone = basic.groups()
        text = f"{y}-{mo}-{d}"
        if h:
            text += f"T{h}:{mi}:{s or '00'}"
            if zone and zone != "Z" and ":" not in zone:
                zone = zone[:3] + ":" + zone[3:]
            text += zone or ""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_date(value: object) -> str | None:
    """The calendar date as written (the dateline's own day, before any shift to UTC)."""
    if not isinstance(value, str):
        return None
    found = re.match(r"\s*(\d{4})-?(\d{2})-?(\d{2})", value)
    return "-".join(found.groups()) if found else None


def squash(text: object) -> str:
    return " ".join(str(text).split()) if text is not None else ""


def parse_version(value: object) -> int | None:
    """Item versions are positive integers (NewsML-G2 ``version``; ninjs' string ``version``)."""
    if value is None or value == "":
        return 1
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    text = str(value).strip()
    if not text.isdigit() or len(text) > 12:
        return None
    number = int(text)
    return number if number >= 1 else None


def unique(values: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        value = squash(value)
        if value and value not in out:
            out.append(value)
    return tuple(out)


# IPTC controlled vocabularies by URI -> the scheme alias of the IPTC catalog, so a subject given
# as ``http://cv.iptc.org/newscodes/mediatopic/20000763`` reads ``medtop:20000763`` like a qcode.
IPTC_SCHEMES = {
    "http://cv.iptc.org/newscodes/mediatopic/": "medtop",
    "http://cv.iptc.org/newscodes/subjectcode/": "subj",
    "http://cv.iptc.org/newscodes/genre/": "genre",
    "http://cv.iptc.org/newscodes/ninature/": "ninat",
    "http://cv.iptc.org/newscodes/pubstatusg2/": "stat",
    "http://cv.iptc.org/newscodes/productgenre/": "prodgenre",
    "http://cv.iptc.org/newscodes/scene/": "scene",
}


def qualify(uri: str | None = None, code: str | None = None, scheme: str | None = None) -> str:
    """A scheme-qualified subject code from a URI, or a (scheme URI, code) pair."""
    if scheme and code:
        uri = scheme.rstrip("/") + "/" + str(code).strip()
    if not uri:
        return squash(code) if code else ""
    uri = uri.strip()
    for prefix, alias in IPTC_SCHEMES.items():
        for variant in (prefix, prefix.replace("http://", "https://")):
            if uri.startswith(variant):
                return f"{alias}:{uri[len(variant) :].strip('/')}"
    return uri


def code_of(qcode: str | None) -> str:
    """``nprov:REUTERS`` -> ``REUTERS`` (the code after the scheme alias)."""
    if not qcode:
        return ""
    return qcode.split(":", 1)[1].strip() if ":" in qcode else qcode.strip()


def normalise_status(value: str | None) -> str:
    """NewsML-G2 / ninjs / NITF publication status -> USABLE, CANCELED or HELD."""
    if not value:
        return USABLE
    word = value.strip().lower().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if word in ("canceled", "cancelled", "withdrawn", "killed", "kill"):
        return CANCELED
    if word in ("withheld", "embargoed"):
        return HELD
    return USABLE
