"""Extraction benchmark: our extraction + cleaning against plain trafilatura, same pages, one run.

    python -m benchmarks.extraction DIR [DIR ...] --json OUT [--limit N] [--cv K] [--ablation]

Each DIR is laid out like ``article-extraction-benchmark`` (``ground-truth.json`` + ``html/``),
``trafilatura-eval`` (``annotations.json`` + ``html/``, scored with trafilatura's with/without
segment metric) or ``news-html-newspaper`` (``index.json`` + ``html/`` + ``text/``); the layout is
detected from the files present. The two layouts with an article body are scored with the article
benchmark's word-4-gram shingle metric. newspaper3k's expected texts under 200 bytes are not
bodies (their PROVENANCE says so): a lead snippet the page contains counts for recall only; a
note about newspaper3k's own failure ("EXTRACTED NOTHING", "MISSED ENTIRE ARTICLE BECAUSE IT'S
LOADED DYNAMICALLY BY JAVASCRIPT") or an empty text is no reference at all, and the page is left
out (counted in ``no_reference``). Plain trafilatura is ``trafilatura.extract`` with its default
settings on the same decoded page.

Besides the scores, the run reports how often each cleaning rule fired and how many removed lines
were in fact part of the ground-truth article (the safety check: it should be zero).

``--ablation`` scores every page again with each cleaning rule (and the dateline parser) switched
off: what each rule buys in F1 and costs in recall, per set. ``--cv K`` (implies the ablation)
is the protocol that keeps rules honest: pages of every set are split into K folds fixed by a hash
of the page id; for each fold, the pass setting (fallback ratio, second-pass threshold, gap
filling) is chosen on the *other* folds (a change from ``REFERENCE`` only if it lowers F1 on no
set), then under it a rule is kept only if switching it off does not raise F1 on the other folds
of any set, and the fold is scored with the setting and rules so chosen. The out-of-fold figures
are what a held-back sample of the same sets should show; the visible figures are the full
pipeline on all pages.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks import figures_json
from benchmarks.extraction_metrics import (
    DocScore,
    SegmentCounts,
    aggregate_shingle_scores,
    score_document,
    shingles,
    tokenize,
)
from transforms.core.records import FeedEntry, FetchedPage, Story, stable_hash
from transforms.extract.cleaning import (
    AGENCY_CREDIT,
    REPEATED_PARAGRAPH,
    RULES_RESOURCE,
    SWITCHABLE_BUILTINS,
    TAG_LINE,
    TITLE_REPEAT,
    Cleaned,
)
from transforms.extract.config import SECOND_PASS_ALWAYS, ExtractConfig
from transforms.extract.passes import (
    Extracted,
    combine_passes,
    extract_page,
    fit_html,
    run_trafilatura,
)
from transforms.extract.story import build_story

logger = logging.getLogger(__name__)

LAYOUT_AEB = "article-extraction-benchmark"
LAYOUT_TE = "trafilatura-eval"
LAYOUT_NEWS = "news-html-newspaper"
SHINGLE_LAYOUTS = (LAYOUT_AEB, LAYOUT_NEWS)
BENCH_FETCHED_AT = "2026-01-01T00:00:00Z"
SHORT_TRUTH_BYTES = 200  # newspaper3k's expected texts below this are a lead snippet only
DATELINE_SWITCH = "dateline"  # the dateline parser, switched off like a cleaning rule
# Steps whose removals stay in a field (a tag line moves into ``tags``, a credit into ``agency``,
# a headline repeated atop the body is the ``title``): nothing is lost, so the safety check does
# not count them.
MOVED_TO_FIELDS = frozenset({TAG_LINE, AGENCY_CREDIT, TITLE_REPEAT})


@dataclass(frozen=True)
class Page:
    key: str
    url: str
    html: str
    truth: str = ""
    with_segments: tuple[str, ...] = ()
    without_segments: tuple[str, ...] = ()
    recall_only: bool = False  # the expected text is a snippet: precision is not measurable
    no_reference: bool = False  # the expected text is not text of the page: not scored


def detect_layout(root: Path) -> str:
    if (root / "ground-truth.json").is_file():
        return LAYOUT_AEB
    if (root / "annotations.json").is_file():
        return LAYOUT_TE
    if (root / "index.json").is_file() and (root / "text").is_dir():
        return LAYOUT_NEWS
    raise SystemExit(
        f"{root}: none of ground-truth.json (article-extraction-benchmark layout), "
        "annotations.json (trafilatura-eval layout) or index.json + text/ (news-html-newspaper "
        "layout) found; point DIR at one of those folders"
    )


def _read_html(path: Path) -> str:
    from trafilatura.utils import decode_file

    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    decoded = decode_file(raw)
    return decoded if isinstance(decoded, str) else decoded.decode("utf-8", "replace")


def _html_path(root: Path, key: str, item: dict[str, Any]) -> Path | None:
    names = [item["html"]] if item.get("html") else []
    names += [f"html/{key}.html.gz", f"html/{key}.html"]
    for name in names:
        if (root / name).is_file():
            return root / name
    return None


def load_pages(root: Path, layout: str, limit: int | None = None) -> Iterator[Page]:
    name = {LAYOUT_AEB: "ground-truth.json", LAYOUT_TE: "annotations.json"}.get(
        layout, "index.json"
    )
    meta: dict[str, dict[str, Any]] = json.loads((root / name).read_text("utf-8"))
    keys = sorted(meta)[:limit] if limit else sorted(meta)
    for key in keys:
        item = meta[key]
        path = _html_path(root, key, item)
        if path is None:
            logger.warning("no html for %s", key)
            continue
        truth = item.get("articleBody", "")
        html = _read_html(path)
        short = no_reference = False
        if layout == LAYOUT_NEWS:
            truth_path = root / (item.get("text") or f"text/{key}.txt")
            truth = truth_path.read_text("utf-8") if truth_path.is_file() else ""
            short = len(truth.encode("utf-8")) < SHORT_TRUTH_BYTES
            no_reference = short and not is_text_of(truth, html)
        yield Page(
            key=key,
            url=item.get("url") or "",
            html=html,
            truth=truth,
            with_segments=tuple(item.get("with", ())),
            without_segments=tuple(item.get("without", ())),
            recall_only=short and not no_reference,
            no_reference=no_reference,
        )


def is_text_of(snippet: str, html: str) -> bool:
    """Whether most of a short expected text occurs in the page's own text (word 4-grams)."""
    import lxml.html

    wanted = shingles(tokenize(snippet))
    if not wanted:
        return False
    try:
        page_text = lxml.html.fromstring(html).text_content()
    except (ValueError, lxml.etree.ParserError):
        return False
    have = shingles(tokenize(page_text))
    found = sum(min(count, have.get(key, 0)) for key, count in wanted.items())
    return found >= 0.5 * sum(wanted.values())


