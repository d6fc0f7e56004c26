"""ExtractStories: fetched page -> clean Story (trafilatura + cleaning rules + datelines).

The work is split by concern: ``config.py`` (knobs and outcome names), ``passes.py`` (the
trafilatura calls and how their modes are combined), ``story.py`` (cleaning, datelines, the
Story or a named rejection), ``sandbox.py`` (time and memory bounds that take the work as a
parameter). This module is the Beam stage around them.

Timeouts without a process per page: a cheap pre-check (``passes.isolation_reason``: size, links,
tags) sends the rare page that could spend long inside lxml's C code to a killable child process
whose entry point imports neither Beam nor the pipeline; every other page extracts in the worker
under a watchdog that interrupts runaway Python. A worker whose pages are all ordinary never
starts a child, and nothing heavy is loaded before the first page arrives.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.core import memory
from transforms.core.records import DeadLetter, FetchedPage, Rejected, excerpt
from transforms.extract.config import (
    MODES,
    NAMESPACE,
    REASON_EXTRACT_ERROR,
    REASON_EXTRACT_TIMEOUT,
    REASON_HTML_TOO_LARGE,
    REASON_NO_TEXT,
    REASON_TOO_LONG,
    REASON_TOO_SHORT,
    STAGE,
    ExtractConfig,
)
from transforms.extract.passes import Extracted, extract_page, fit_html, isolation_reason
from transforms.extract.sandbox import (
    SandboxPool,
    SandboxTimeout,
    WatchdogTimeout,
    WorkError,
    run_with_deadline,
    shared_pool,
)
from transforms.extract.story import (
    build_story,
    choose_canonical,
    extract_story,
    extract_with_mode,
    oversized,
)

logger = logging.getLogger(__name__)

__all__ = [
    "MODES",
    "REASON_EXTRACT_ERROR",
    "REASON_EXTRACT_TIMEOUT",
    "REASON_HTML_TOO_LARGE",
    "REASON_NO_TEXT",
    "REASON_TOO_LONG",
    "REASON_TOO_SHORT",
    "STAGE",
    "ExtractConfig",
    "ExtractStories",
    "ExtractStoryFn",
    "Extracted",
    "add_arguments",
    "build_story",
    "choose_canonical",
    "config_from_options",
    "extract_page",
    "extract_story",
    "extract_with_mode",
    "fit_html",
]

DEAD_EXCERPT_CHARS = 500
#: what the child imports before it reports ready, so its first page is not charged the imports
CHILD_PRELOAD = ("trafilatura", "transforms.extract.story")


def isolated_pool(config: ExtractConfig) -> SandboxPool:
    """The worker process's pool of extraction children for this configuration."""
    return shared_pool(
        config.processes, config.timeout_seconds, config.memory_limit_mb, CHILD_PRELOAD
    )


