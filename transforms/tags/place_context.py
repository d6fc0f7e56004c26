"""What the words around a place name say about it: part of a person's, an organisation's or an
event's name, a line in capitals, a qualifier after a comma.

Pure functions on the text, so each rule can be tested on its own sentence. The word lists that
are data (organisation and event words, state abbreviations) live in ``data/places.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable


def word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


CAPS_WINDOW = 120  # characters either side that decide whether a line is in capitals
NAME_CHAIN_WORDS = 6  # capitalised words looked at after a place for an organisation or event
LOCATIVES = word_set("in In into Into across Across throughout Throughout visit visited visiting")
FUNCTION_WORDS = word_set(
    "A An And As At But By During For From If In Into Like Near Of Off On Or Outside Over Since "
    "The Then Through To Under Unlike Until Via When Where While With Without Across After "
    "Against Before Between Beyond Inside Throughout Toward Towards Upon Within Both Neither "
    "Either Not Only Also Even Including"
)
# Capitalised at the start of a sentence, never a first name: "Meanwhile China said ...".
SENTENCE_WORDS = word_set(
    "Meanwhile Today Tonight Yesterday Tomorrow Now However Still Last Next This That These "
    "Those Every Each Some Many Most Why How What Who Which Here There Although Though Because "
    "So Yet Once Recently Currently Earlier Later Instead Indeed Overall Finally Perhaps Team "
    "Visit Visiting All Our Their His Her Its My Your We They He She It"
)
COMPASS_WORDS = word_set(
    "North South East West Northern Southern Eastern Western Central Greater Upstate Downtown "
    "Northeast Northwest Southeast Southwest Northeastern Northwestern Southeastern "
    "Southwestern Metro Metropolitan Coastal Rural Suburban Old New"
)
FOLLOWER_WORDS = word_set(
    "City County State Province Region Oblast Governorate Prefecture District Area Metro "
    "North South East West Central"
)
CHAIN_CONNECTORS = word_set("of and & for de")
_WORD = re.compile(r"[^\W\d_]+")


def is_word_char(ch: str) -> bool:
    return ch.isalnum()


def is_capitalised(word: str) -> bool:
    return bool(word) and word[0].isupper()


def is_caps(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return len(letters) > 1 and all(ch.isupper() for ch in letters)


def next_word(text: str, end: int) -> str:
    i = end
    while i < len(text) and text[i] in " \t":
        i += 1
    if i == end:
        return ""
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] in "-'’."):
        j += 1
    return text[i:j].rstrip(".")


def previous_word(text: str, start: int) -> str:
    i = start
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    if i == start:
        return ""
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] in "-'’."):
        j -= 1
    return text[j:i]


def starts_line(text: str, start: int) -> bool:
    """Datelines open a paragraph in capitals: "MINSK, November 7. /TASS/. ..."."""
    line_start = text.rfind("\n", 0, start) + 1
    return not text[line_start:start].strip()


def in_caps_line(text: str, start: int, end: int) -> bool:
    line_start = max(text.rfind("\n", 0, start) + 1, start - CAPS_WINDOW)
    line_end = text.find("\n", end)
    line_end = min(line_end if line_end >= 0 else len(text), end + CAPS_WINDOW)
    letters = [ch for ch in text[line_start:line_end] if ch.isalpha()]
    if len(letters) < 8:
        return is_caps(text[start:end])
    return sum(ch.isupper() for ch in letters) >= 0.8 * len(letters)


def _possessive(word: str) -> bool:
    return word.endswith(("'s", "’s", "s'", "s’"))


class LowerWords(Container[str]):
    """Whether a text uses a word in lower case: evidence that a capitalised one is ordinary.

    "a large china plate" makes "Centerpiece of China and Roses" a dish, and "one" in running
    text makes "One Washington-based expert" a sentence opening, not a first name. Looked up
    per word asked (a substring test first, the word-bounded search only on a hit), so a story
    pays for the few capitalised words in question, not for splitting its whole text.
    """

    def __init__(self, text: str = "") -> None:
        self._text = text
        self._known: dict[str, bool] = {}

    def __contains__(self, word: object) -> bool:
        if not self._text or not isinstance(word, str) or not word or not word[0].islower():
            return False  # (NO_WORDS, shared by every story, never fills its cache)
        known = self._known.get(word)
        if known is None:
            known = self._find(word)
            self._known[word] = known
        return known

    def _find(self, word: str) -> bool:
        text, size = self._text, len(word)
        at = text.find(word)
        while at >= 0:
            end = at + size
            if (at == 0 or not text[at - 1].isalpha()) and (
                end == len(text) or not text[end].isalpha()
            ):
                return True
            at = text.find(word, at + 1)
        return False


NO_WORDS = LowerWords()


def glued(text: str, start: int, end: int, ordinary: Container[str] = NO_WORDS) -> str:
    """Non-empty when the match is part of a longer proper name ("Austin Dillon").

    A possessive before the name ends another name ("Trump's China policy"), and words that
    open sentences ("Meanwhile China said") are not first names, nor is a word the story also
    uses in lower case (``ordinary``: "One Washington-based expert").
    """
    prev = previous_word(text, start)
    if (
        prev
        and is_capitalised(prev)
        and prev not in FUNCTION_WORDS
        and prev not in COMPASS_WORDS
        and prev not in SENTENCE_WORDS
        and prev.lower() not in ordinary
        and not prev.endswith(".")
        and not is_caps(prev)
        and not _possessive(prev)
    ):
        return "after_name"
    nxt = next_word(text, end)
    if nxt and is_capitalised(nxt) and nxt not in FOLLOWER_WORDS:
        return "before_name"
    return ""


def first_name_like(text: str, start: int, ordinary: Container[str] = NO_WORDS) -> bool:
    """Whether the capitalised word before a match can be a first name ("John Durham").

    Only then is the name a surname for the whole story; "Rakuten Madrid" or "Team China" must
    not make every later "Madrid" or "China" a person, nor may a word the story also uses in
    lower case ("One Washington-based expert").
    """
    prev = previous_word(text, start)
    return (
        bool(prev)
        and prev.replace("-", "").isalpha()
        and not _possessive(prev)
        and prev.lower() not in ordinary
    )


def short_caps_clash(text: str, start: int, end: int, key: str) -> bool:
    if len(key) > 3 or not key.isupper() or "." in key:
        return False  # "U.S." is never a pronoun, even in "U.S. FORCES LEAVE"
    for word in (next_word(text, end), previous_word(text, start)):
        if len(word) > 1 and is_caps(word) and "." not in word:
            return True
    return False


_CHAIN_WORD = re.compile(r"[ \t]+([\w'’&.-]+)")


def name_chain_after(text: str, end: int, limit: int = NAME_CHAIN_WORDS) -> list[str]:
    """The capitalised words that continue a name after ``end`` ("Polytechnic University")."""
    words: list[str] = []
    position = end
    while len(words) < limit:
        found = _CHAIN_WORD.match(text, position)
        if not found:
            break
        word = found.group(1).rstrip(".,;:")
        if not word or not (is_capitalised(word) or word in CHAIN_CONNECTORS):
            break
        words.append(word)
        if found.group(1) != word:  # punctuation closes the name
            break
        position = found.end()
    while words and words[-1] in CHAIN_CONNECTORS:
        words.pop()
    return words


def name_kind(
    text: str, start: int, end: int, organisations: frozenset[str], events: frozenset[str]
) -> str:
    """ "organisation", "event" or "" for the name a place word sits in.

    After the place: the first organisation word or event word among the capitalised words that
    follow decides ("Hong Kong Polytechnic University", "the 2019 Tokyo Motor Show"). Before it:
    an organisation word and "of" ("University of California", "Bank of America").
    """
    for word in name_chain_after(text, end):
        if word in organisations:
            return "organisation"
        if word in events:
            return "event"
    before = text[max(0, start - 40) : start].split()
    if before and before[-1] == "the":
        before.pop()
    if len(before) >= 2 and before[-1] == "of" and before[-2] in organisations:
        return "organisation"
    return ""


def qualifier_pattern(forms: Iterable[str]) -> re.Pattern[str]:
    """``Place, Abbr.``: a capitalised name, a comma and one of ``forms`` ("Buffalo, N.Y.")."""
    alternatives = "|".join(re.escape(f) for f in sorted(set(forms), key=lambda f: (-len(f), f)))
    return re.compile(
        r"(?<![\w-])(?P<place>[A-Z][\w'’-]*(?:[ \t][A-Z][\w'’-]*){0,3}),[ \t]"
        rf"(?P<qualifier>{alternatives})(?![\w])"
    )


# A dateline opening a paragraph: "WASHINGTON —", "COLUMBIA, S.C. (AP) —", "BERLIN --",
# "MINSK, November 7. /TASS/." (a qualifier and an agency credit may sit between).
_DATELINE_TAIL = re.compile(
    r"(?:,[ \t]*[A-Z][\w.]*(?:[ \t][A-Z][\w.]*)?)?[ \t]*(?:\([^()\n]{1,40}\)[ \t]*)?"
    r"(?:[—–]|--?[ \t]|/|,[ \t]*(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?[ \t])"
)


def opens_dateline(text: str, start: int, end: int) -> bool:
    """Whether a name in capitals opens a paragraph as its dateline ("WASHINGTON — NASA said").

    A dateline names where the story was filed, as plainly as "in Washington" does.
    """
    return (
        text[start:end].isupper()
        and starts_line(text, start)
        and _DATELINE_TAIL.match(text, end) is not None
    )


def language_use(
    text: str, start: int, end: int, before: frozenset[str], after: frozenset[str]
) -> bool:
    """Whether a nationality word names a language here ("texts written in Spanish").

    The labelling guidelines do not count languages as such. A word from ``before`` ("in",
    "speak") followed by nothing that the adjective could qualify ("in Spanish.", "speaks French
    and German"), or a word from ``after`` ("Spanish-language", "French speakers") makes it one;
    "in Spanish waters" stays Spain.
    """
    if end < len(text) and text[end] == "-":
        suffix = _WORD.match(text, end + 1)
        return suffix is not None and suffix.group(0).lower() in after
    following = next_word(text, end)
    if following.lower() in after:
        return True
    if following and following not in LANGUAGE_LINKS:
        return False
    # the cue, then this word or the last of a list ("speaks French, German and Dutch")
    found = _LANGUAGE_LIST.search(text, max(0, start - 80), start)
    return found is not None and found.group("cue").lower() in before


LANGUAGE_LINKS = word_set("and or to by with for on at as that is was are were but than from")
_LANGUAGE_LIST = re.compile(
    r"(?<![\w-])(?P<cue>[^\W\d_]+)[ \t]+(?:[A-Z][^\W\d_]*(?:,[ \t]*|[ \t]+(?:and|or)[ \t]+))*\Z"
)


BASED = re.compile(r"(?<![\w-])(?P<place>[A-Z][\w'’]+(?:[ \t-][A-Z][\w'’]+){0,2})-based\b")


def previous_words(text: str, end: int, limit: int) -> list[str]:
    """Up to ``limit`` capitalised words that end at ``end``, in text order ("Redmond")."""
    words: list[str] = []
    position = end
    while len(words) < limit:
        start = position
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "-'’"):
            start -= 1
        word = text[start:position]
        if not word or not is_capitalised(word) or word in FUNCTION_WORDS:
            break
        words.insert(0, word)
        position = start
        if position == 0 or text[position - 1] not in " \t":
            break
        position -= 1
    return words