def page_record(page: Page) -> FetchedPage:
    entry = FeedEntry(
        entry_id=stable_hash("bench", page.key),
        feed_url="",
        feed_name="benchmark",
        url=page.url,
        canonical_url=page.url,
    )
    return FetchedPage(
        entry=entry,
        final_url=page.url,
        status=200,
        content_type="text/html",
        html=page.html,
        fetched_at=BENCH_FETCHED_AT,
    )


def ours(page: Page, config: ExtractConfig) -> tuple[str, Story | None, Cleaned]:
    record = page_record(page)
    extracted = extract_page(record.html, record.final_url, config, record.fetched_at)
    return finish(record, extracted, config)


def finish(
    record: FetchedPage, extracted: Extracted, config: ExtractConfig
) -> tuple[str, Story | None, Cleaned]:
    """Cleaning, datelines and the length checks on one extraction result (cheap to repeat)."""
    result, cleaned = build_story(record, extracted, config)
    if isinstance(result, Story):
        return result.text, result, cleaned
    return "", None, cleaned


def plain_trafilatura(page: Page) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url or None) or ""


# What each piece contributes, for --variants: trafilatura's own options, and our pipeline with
# parts switched off (same pages, same metric).
TRAFILATURA_VARIANTS: dict[str, dict[str, Any]] = {
    "trafilatura_no_comments": {"include_comments": False},
    "trafilatura_precision": {"include_comments": False, "favor_precision": True},
    "trafilatura_recall": {"include_comments": False, "favor_recall": True},
    "trafilatura_fast": {"include_comments": False, "fast": True},
    "trafilatura_no_tables": {"include_comments": False, "include_tables": False},
}
OUR_VARIANTS: dict[str, ExtractConfig] = {
    "ours_no_cleaning": ExtractConfig(clean=False, parse_datelines=False),
    "ours_no_mode_fallback": ExtractConfig(fallback_ratio=0.0),
    "ours_standard_mode": ExtractConfig(mode="standard"),
    "ours_second_pass_always": ExtractConfig(second_pass_below_chars=SECOND_PASS_ALWAYS),
}


