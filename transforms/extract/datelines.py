"""Wire-story datelines: ``MINSK, November 7. /TASS/.``, ``WASHINGTON (Reuters) -``, ``(AP) —``.

A dateline tells where a story was filed, when, and by which agency; the reader does not need it
repeated at the top of the body, but the archive does need it as data. So a dateline is removed
from the body only when it was parsed completely, and whatever it says is kept in fields.

The grammar is deliberately narrow (all-caps place names, an agency in parentheses or slashes, an
English month name) because a loose one would start cutting the first words of ordinary
sentences. Every pattern is linear: no nested repetition, and the input is capped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

HEAD_CHARS = 160  # a dateline is always within the first characters of its paragraph
SEARCH_PARAGRAPHS = 3  # headline and standfirst may precede the dateline paragraph
LEAD_MAX_CHARS = 220  # paragraphs before the dateline must be headline-sized
DATELINE_SLACK_DAYS = 2  # a dateline may be dated up to this far after publication (time zones)

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
# "November 7", "Nov. 7", "7 November", optionally with a year.
_DATE = (
    rf"(?:(?P<month>{_MONTH})\.?\s(?P<day>\d{{1,2}})(?:,?\s(?P<year>\d{{4}}))?"
    rf"|(?P<day2>\d{{1,2}})\s(?P<month2>{_MONTH})\.?(?:\s(?P<year2>\d{{4}}))?)"
)
# Upper-case place words: "MINSK", "SAN FRANCISCO", "RIO DE JANEIRO", "N'DJAMENA", "ST. LOUIS".
_PLACE = r"(?P<place>[A-Z][A-Z'’.\-]{1,30}(?: [A-Z][A-Z'’.\-]{0,30}){0,3})"
# Optional region after the place in AP style: "SAN FRANCISCO, Calif. (AP)", "KYIV, Ukraine (AP)".
_REGION = r"(?:,\s(?P<region>[A-Z][A-Za-z.]{1,20}(?: [A-Z][A-Za-z.]{1,20})?))?"
_AGENCY_PAREN = r"\((?P<agency>[A-Za-z][A-Za-z\-&]{0,20}(?: [A-Z][A-Za-z\-&]{0,20}){0,2})\)"
# Without a place before it, only a capitalised credit: "(AP) —", "(CNN) —", not "(see below) —".
_AGENCY_ALONE = r"\((?P<agency>[A-Z][A-Za-z\-&]{0,20}(?: [A-Z][A-Za-z\-&]{0,20}){0,2})\)"
_AGENCY_SLASH = r"/(?P<agency_s>[A-Z][A-Za-z\-&]{0,20}(?: [A-Z][A-Za-z\-&]{0,20}){0,2})/"
_DASH = r"\s?[\-—–]{1,2}\s"

_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        # MINSK, November 7. /TASS/.
        rf"{_PLACE},\s{_DATE}\.?\s{_AGENCY_SLASH}\.?\s",
        # LONDON, Dec 17 (Reuters) -
        rf"{_PLACE}{_REGION},\s{_DATE}\s{_AGENCY_PAREN}{_DASH}",
        # WASHINGTON (Reuters) -  /  SAN FRANCISCO, Calif. (AP) —
        rf"{_PLACE}{_REGION}\s{_AGENCY_PAREN}{_DASH}",
        # (AP) —
        rf"{_AGENCY_ALONE}{_DASH}",
        # MOSCOW, Nov 7 —
        rf"{_PLACE},\s{_DATE}{_DASH}",
        # Dec 17 -
        rf"{_DATE}{_DASH}",
        # WASHINGTON —
        rf"{_PLACE}{_REGION}{_DASH}",
    )
)


@dataclass(frozen=True)
class Dateline:
    place: str | None
    date: str | None
    agency: str | None
    raw: str


def _title_place(place: str) -> str:
    """``SAN FRANCISCO`` -> ``San Francisco``; keeps ``N'Djamena``-style apostrophes sane."""
    words = []
    for word in place.split(" "):
        parts = re.split(r"([\-'’])", word)
        words.append("".join(p[:1].upper() + p[1:].lower() if p.isalpha() else p for p in parts))
    return " ".join(words)


def resolve_date(month: int, day: int, year: int | None, published: str | None) -> str | None:
    """ISO date for a dateline; the year comes from the text or from ``published``.

    A dateline rarely states the year, and it is never later than publication (give or take a
    time zone): a story published on 8 November 2020 with ``Dec 17`` was filed in December 2019,
    and one published on 2 January with ``Dec 31`` the day before yesterday. So the latest
    candidate not after publication (plus ``DATELINE_SLACK_DAYS``) wins.
    """
    if year is not None:
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            return None
    if not published or len(published) < 10:
        return None
    try:
        reference = date.fromisoformat(published[:10])
    except ValueError:
        return None
    best: date | None = None
    for candidate_year in (reference.year - 4, reference.year - 3, reference.year - 2,
                           reference.year - 1, reference.year, reference.year + 1):  # fmt: skip
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue  # 29 February in a common year, or a day the month does not have
        if (candidate - reference).days <= DATELINE_SLACK_DAYS:
            best = candidate
    return best.isoformat() if best else None


def _match_head(head: str, published: str | None) -> tuple[Dateline, int] | None:
    for pattern in _PATTERNS:
        found = pattern.match(head)
        if not found:
            continue
        groups = found.groupdict()
        place = groups.get("place")
        if place and sum(c.isalpha() for c in place) < 3:
            continue
        agency = groups.get("agency") or groups.get("agency_s")
        written = None
        iso = None
        month_name = groups.get("month") or groups.get("month2")
        if month_name:
            day = int(groups.get("day") or groups.get("day2") or 0)
            year_text = groups.get("year") or groups.get("year2")
            month = MONTHS[month_name.lower().rstrip(".")]
            if not 1 <= day <= 31:
                continue
            iso = resolve_date(month, day, int(year_text) if year_text else None, published)
            written = f"{month_name} {day}" + (f", {year_text}" if year_text else "")
        if not (place or agency or month_name):
            continue
        rest = head[found.end() :]
        if not rest or (not rest[0].isalnum() and rest[0] not in "\"“«'‘("):
            continue
        return (
            Dateline(
                place=_title_place(place) if place else None,
                date=iso or written,
                agency=agency,
                raw=found.group(0).strip(),
            ),
            found.end(),
        )
    return None


def parse_dateline(paragraph: str, published: str | None = None) -> tuple[Dateline, str] | None:
    """Parse a dateline at the start of ``paragraph``; returns it and the paragraph without it."""
    matched = _match_head(paragraph[:HEAD_CHARS], published)
    if matched is None:
        return None
    dateline, end = matched
    return dateline, paragraph[end:]


def strip_dateline(text: str, published: str | None = None) -> tuple[Dateline | None, str]:
    """Find the dateline in the first paragraphs and remove it from the body.

    Headline and standfirst lines may sit above the dateline (agency pages render them as part of
    the article); only short, headline-sized paragraphs may be skipped to reach it.
    """
    separator = "\n\n" if "\n\n" in text else "\n"
    paragraphs = text.split(separator)
    for index, paragraph in enumerate(paragraphs[:SEARCH_PARAGRAPHS]):
        parsed = parse_dateline(paragraph, published)
        if parsed is not None:
            dateline, rest = parsed
            paragraphs[index] = rest
            return dateline, separator.join(p for p in paragraphs if p.strip())
        if len(paragraph) > LEAD_MAX_CHARS:
            break
    return None, text
