"""The extraction benchmark's protocol on small constructed sets: layouts, folds, rule selection.

Fast (no trafilatura run): the per-page scores are built by hand, so each rule of the protocol can
fail on its own.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from benchmarks.extraction import (
    LAYOUT_AEB,
    LAYOUT_NEWS,
    PageScore,
    SetRun,
    Switches,
    cross_validate,
    detect_layout,
    fold_of,
    load_pages,
    select_switches_off,
    summarise,
)
from benchmarks.extraction_metrics import DocScore
from transforms.extract.config import ExtractConfig


def _news_set(root: Path) -> Path:
    (root / "html").mkdir(parents=True)
    (root / "text").mkdir()
    lead = "The short lead sentence of the story is here."
    html = f"<html><body><article><p>{lead} More text.</p></article></body></html>".encode()
    names = ("site.com1", "site.com2", "site.com3")
    for name in names:
        (root / "html" / f"{name}.html.gz").write_bytes(gzip.compress(html))
    (root / "text" / "site.com1.txt").write_text(lead, "utf-8")
    (root / "text" / "site.com2.txt").write_text("A long expected body. " * 20, "utf-8")
    (root / "text" / "site.com3.txt").write_text("EXTRACTED NOTHING\n", "utf-8")
    index = {
        name: {"html": f"html/{name}.html.gz", "text": f"text/{name}.txt", "url": None}
        for name in names
    }
    (root / "index.json").write_text(json.dumps(index), "utf-8")
    return root


def test_newspaper_layout_short_texts_are_recall_only_or_no_reference(tmp_path: Path) -> None:
    root = _news_set(tmp_path / "news")
    assert detect_layout(root) == LAYOUT_NEWS
    pages = list(load_pages(root, LAYOUT_NEWS))
    assert [(p.key, p.recall_only, p.no_reference) for p in pages] == [
        ("site.com1", True, False),  # a lead snippet the page contains
        ("site.com2", False, False),  # a body
        ("site.com3", False, True),  # a note about newspaper3k's failure: not page text
    ]
    assert pages[1].truth.startswith("A long expected body.")


def test_recall_only_pages_do_not_count_for_precision() -> None:
    full = DocScore(tp=0.5, fp=0.5, fn=0.0, exact=False)  # half the prediction is extra
    snippet = DocScore(tp=0.1, fp=0.9, fn=0.0, exact=False)  # whole body vs a lead snippet
    scores = [PageScore(doc=full), PageScore(doc=snippet, recall_only=True)]
    summary = summarise(LAYOUT_NEWS, scores)
    assert summary["precision"] == 0.5
    assert summary["recall"] == 1.0


def test_folds_are_fixed_by_page_id() -> None:
    assert fold_of("reuters.com3", 5) == fold_of("reuters.com3", 5)
    folds = {fold_of(f"page-{i}", 5) for i in range(50)}
    assert folds == set(range(5))


def _run(layout: str, keys: list[str], full: list[float], off: list[float]) -> SetRun:
    """A set whose pages score ``full`` recall with every rule and ``off`` without rule "r"."""

    def doc(recall: float) -> PageScore:
        return PageScore(doc=DocScore(tp=recall, fp=0.0, fn=1.0 - recall, exact=False))

    run = SetRun(layout, [], [], [], [doc(r) for r in full], [doc(r) for r in full])
    run.pages = [type("P", (), {"key": key})() for key in keys]  # type: ignore[misc]
    run.variants[(run.default, frozenset({"r"}))] = [doc(r) for r in off]
    return run


def test_a_rule_is_switched_off_when_it_hurts_any_set(tmp_path: Path) -> None:
    switches = Switches(ExtractConfig(), tmp_path)
    keys = [f"p{i}" for i in range(10)]
    helps_one = _run(LAYOUT_AEB, keys, [0.9] * 10, [0.8] * 10)
    neutral = _run(LAYOUT_NEWS, keys, [0.9] * 10, [0.9] * 10)
    everything = [[True] * 10, [True] * 10]
    assert select_switches_off([helps_one, neutral], switches, ["r"], everything) == frozenset()
    hurts = _run(LAYOUT_NEWS, keys, [0.8] * 10, [0.9] * 10)
    assert select_switches_off([helps_one, hurts], switches, ["r"], everything) == {"r"}
    # judged on the training pages only: hurting pages outside them does not count
    first_half = [[True] * 5 + [False] * 5, [True] * 5 + [False] * 5]
    hurts_late = _run(LAYOUT_NEWS, keys, [0.9] * 5 + [0.1] * 5, [0.9] * 5 + [0.9] * 5)
    assert select_switches_off([helps_one, hurts_late], switches, ["r"], first_half) == set()


def test_out_of_fold_figures_use_rules_chosen_without_the_fold(tmp_path: Path) -> None:
    switches = Switches(ExtractConfig(), tmp_path)
    keys = [f"p{i}" for i in range(40)]
    # the rule helps every page of one set: it is kept in every fold, out-of-fold == visible
    helps = _run(LAYOUT_AEB, keys, [0.9] * 40, [0.7] * 40)
    result = cross_validate([helps], switches, ["r"], 4)
    figures = result["sets"][LAYOUT_AEB]
    assert figures["out_of_fold"] == figures["visible"]
    assert result["switched_off_in_every_fold"] == []
    assert sum(fold["pages"] for fold in figures["folds"]) == 40


def _setting_run(truth: str, precise_text: str, standard_text: str) -> SetRun:
    """Four pages whose passes are given: the precise text and the standard one."""
    from benchmarks.extraction import Page, Passes, Setting, page_record, score_page
    from transforms.extract.passes import Extracted

    pages = [
        Page(key=f"p{i}", url=f"https://example.org/{i}", html="", truth=truth) for i in range(4)
    ]
    precise = Extracted(text=precise_text, mode="precision")
    ours = [score_page(LAYOUT_AEB, p, precise_text) for p in pages]
    return SetRun(
        LAYOUT_AEB,
        pages,
        [page_record(p) for p in pages],
        [precise] * 4,
        ours,
        ours,
        [Passes(precise, standard_text)] * 4,
        Setting(0.5, 2_000, False),
    )


def test_a_setting_is_chosen_only_when_it_helps_every_set(tmp_path: Path) -> None:
    from benchmarks.extraction import Setting, select_setting

    words = [f"word{i}" for i in range(200)]
    body = " ".join(words)
    precise_text = " ".join(words[:130])  # 65% of the standard text: kept at ratio 0.5
    run = _setting_run(body, precise_text, body)
    switches = Switches(ExtractConfig(), tmp_path)
    everything = [[True] * 4]
    grid = [Setting(r, t, False) for r in (0.3, 0.5, 0.7, 0.9) for t in (500, 2_000)]
    # from 0.7 on the standard text is taken, and it is the whole body: the lowest such ratio,
    # with the second pass running (the precise text is 900 characters long)
    assert select_setting([run], switches, everything, grid, run.default) == Setting(
        0.7, 2_000, False
    )
    # a set where the standard text is worse vetoes the change
    worse = _setting_run(precise_text, precise_text, precise_text + " noise" * 80)
    assert select_setting([run, worse], switches, everything * 2, grid, run.default) == Setting(
        0.5, 2_000, False
    )


def test_gap_filling_is_chosen_on_the_training_pages(tmp_path: Path) -> None:
    from benchmarks.extraction import Setting, select_setting

    paragraphs = [" ".join(f"p{j}w{i}" for i in range(30)) + "." for j in range(5)]
    body = "\n".join(paragraphs)
    precise_text = "\n".join(paragraphs[:2] + paragraphs[3:])  # the middle one dropped
    run = _setting_run(body, precise_text, body)
    switches = Switches(ExtractConfig(), tmp_path)
    grid = [Setting(0.5, 2_000, fill) for fill in (False, True)]
    assert select_setting([run], switches, [[True] * 4], grid, run.default) == Setting(
        0.5, 2_000, True
    )
    # where the reference leaves the middle paragraph out, filling it in costs precision
    noisy = _setting_run(precise_text, precise_text, body)
    assert select_setting([run, noisy], switches, [[True] * 4] * 2, grid, run.default) == Setting(
        0.5, 2_000, False
    )