def variant_text(page: Page, name: str) -> str:
    if name in TRAFILATURA_VARIANTS:
        import trafilatura

        options = TRAFILATURA_VARIANTS[name]
        return trafilatura.extract(page.html, url=page.url or None, **options) or ""
    return ours(page, OUR_VARIANTS[name])[0]


def wrongly_removed(cleaned: Cleaned, page: Page, output: str = "") -> list[tuple[str, str]]:
    """(rule, text) the cleaning removed that the ground-truth article contains (should be none).

    With an article body: text of three words or more counts when the body holds it as a word
    sequence; a repeated paragraph counts only when the body itself holds it more than once.
    With segments (trafilatura-eval): text of three words or more counts when it overlaps a
    segment the article must contain and that segment is missing from the ``output`` (a second
    copy dropped while the first stays is no loss).
    """
    wrong = []
    removed = [(rule, text) for rule, text in cleaned.removed if rule not in MOVED_TO_FIELDS]
    if page.truth:
        truth_tokens = " " + " ".join(tokenize(page.truth)) + " "
        for rule, text in removed:
            tokens = tokenize(text)
            needle = " " + " ".join(tokens) + " "
            if len(tokens) < 3:
                continue
            if truth_tokens.count(needle) >= (2 if rule == REPEATED_PARAGRAPH else 1):
                wrong.append((rule, text))
        return wrong
    missing = [
        " " + " ".join(tokenize(segment)) + " "
        for segment in page.with_segments
        if segment not in output
    ]
    for rule, text in removed:
        tokens = tokenize(text)
        if len(tokens) < 3:
            continue
        needle = " " + " ".join(tokens) + " "
        if any(
            needle in segment or (len(segment) > 12 and segment in needle) for segment in missing
        ):
            wrong.append((rule, text))
    return wrong


# ---------------------------------------------------------------- scoring


@dataclass
class PageScore:
    """One page's contribution to its set's metric, so any subset of pages can be aggregated."""

    doc: DocScore | None = None
    segments: SegmentCounts | None = None
    recall_only: bool = False


def score_page(layout: str, page: Page, text: str) -> PageScore:
    if layout in SHINGLE_LAYOUTS:
        return PageScore(doc=score_document(page.truth, text), recall_only=page.recall_only)
    counts = SegmentCounts()
    counts.add(text, page.with_segments, page.without_segments)
    return PageScore(segments=counts)


def summarise(layout: str, scores: Iterable[PageScore]) -> dict[str, float]:
    scores = list(scores)
    if layout in SHINGLE_LAYOUTS:
        docs = [s.doc for s in scores if s.doc is not None]
        return aggregate_shingle_scores(docs, [s.recall_only for s in scores if s.doc is not None])
    total = SegmentCounts()
    for score in scores:
        if score.segments is not None:
            total.tp += score.segments.tp
            total.fn += score.segments.fn
            total.fp += score.segments.fp
            total.tn += score.segments.tn
    return total.summary()


def _rounded(summary: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in summary.items()}


