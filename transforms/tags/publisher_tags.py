"""Publisher tags and categories: normalised, de-duplicated, in first-seen order.

``Story.tags`` arrives with the raw tags the earlier stages collected (page ``<meta>`` keywords
and article:tag, feed ``<category>`` elements, feed-level tags). Sites also print a tag line
after the article ("Tikhanovskaya, Belarus, Russia, Lukashenko" or "Tags: Belarus | Russia");
``trailing_tag_line`` finds it so its tags join the others.

Normal form: Unicode NFKC, whitespace collapsed, surrounding punctuation and a leading "#"
removed, lower-cased (so "Belarus", "BELARUS " and "#belarus" are one tag). Raw values holding
several tags ("a, b; c") are split. Tags longer than ``MAX_TAG_CHARS`` are sentences rather than
tags and are dropped; at most ``MAX_TAGS`` are kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_TAG_CHARS = 60
MAX_TAGS = 30
MAX_TAG_WORDS = 5
_SPLIT = re.compile(r"\s*[,;|•·]\s*")
_LABEL = re.compile(
    r"^(?:tags?|topics?|keywords?|categories|category|filed under|related)\s*:\s*", re.IGNORECASE
)
_STRIP = " \t\r\n\"'“”‘’«»()[]{}.,;:!?#*-–—/\\"


def normalise_tag(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw)
    text = " ".join(text.split()).strip(_STRIP)
    return text.casefold()


def normalise_tags(raw_tags: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for raw in raw_tags:
        if not raw:
            continue
        for piece in _SPLIT.split(_LABEL.sub("", str(raw).strip())):
            tag = normalise_tag(piece)
            if tag and len(tag) <= MAX_TAG_CHARS and tag not in seen:
                seen[tag] = None
            if len(seen) >= MAX_TAGS:
                return tuple(seen)
    return tuple(seen)


def _looks_like_tag(item: str, labelled: bool) -> bool:
    words = item.split()
    if not words or len(words) > MAX_TAG_WORDS or len(item) > MAX_TAG_CHARS:
        return False
    if labelled:
        return True
    first = item.lstrip("#")
    return bool(first) and (first[0].isupper() or first[0].isdigit() or item.startswith("#"))


def trailing_tag_line(text: str) -> tuple[str, ...]:
    """Tags from a publisher tag line ending the text, or () when the last line is prose.

    A tag line is the last non-empty line, either labelled ("Tags: a, b") or an unlabelled list
    of at least three comma/pipe/bullet separated items, each a short capitalised phrase, with
    no sentence punctuation. Prose ("Moscow, Minsk and Kyiv agreed.") fails these tests.
    """
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return ()
    line = lines[-1]
    labelled = bool(_LABEL.match(line))
    body = _LABEL.sub("", line)
    items = [item.strip() for item in _SPLIT.split(body) if item.strip()]
    if not items:
        return ()
    if not labelled:
        if len(items) < 3 or len(lines) < 2 or re.search(r"[.!?:\"“”]$|[!?;:\"“”]", body):
            return ()
        if any(word in {"and", "or", "the", "of"} for word in items[-1].split()[:1]):
            return ()
    if not all(_looks_like_tag(item, labelled) for item in items):
        return ()
    return normalise_tags(items)
