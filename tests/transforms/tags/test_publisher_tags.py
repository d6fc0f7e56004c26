"""Publisher tags: normal form and trailing tag lines."""

from __future__ import annotations

from transforms.tags.publisher_tags import normalise_tags, trailing_tag_line


def test_case_whitespace_hash_and_duplicates() -> None:
    raw = ["Belarus", " BELARUS ", "#belarus", "  Foreign   Policy ", "foreign policy", ""]
    assert normalise_tags(raw) == ("belarus", "foreign policy")


def test_multi_valued_and_labelled_raw_tags_are_split() -> None:
    assert normalise_tags(["Politics; World", "Tags: A | B"]) == ("politics", "world", "a", "b")


def test_overlong_tags_are_dropped_and_order_kept() -> None:
    assert normalise_tags(["zeta", "x" * 80, "alpha"]) == ("zeta", "alpha")


def test_unlabelled_tag_line() -> None:
    text = "The story ends here.\n\n  Tikhanovskaya, Belarus, Russia, Lukashenko"
    assert trailing_tag_line(text) == ("tikhanovskaya", "belarus", "russia", "lukashenko")


def test_labelled_tag_line() -> None:
    assert trailing_tag_line("Body.\nTags: belarus | russia") == ("belarus", "russia")


def test_prose_is_not_a_tag_line() -> None:
    assert trailing_tag_line("Body.\nMoscow, Minsk and Kyiv agreed.") == ()
    assert trailing_tag_line("Body.\nHe said: yes, no, maybe") == ()
    assert trailing_tag_line("Only, one, line") == ()
    assert trailing_tag_line("Body.\nleft, right, centre") == ()