def fold_of(key: str, k: int) -> int:
    """The fold a page belongs to: fixed by its id, whatever else is in the run."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12], 16) % k


# ---------------------------------------------------------------- rule switches


def switch_names(config: ExtractConfig) -> list[str]:
    """Every part of cleaning that can be switched off: the rules, the built-ins, datelines."""
    document = _rules_document(config)
    names = [entry["name"] for entry in document.get("rules", [])]
    return [*names, *SWITCHABLE_BUILTINS, DATELINE_SWITCH]


def _rules_document(config: ExtractConfig) -> dict[str, Any]:
    import yaml

    if config.rules_path:
        return yaml.safe_load(Path(config.rules_path).read_text("utf-8"))
    from importlib import resources

    text = resources.files("transforms").joinpath("data").joinpath(RULES_RESOURCE)
    return yaml.safe_load(text.read_text("utf-8"))


@dataclass
class Switches:
    """Configurations with some switches off, each written once as a rule file of its own."""

    base: ExtractConfig
    folder: Path
    _configs: dict[frozenset[str], ExtractConfig] = field(default_factory=dict)

    def config(self, off: frozenset[str]) -> ExtractConfig:
        if off in self._configs:
            return self._configs[off]
        import yaml

        rules_off = sorted(off - {DATELINE_SWITCH})
        config = self.base
        if rules_off:
            document = dict(_rules_document(self.base))
            document["disabled"] = sorted({*(document.get("disabled") or ()), *rules_off})
            path = self.folder / f"rules-{len(self._configs)}.yaml"
            path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
            config = replace(config, rules_path=str(path))
        if DATELINE_SWITCH in off:
            config = replace(config, parse_datelines=False)
        self._configs[off] = config
        return config


# ---------------------------------------------------------------- one set


FALLBACK_RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# Second-pass thresholds (characters of precise text under which the standard pass runs) the
# protocol chooses among: those within the cost budget. Above 2,000 the pass runs on most pages,
# and on every page it took the marginal CPU per story from 1.24x to 1.54x the library floor
# (``benchmarks.throughput``, same run; the budget is 1.3x), for F1 out of fold within 0.001 of
# the 2,000 setting on every set. ``SECOND_PASS_ALWAYS`` stays scoreable with ``--variants``.
SECOND_PASS_CHARS = (1_000, 1_500, 2_000)


class Setting(NamedTuple):
    """How the passes are combined: fallback ratio, second-pass threshold, gap filling."""

    ratio: float
    second_pass_chars: int
    fill_gaps: bool

    @classmethod
    def of(cls, config: ExtractConfig) -> Setting:
        return cls(config.fallback_ratio, config.second_pass_below_chars, config.fill_gaps)

    def label(self) -> str:
        fill = "fill" if self.fill_gaps else "no fill"
        return f"ratio {self.ratio}, second pass under {self.second_pass_chars}, {fill}"


def settings_grid(
    ratios: Iterable[float] = FALLBACK_RATIOS,
    thresholds: Iterable[int] = SECOND_PASS_CHARS,
) -> tuple[Setting, ...]:
    return tuple(Setting(r, t, f) for f in (False, True) for t in thresholds for r in ratios)


@dataclass(frozen=True)
class Passes:
    """One page's three trafilatura passes, run once so any setting can be replayed."""

    precise: Extracted  # the first pass with its metadata, nothing combined
    standard: str = ""
    recall: str = ""


@dataclass
class SetRun:
    """Everything one set's run keeps per page, so variants are re-scored without re-extracting.

    ``passes`` holds, per page, the text of each trafilatura pass: every setting of the fallback
    ratio, second-pass threshold and gap filling combines them the way the extract stage does
    (``passes.combine_passes``), so a setting is scored without new passes.
    """

    layout: str
    pages: list[Page]
    records: list[FetchedPage]
    extracted: list[Extracted]
    ours: list[PageScore]
    plain: list[PageScore]
    passes: list[Passes] = field(default_factory=list)
    default: Setting = field(default_factory=lambda: Setting(0.3, 2_000, True))
    variants: dict[tuple[Setting, frozenset[str]], list[PageScore]] = field(default_factory=dict)
    _by_text: dict[tuple[frozenset[str], int, str], PageScore] = field(default_factory=dict)

    def extraction(self, index: int, setting: Setting) -> Extracted:
        if setting == self.default or not self.passes:
            return self.extracted[index]
        found = self.passes[index]
        config = replace(
            ExtractConfig(),
            fallback_ratio=setting.ratio,
            second_pass_below_chars=setting.second_pass_chars,
            fill_gaps=setting.fill_gaps,
        )
        text, mode, filled = combine_passes(
            found.precise.text, lambda: found.standard, lambda: found.recall, config
        )
        return replace(found.precise, text=text, mode=mode, filled=filled)

    def scores(
        self, off: frozenset[str], switches: Switches, setting: Setting | None = None
    ) -> list[PageScore]:
        if setting is None or not self.passes:  # without the passes no setting can change
            setting = self.default
        if not off and setting == self.default:
            return self.ours
        if (setting, off) not in self.variants:
            config = switches.config(off)
            scores = []
            for i, (page, record) in enumerate(zip(self.pages, self.records, strict=True)):
                extracted = self.extraction(i, setting)
                key = (off, i, f"{extracted.mode}\n{extracted.text}")
                if key not in self._by_text:
                    text = finish(record, extracted, config)[0]
                    self._by_text[key] = score_page(self.layout, page, text)
                scores.append(self._by_text[key])
            self.variants[(setting, off)] = scores
        return self.variants[(setting, off)]

    def page_scores(
        self, choice_by_page: list[tuple[Setting, frozenset[str]]], switches: Switches
    ) -> list[PageScore]:
        return [
            self.scores(off, switches, setting)[i]
            for i, (setting, off) in enumerate(choice_by_page)
        ]