class ExtractStoryFn(beam.DoFn):
    """Page -> Story | Rejected; parser failures and timeouts become dead letters."""

    DEAD = "dead"
    REJECTED = "rejected"

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config

    def setup(self) -> None:
        # Nothing heavy here: trafilatura and the cleaning rules load with the first page, and
        # the extraction child starts with the first risky page (most workers never need one).
        memory.return_large_blocks()  # freed pages leave the process (transforms/core/memory.py)
        self.ok = Metrics.counter(NAMESPACE, "extract_ok")
        self.dead = Metrics.counter(NAMESPACE, "extract_dead")
        self.from_summary = Metrics.counter(NAMESPACE, "extract_feed_summary")
        self.datelines = Metrics.counter(NAMESPACE, "extract_dateline")
        self.agencies = Metrics.counter(NAMESPACE, "extract_agency")
        self.text_chars = Metrics.distribution(NAMESPACE, "extract_text_chars")

    def _dead(self, page: FetchedPage, reason: str, error: str) -> DeadLetter:
        self.dead.inc()
        Metrics.counter(NAMESPACE, f"extract_dead_{reason}").inc()
        return DeadLetter(
            stage=STAGE,
            reason=reason,
            url=page.entry.url,
            error=error,
            payload=excerpt(page.html, DEAD_EXCERPT_CHARS),
            entry_id=page.entry.entry_id,
            feed_url=page.entry.feed_url,
            at=page.fetched_at,
        )

    def _extract(self, page: FetchedPage) -> tuple[Any, str]:
        config = self.config
        fitted = fit_html(page.html or "", config.max_html_chars)
        if fitted is None:
            return oversized(page, config), "none"
        if fitted is not page.html and page.html:
            page = dataclasses.replace(page, html=fitted)  # blanks collapsed: ship and parse less
        if config.timeout_seconds <= 0:
            return extract_with_mode(page, config)
        risk = isolation_reason(fitted, config)
        if risk is None:
            return run_with_deadline(config.timeout_seconds, extract_with_mode, page, config)
        Metrics.counter(NAMESPACE, f"extract_isolated_{risk}").inc()
        return isolated_pool(config).run(extract_with_mode, page, config)

    def process(self, page: FetchedPage) -> Iterator[Any]:
        url = page.final_url or page.entry.url
        try:
            result, mode = self._extract(page)
        except (SandboxTimeout, WatchdogTimeout) as err:
            logger.warning("extraction timed out for %s", url)
            detail = str(err) or f"took longer than {self.config.timeout_seconds:g}s"
            error = f"extraction {detail}"
            yield beam.pvalue.TaggedOutput(
                self.DEAD, self._dead(page, REASON_EXTRACT_TIMEOUT, error)
            )
            return
        except Exception as err:  # any parser failure on one page costs that page only
            logger.warning("extraction failed for %s: %s", url, type(err).__name__)
            error = str(err) if isinstance(err, WorkError) else f"{type(err).__name__}: {err}"
            yield beam.pvalue.TaggedOutput(self.DEAD, self._dead(page, REASON_EXTRACT_ERROR, error))
            return
        Metrics.counter(NAMESPACE, f"extract_mode_{mode}").inc()
        if isinstance(result, Rejected):
            Metrics.counter(NAMESPACE, f"extract_rejected_{result.reason}").inc()
            yield beam.pvalue.TaggedOutput(self.REJECTED, result)
            return
        for rule, count in result.cleaning_hits:
            Metrics.counter(NAMESPACE, f"cleaning_{rule}").inc(count)
        if result.text_source == "feed_summary":
            self.from_summary.inc()
        if result.dateline_place or result.dateline_date:
            self.datelines.inc()
        if result.agency:
            self.agencies.inc()
        self.ok.inc()
        self.text_chars.update(len(result.text))
        yield result


class ExtractStories(beam.PTransform):
    """FetchedPage -> {"ok": Story, "rejected": Rejected, "dead": DeadLetter}."""

    def __init__(self, config: ExtractConfig | None = None) -> None:
        super().__init__()
        self.config = config or ExtractConfig()

    def expand(self, pages: beam.PCollection) -> dict[str, beam.PCollection]:
        results = pages | "ExtractStory" >> beam.ParDo(ExtractStoryFn(self.config)).with_outputs(
            ExtractStoryFn.DEAD, ExtractStoryFn.REJECTED, main="ok"
        )
        return {
            "ok": results.ok,
            "rejected": results[ExtractStoryFn.REJECTED],
            "dead": results[ExtractStoryFn.DEAD],
        }


