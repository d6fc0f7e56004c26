"""Word tests around a place name, each on its own sentence."""

from __future__ import annotations

from transforms.tags import place_context as ctx

LANGUAGE_BEFORE = ctx.word_set("in speaks")
LANGUAGE_AFTER = ctx.word_set("language speakers words")


def test_lower_words_are_whole_words_in_lower_case() -> None:
    words = ctx.LowerWords("Use a china plate; someone's phone.")
    assert "china" in words and "one" not in words  # "someone", "phone" are not "one"
    assert "China" not in words and "" not in words
    assert "plate" in words and "use" not in words  # only as written in lower case
    assert "china" not in ctx.NO_WORDS


def test_language_use_needs_a_cue_and_nothing_to_qualify() -> None:
    def use(text: str, word: str) -> bool:
        start = text.index(word)
        return ctx.language_use(text, start, start + len(word), LANGUAGE_BEFORE, LANGUAGE_AFTER)

    assert use("Texts written in Spanish, deleted.", "Spanish")
    assert use("She speaks French and German.", "German")
    assert use("A Spanish-language station.", "Spanish")
    assert use("The Spanish words for it.", "Spanish")
    assert not use("Boats in Spanish waters.", "Spanish")
    assert not use("Spanish officials spoke.", "Spanish")


def test_opens_dateline() -> None:
    for text in ("WASHINGTON — NASA said.", "COLUMBIA, S.C. (AP) — Voters", "BERLIN -- Talks"):
        name = text.split(",")[0].split(" ")[0]
        assert ctx.opens_dateline(text, 0, len(name)), text
    assert not ctx.opens_dateline("WASHINGTON STATE WINS", 0, 10)
    assert not ctx.opens_dateline("Intro, then WASHINGTON — NASA", 12, 22)