def run(
    root: Path,
    limit: int | None = None,
    config: ExtractConfig | None = None,
    variants: bool = False,
    keep: list[SetRun] | None = None,
) -> dict:
    """One set: our figures and plain trafilatura's, cleaning hits, the safety check.

    With ``keep``, the per-page extraction results are appended to it for ablation and CV.
    """
    config = config or ExtractConfig()
    variant_names = [*TRAFILATURA_VARIANTS, *OUR_VARIANTS] if variants else []
    variant_scores: dict[str, list[PageScore]] = {name: [] for name in variant_names}
    layout = detect_layout(root)
    loaded = list(load_pages(root, layout, limit))
    pages = [page for page in loaded if not page.no_reference]
    timings = {"ours": 0.0, "trafilatura": 0.0}
    ours_scores: list[PageScore] = []
    plain_scores: list[PageScore] = []
    hits: Counter[str] = Counter()
    wrong: list[dict[str, str]] = []
    sources: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    records, extractions = [], []
    passes: list[Passes] = []
    for page in pages:
        record = page_record(page)
        started = time.process_time()
        extracted = extract_page(record.html, record.final_url, config, record.fetched_at)
        text, story, cleaned = finish(record, extracted, config)
        timings["ours"] += time.process_time() - started
        started = time.process_time()
        plain = plain_trafilatura(page)
        timings["trafilatura"] += time.process_time() - started
        modes[extracted.mode] += 1
        if story is not None:
            hits.update(dict(story.cleaning_hits))
            sources[story.text_source] += 1
        else:
            sources["rejected"] += 1
        for name in variant_names:
            variant_scores[name].append(score_page(layout, page, variant_text(page, name)))
        ours_scores.append(score_page(layout, page, text))
        plain_scores.append(score_page(layout, page, plain))
        for rule, line in wrongly_removed(cleaned, page, text):
            wrong.append({"page": page.key, "rule": rule, "line": line[:200]})
        if keep is not None:
            records.append(replace(record, html=""))
            extractions.append(extracted)
            passes.append(run_passes(record, config))
    if keep is not None:
        slim = [replace(page, html="") for page in pages]
        keep.append(
            SetRun(
                layout,
                slim,
                records,
                extractions,
                ours_scores,
                plain_scores,
                passes,
                Setting.of(config),
            )
        )
    n = len(pages)
    return {
        "layout": layout,
        "n": n,
        "recall_only_pages": sum(page.recall_only for page in pages),
        "no_reference": [page.key for page in loaded if page.no_reference],
        "ours": _rounded(summarise(layout, ours_scores)),
        "trafilatura": _rounded(summarise(layout, plain_scores)),
        "cpu_ms_per_page": {
            k: round(1000 * v / n, 1) if n else None for k, v in sorted(timings.items())
        },
        "modes": dict(sorted(modes.items())),
        "text_sources": dict(sorted(sources.items())),
        "cleaning_hits": dict(sorted(hits.items())),
        "wrongly_removed_lines": wrong,
        "variants": {
            name: _rounded(summarise(layout, variant_scores[name])) for name in variant_names
        },
    }