def parse_bool(value: str | bool) -> bool:
    """Boolean flags take a value (``--extract_tables=false``) so Flex Templates can pass them.

    The value is optional (``--extract_tables`` alone means true) because Beam turns a true
    boolean option back into a bare flag when it rebuilds options from a dictionary.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ExtractConfig()
    group = parser.add_argument_group("extraction")
    group.add_argument(
        "--min_chars",
        type=int,
        default=defaults.min_chars,
        help="Stories with fewer characters of cleaned text are rejected as too_short.",
    )
    group.add_argument(
        "--max_text_chars",
        type=int,
        default=defaults.max_chars,
        help="Stories with more characters of cleaned text (link farms, dumped tables) are "
        "rejected as too_long.",
    )
    group.add_argument(
        "--max_html_chars",
        type=int,
        default=defaults.max_html_chars,
        help="Pages whose markup is longer than this, even with runs of whitespace collapsed, "
        "are rejected as html_too_large (never cut and extracted in part).",
    )
    group.add_argument(
        "--extract_mode",
        choices=MODES,
        default=defaults.mode,
        help="trafilatura mode tried first. precision (default) falls back to standard when it "
        "keeps too little; both fall back to recall, then to the feed summary.",
    )
    group.add_argument(
        "--extract_fallback_ratio",
        type=float,
        default=defaults.fallback_ratio,
        help="With --extract_mode precision: use the standard extraction when the precise one "
        "is shorter than this share of it (0 disables the fallback).",
    )
    group.add_argument(
        "--extract_second_pass_chars",
        type=int,
        default=defaults.second_pass_below_chars,
        help="With --extract_mode precision: run the standard pass (for the fallback and gap "
        "filling) only when the precise text is shorter than this many characters; "
        "1000000000 runs it on every page.",
    )
    group.add_argument(
        "--extract_fill_gaps",
        type=parse_bool,
        nargs="?",
        const=True,
        default=defaults.fill_gaps,
        help="true/false: with --extract_mode precision, put back the prose paragraphs the "
        "standard pass keeps between two precise paragraphs (counted as cleaning hit "
        "gap_filled; default: true).",
    )
    group.add_argument(
        "--extract_useful_chars",
        type=int,
        default=defaults.useful_chars,
        help="Page text shorter than this also tries recall mode and the feed entry's summary.",
    )
    group.add_argument(
        "--extract_tables",
        type=parse_bool,
        nargs="?",
        const=True,
        default=defaults.include_tables,
        help="true/false: keep HTML tables in the story text (default: true).",
    )
    group.add_argument(
        "--extract_comments",
        type=parse_bool,
        nargs="?",
        const=True,
        default=defaults.include_comments,
        help="true/false: keep reader comments in the story text (default: false; comments "
        "are not the story).",
    )
    group.add_argument(
        "--cleaning_rules",
        default=None,
        help="Cleaning rules YAML (local or gs://) replacing the bundled "
        "transforms/data/cleaning_rules.yaml.",
    )
    group.add_argument(
        "--extract_timeout",
        type=float,
        default=defaults.timeout_seconds,
        help="Seconds one page may take to extract before it becomes an extract_timeout dead "
        "letter: very large or link-dense pages extract in a killable child process, the rest "
        "in-process under a watchdog (0: in-process, unbounded).",
    )
    group.add_argument(
        "--extract_memory_mb",
        type=int,
        default=defaults.memory_limit_mb,
        help="Address-space limit (MB) of the extraction child process that takes the very "
        "large pages; a page that needs more becomes a dead letter instead of exhausting the "
        "worker (0: no limit).",
    )
    group.add_argument(
        "--extract_processes",
        type=int,
        default=defaults.processes,
        help="Extraction child processes per worker process for the very large or link-dense "
        "pages, shared by its threads (with --extract_timeout > 0); started on first need.",
    )
    group.add_argument(
        "--clean_text",
        type=parse_bool,
        nargs="?",
        const=True,
        default=defaults.clean,
        help="true/false: apply the cleaning rules and the dateline parser (default: true); "
        "false keeps trafilatura's text as extracted.",
    )


class ExtractOptions(PipelineOptions):
    """The extraction flags, typed: ``options.view_as(ExtractOptions)``."""

    min_chars: int
    max_text_chars: int
    max_html_chars: int
    extract_mode: str
    extract_fallback_ratio: float
    extract_second_pass_chars: int
    extract_fill_gaps: bool
    extract_useful_chars: int
    extract_tables: bool
    extract_comments: bool
    cleaning_rules: str | None
    extract_timeout: float
    extract_memory_mb: int
    extract_processes: int
    clean_text: bool

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser)


def config_from_options(options: PipelineOptions) -> ExtractConfig:
    view = options.view_as(ExtractOptions)
    return ExtractConfig(
        mode=view.extract_mode,
        fallback_ratio=view.extract_fallback_ratio,
        second_pass_below_chars=view.extract_second_pass_chars,
        fill_gaps=bool(view.extract_fill_gaps),
        include_tables=bool(view.extract_tables),
        include_comments=bool(view.extract_comments),
        clean=bool(view.clean_text),
        parse_datelines=bool(view.clean_text),
        rules_path=view.cleaning_rules or None,
        useful_chars=view.extract_useful_chars,
        min_chars=view.min_chars,
        max_chars=view.max_text_chars,
        max_html_chars=view.max_html_chars,
        timeout_seconds=view.extract_timeout,
        memory_limit_mb=view.extract_memory_mb,
        processes=view.extract_processes,
    )