def run_passes(record: FetchedPage, config: ExtractConfig) -> Passes:
    """The first pass (with metadata) and the standard and recall texts of one page.

    The recall pass is run only when some setting could need it: when the precise or the
    standard text is under ``useful_chars`` (every combination is one of those or longer).
    """
    import trafilatura

    first = replace(config, fallback_ratio=0.0, fill_gaps=False, useful_chars=0)
    precise = extract_page(record.html, record.final_url, first, record.fetched_at)
    if config.mode != "precision":
        return Passes(precise)
    tree = trafilatura.load_html(fit_html(record.html, config.max_html_chars) or "")
    if tree is None:
        return Passes(precise)

    def text(mode: str) -> str:
        doc = run_trafilatura(tree, record.final_url, config, record.fetched_at, mode, False)
        return (getattr(doc, "text", None) or "") if doc is not None else ""

    standard = text("standard")
    short = min(len(precise.text), len(standard)) < config.useful_chars
    return Passes(precise, standard, text("recall") if short else "")


# ---------------------------------------------------------------- ablation and CV


def ablation(runs: list[SetRun], switches: Switches, names: list[str]) -> dict[str, dict]:
    """F1 and recall change per set when each switch is turned off (negative: the rule helps)."""
    table: dict[str, dict] = {}
    for name in names:
        row = {}
        for set_run in runs:
            full = summarise(set_run.layout, set_run.ours)
            without = summarise(set_run.layout, set_run.scores(frozenset({name}), switches))
            row[set_run.layout] = {
                "f1": round(without["f1"] - full["f1"], 4),
                "precision": round(without["precision"] - full["precision"], 4),
                "recall": round(without["recall"] - full["recall"], 4),
            }
        table[name] = row
    return table


def _subset(scores: list[PageScore], mask: list[bool]) -> list[PageScore]:
    return [score for score, keep in zip(scores, mask, strict=True) if keep]


def select_switches_off(
    runs: list[SetRun],
    switches: Switches,
    names: list[str],
    train: list[list[bool]],
    setting: Setting | None = None,
) -> frozenset[str]:
    """Switches to turn off, judged on the training pages: a rule stays only if it never hurts.

    With the rule, F1 must be at least as high as without it on every set's training pages. A
    rule that changes nothing anywhere (it never fires on these sets) stays: switching it off
    cannot change a figure, and the noise it targets is tested elsewhere (the seed stories).
    """
    off = set()
    for name in names:
        for set_run, mask in zip(runs, train, strict=True):
            full = summarise(
                set_run.layout, _subset(set_run.scores(frozenset(), switches, setting), mask)
            )["f1"]
            variant = set_run.scores(frozenset({name}), switches, setting)
            without = summarise(set_run.layout, _subset(variant, mask))["f1"]
            if without > full + 1e-9:
                off.add(name)
                break
    return frozenset(off)


# What a setting must not do worse than on any set: the combination in use before gap filling
# (fallback ratio 0.3 and second-pass threshold 2,000, both chosen by earlier protocol runs).
REFERENCE = Setting(0.3, 2_000, False)


def select_setting(
    runs: list[SetRun],
    switches: Switches,
    train: list[list[bool]],
    candidates: Iterable[Setting],
    reference: Setting = REFERENCE,
) -> Setting:
    """The pass combination to use, judged on the training pages: a change only if it helps.

    Among the candidates whose F1 is at least the reference's on every set, the one with the
    best mean F1 over the sets. Ties go to the reference, then to the cheaper setting: no gap
    filling, a lower second-pass threshold (fewer standard passes), a lower ratio.
    """

    def f1s(setting: Setting) -> list[float]:
        return [
            summarise(r.layout, _subset(r.scores(frozenset(), switches, setting), mask))["f1"]
            for r, mask in zip(runs, train, strict=True)
        ]

    base = f1s(reference)
    best, best_mean = reference, sum(base) / len(base) if base else 0.0
    for setting in sorted(candidates, key=lambda c: (c.fill_gaps, c.second_pass_chars, c.ratio)):
        scores = f1s(setting)
        if any(new < old - 1e-9 for new, old in zip(scores, base, strict=True)):
            continue
        mean = sum(scores) / len(scores)
        if mean > best_mean + 1e-9:
            best, best_mean = setting, mean
    return best


def cross_validate(
    runs: list[SetRun],
    switches: Switches,
    names: list[str],
    k: int,
    candidates: Iterable[Setting] | None = None,
    reference: Setting = REFERENCE,
) -> dict:
    """K-fold out-of-fold figures: each fold scored with the pass setting and the rule switches
    chosen on the other folds only (the setting first, then the rules under that setting)."""
    candidates = tuple(candidates) if candidates is not None else settings_grid()
    folds = [[fold_of(page.key, k) for page in set_run.pages] for set_run in runs]
    chosen: list[frozenset[str]] = []
    chosen_settings: list[Setting] = []
    for fold in range(k):
        train = [[f != fold for f in set_folds] for set_folds in folds]
        setting = select_setting(runs, switches, train, candidates, reference)
        chosen_settings.append(setting)
        chosen.append(select_switches_off(runs, switches, names, train, setting))
    everything = [[True] * len(set_folds) for set_folds in folds]
    per_set = {}
    for set_run, set_folds in zip(runs, folds, strict=True):
        out_of_fold = set_run.page_scores(
            [(chosen_settings[f], chosen[f]) for f in set_folds], switches
        )
        fold_figures = []
        for fold in range(k):
            mask = [f == fold for f in set_folds]
            fold_figures.append(
                {
                    "pages": sum(mask),
                    "ours": _rounded(summarise(set_run.layout, _subset(out_of_fold, mask))),
                    "trafilatura": _rounded(
                        summarise(set_run.layout, _subset(set_run.plain, mask))
                    ),
                }
            )
        per_set[set_run.layout] = {
            "n": len(set_run.pages),
            "out_of_fold": _rounded(summarise(set_run.layout, out_of_fold)),
            "visible": _rounded(summarise(set_run.layout, set_run.ours)),
            "trafilatura": _rounded(summarise(set_run.layout, set_run.plain)),
            "folds": fold_figures,
        }
    dropped = Counter(name for off in chosen for name in off)
    on_all = select_setting(runs, switches, everything, candidates, reference)
    shown = sorted({reference, *(r.default for r in runs[:1]), on_all, *chosen_settings})
    by_setting = {
        setting.label(): {
            r.layout: _rounded(summarise(r.layout, r.scores(frozenset(), switches, setting)))
            for r in runs
        }
        for setting in shown
    }
    return {
        "k": k,
        "sets": per_set,
        "reference_setting": reference.label(),
        "setting_per_fold": [setting.label() for setting in chosen_settings],
        "setting_on_all_pages": on_all.label(),
        "switched_off_on_all_pages": sorted(
            select_switches_off(runs, switches, names, everything, on_all)
        ),
        "settings": by_setting,
        "switched_off_per_fold": [sorted(off) for off in chosen],
        "switched_off_in_every_fold": sorted(n for n in names if dropped[n] == k),
        "switched_off_in_some_folds": sorted(n for n in names if 0 < dropped[n] < k),
    }


# ---------------------------------------------------------------- output


def print_table(result: dict) -> None:
    print(f"{result['layout']}: {result['n']} pages")
    print(f"{'':14}{'F1':>8}{'precision':>11}{'recall':>9}{'accuracy':>10}{'cpu ms':>9}")
    for name in ("ours", "trafilatura"):
        s = result[name]
        print(
            f"{name:14}{s['f1']:8.4f}{s['precision']:11.4f}{s['recall']:9.4f}"
            f"{s['accuracy']:10.4f}{result['cpu_ms_per_page'][name] or 0:9.1f}"
        )
    for name, s in result["variants"].items():
        print(
            f"  {name:24}{s['f1']:8.4f}{s['precision']:11.4f}{s['recall']:9.4f}"
            f"{s['accuracy']:10.4f}"
        )
    delta = {k: result["ours"][k] - result["trafilatura"][k] for k in ("f1", "precision", "recall")}
    print("ours - trafilatura: " + "  ".join(f"{k} {v:+.4f}" for k, v in delta.items()))
    print("modes: " + ", ".join(f"{k}={v}" for k, v in result["modes"].items()))
    print("cleaning hits: " + ", ".join(f"{k}={v}" for k, v in result["cleaning_hits"].items()))
    wrong = result["wrongly_removed_lines"]
    print(f"lines removed that the ground truth contains: {len(wrong)}")
    for item in wrong:
        print(f"  {item['page'][:24]} {item['rule']}: {item['line'][:100]!r}")


def print_ablation(table: dict[str, dict], layouts: list[str]) -> None:
    print("\nablation: change with the switch OFF (F1 / recall), negative = the rule helps")
    print(f"{'switch':22}" + "".join(f"{layout[:28]:>30}" for layout in layouts))
    for name, row in table.items():
        cells = "".join(
            f"{row[layout]['f1']:+15.4f}{row[layout]['recall']:+15.4f}" for layout in layouts
        )
        print(f"{name:22}{cells}")


def print_cv(cv: dict) -> None:
    print(f"\n{cv['k']}-fold cross-validation (folds fixed by page id), F1 / precision / recall")
    for layout, s in cv["sets"].items():
        for name in ("out_of_fold", "visible", "trafilatura"):
            f = s[name]
            print(
                f"  {layout[:28]:30}{name:13}{f['f1']:8.4f}{f['precision']:9.4f}{f['recall']:9.4f}"
            )
        gap = s["out_of_fold"]["f1"] - s["trafilatura"]["f1"]
        print(f"  {'':30}{'oof - traf':13}{gap:+8.4f}")
    print(f"  reference setting: {cv['reference_setting']}")
    for fold, setting in enumerate(cv["setting_per_fold"]):
        off = ", ".join(cv["switched_off_per_fold"][fold]) or "-"
        print(f"  fold {fold}: {setting}; switched off: {off}")
    print(
        f"  chosen on all visible pages: {cv['setting_on_all_pages']}; "
        f"switched off: {', '.join(cv['switched_off_on_all_pages']) or '-'}"
    )
    for label, figures in cv["settings"].items():
        cells = "  ".join(
            f"{layout[:12]} {f['f1']:.4f}/{f['recall']:.4f}" for layout, f in figures.items()
        )
        print(f"    {label}: {cells}")
    print("  switched off in every fold: " + (", ".join(cv["switched_off_in_every_fold"]) or "-"))
    print("  switched off in some folds: " + (", ".join(cv["switched_off_in_some_folds"]) or "-"))


def evaluate(
    roots: list[Path],
    limit: int | None = None,
    config: ExtractConfig | None = None,
    variants: bool = False,
    ablate: bool = False,
    cv: int = 0,
) -> dict:
    """All sets in one run; with ``ablate`` or ``cv`` also the rule switches, across sets."""
    config = config or ExtractConfig()
    runs: list[SetRun] = []
    keep = runs if ablate or cv else None
    results = {}
    for root in roots:
        result = run(root, limit, config, variants, keep)
        results[result["layout"]] = result
    out: dict[str, Any] = {"sets": results}
    if keep is None:
        return out
    with tempfile.TemporaryDirectory(prefix="rules-") as folder:
        switches = Switches(config, Path(folder))
        names = switch_names(config)
        if ablate or cv:
            out["ablation"] = ablation(runs, switches, names)
        if cv:
            out["cv"] = cross_validate(runs, switches, names, cv)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extraction", description=__doc__)
    parser.add_argument("dirs", type=Path, nargs="+", help="benchmark folders (any layout above)")
    parser.add_argument("--json", type=Path, help="write the result as JSON to this path")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also score trafilatura's options and our pipeline with parts switched off",
    )
    parser.add_argument(
        "--ablation", action="store_true", help="F1/recall with each cleaning rule switched off"
    )
    parser.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="K-fold out-of-fold figures across all sets given (implies --ablation)",
    )
    args = parser.parse_args(argv)
    if args.cv == 1 or args.cv < 0:
        parser.error("--cv needs at least 2 folds")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    out = evaluate(args.dirs, args.limit, None, args.variants, args.ablation, args.cv)
    for result in out["sets"].values():
        print_table(result)
        print()
    if "ablation" in out:
        print_ablation(out["ablation"], list(out["sets"]))
    if "cv" in out:
        print_cv(out["cv"])
    figures_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
