"""The trafilatura calls: one page's markup -> main text and metadata (``Extracted``).

Measured on the shared benchmarks (``python -m benchmarks.extraction``), trafilatura's precision
mode with comments off beats its defaults on both corpora, but on a few pages it cuts most of the
article. So we extract in precision mode and, when that kept less than ``fallback_ratio`` of what
the standard mode finds, take the standard result instead; when both find too little we also try
recall mode. Precision mode also drops single paragraphs in the middle of an article (a
paragraph next to an inline link box, a quote set apart): with ``fill_gaps`` the paragraphs the
standard pass keeps *between* two paragraphs precision kept are put back, when they are prose
(end like a sentence). Headings, link lists and captions in those gaps stay out, and nothing is
added before the first or after the last precise paragraph, where page furniture sits. The
standard pass runs only when the precise text is shorter than ``second_pass_below_chars``.

trafilatura is imported lazily so the DoFn pickles small. Its own ``deduplicate`` option is never
used: it keeps a process-wide cache, so the text it returns depends on what the worker happened to
see before (non-deterministic and destructive); de-duplication is a stage of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transforms.extract.config import ExtractConfig

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WHITESPACE_RUN = re.compile(r"\s{2,}")
# How a paragraph of prose ends (closing quotes and brackets after the stop included).
_PROSE_END = re.compile(r"[.!?…。！？:;][\"'”’»)\]]*$")
# A gap line shorter than this many words is a widget label ("Read more...", "Rated!"), not prose.
GAP_MIN_WORDS = 5


@dataclass(frozen=True)
class Extracted:
    """trafilatura's result reduced to plain, picklable values."""

    text: str
    title: str = ""
    authors: tuple[str, ...] = ()
    date: str | None = None
    sitename: str = ""
    description: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    canonical_url: str | None = None
    hostname: str = ""
    mode: str = "precision"
    filled: int = 0  # paragraphs put back from the standard pass inside the precise text


def fit_html(html: str, max_chars: int) -> str | None:
    """The markup to parse, or None when even its collapsed form exceeds ``max_chars``.

    Padding (megabytes of blanks before the article, as some broken templates and hostile servers
    send) must not push the article past the cap, so an oversized page first has each run of
    whitespace collapsed to one character (a newline when the run held one). Pages within the cap
    are left byte for byte as they came, so the extraction of ordinary pages cannot change. What
    still exceeds the cap is returned as None: the caller rejects it by name rather than cutting
    the markup, because a cut page extracts to the wrong text or to none at all.
    """
    if len(html) <= max_chars:
        return html
    collapsed = _WHITESPACE_RUN.sub(lambda m: "\n" if "\n" in m.group() else " ", html)
    return collapsed if len(collapsed) <= max_chars else None


def isolation_reason(html: str, config: ExtractConfig) -> str | None:
    """Why this page should extract in a killable child (None: in-process under the watchdog).

    Counting substrings costs well under a millisecond on a typical page, against tens of
    milliseconds for extraction, so every page can be checked.
    """
    if len(html) > config.isolate_html_chars:
        return "size"
    if html.count("<a ") + html.count("<A ") > config.isolate_links:
        return "links"
    if html.count("<") > config.isolate_tags:
        return "tags"
    return None


def split_list(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    items = value if isinstance(value, list | tuple) else re.split(r";|,(?=\s)", str(value))
    out: list[str] = []
    for item in items:
        text = " ".join(str(item).split())
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _date_params(fetched_at: str, extensive: bool = True) -> dict[str, Any]:
    """htmldate's defaults with the fetch date instead of today's, so replays give equal output.

    ``extensive`` is htmldate's extensive search (free-text dates parsed with dateparser). It is
    asked for only when the page's date is needed: on the 412 evaluation pages it costs 3.6 ms
    of CPU per page against 1.8 ms without (up to 126 ms on one page), and dateparser's first use
    costs a worker about 2 s of CPU; the date it finds differs on 32 of those pages (30 where
    only the extensive search finds one, 2 by a day).
    """
    params: dict[str, Any] = {"original_date": True, "extensive_search": extensive}
    if _ISO_DATE.match(fetched_at or ""):
        params["max_date"] = fetched_at[:10]
    return params


def run_trafilatura(
    tree: Any,
    url: str,
    config: ExtractConfig,
    fetched_at: str,
    mode: str,
    metadata: bool,
    extensive_date: bool = True,
) -> Any:
    """One trafilatura pass on a parsed tree (it works on a copy, so the tree can be reused)."""
    import trafilatura

    return trafilatura.bare_extraction(
        tree,
        url=url or None,
        favor_precision=mode == "precision",
        favor_recall=mode == "recall",
        include_comments=config.include_comments,
        include_tables=config.include_tables,
        include_images=False,
        include_links=False,
        with_metadata=metadata,
        deduplicate=False,
        date_extraction_params=_date_params(fetched_at, extensive_date),
    )


def _text_of(doc: Any) -> str:
    return (getattr(doc, "text", None) or "") if doc is not None else ""


def _line_key(line: str) -> str:
    return " ".join(line.split())


def _is_prose(line: str) -> bool:
    return len(line.split()) >= GAP_MIN_WORDS and _PROSE_END.search(line.rstrip()) is not None


def fill_gaps(precise: str, standard: str) -> tuple[str, int]:
    """The precise text with the prose paragraphs standard mode keeps between its paragraphs.

    Precise paragraphs are found in the standard text in order (the same paragraph, whitespace
    aside); a standard paragraph strictly between two found ones, of five words or more and
    ending like a sentence, is inserted at its place. Returns the text and how many paragraphs
    were put back.
    """
    if not precise or not standard:
        return precise, 0
    standard_lines = [line for line in standard.split("\n") if line.strip()]
    positions: dict[str, list[int]] = {}
    for index, line in enumerate(standard_lines):
        positions.setdefault(_line_key(line), []).append(index)
    out: list[str] = []
    filled = 0
    last: int | None = None
    for line in precise.split("\n"):
        found = next(
            (i for i in positions.get(_line_key(line), ()) if last is None or i > last), None
        )
        if found is not None:
            if last is not None:
                gap = [g for g in standard_lines[last + 1 : found] if _is_prose(g)]
                out.extend(gap)
                filled += len(gap)
            last = found
        out.append(line)
    return ("\n".join(out), filled) if filled else (precise, 0)


def combine_passes(
    precise: str, standard: Callable[[], str], recall: Callable[[], str], config: ExtractConfig
) -> tuple[str, str, int]:
    """Text, mode and paragraphs filled, from the first pass and (lazily) the other two.

    Kept apart from the trafilatura calls so the benchmark can replay every threshold on
    passes it ran once.
    """
    text, mode, filled = precise, config.mode, 0
    wants_standard = config.fallback_ratio > 0 or config.fill_gaps
    if mode == "precision" and wants_standard and len(text) < config.second_pass_below_chars:
        standard_text = standard()
        if len(text) < config.fallback_ratio * len(standard_text):
            text, mode = standard_text, "standard"
        elif config.fill_gaps:
            text, filled = fill_gaps(text, standard_text)
    if len(text) < config.useful_chars and config.mode != "recall":
        recall_text = recall()
        if len(recall_text) > len(text):
            text, mode, filled = recall_text, "recall", 0
    return text, mode, filled


def extract_page(
    html: str, url: str, config: ExtractConfig, fetched_at: str = "", date_needed: bool = True
) -> Extracted:
    """Main text and metadata of a page, choosing between trafilatura's modes by what they keep.

    ``html`` is expected within ``config.max_html_chars`` (see ``fit_html``); longer markup is
    refused here too rather than cut. ``date_needed=False`` (the feed entry has its own
    published time, which the story uses) makes the date search the cheap one: ``date`` may
    then be missing where the extensive search would have found one.
    """
    import trafilatura

    fitted = fit_html(html, config.max_html_chars)
    if fitted is None:
        raise ValueError(f"page markup over {config.max_html_chars} characters")
    tree = trafilatura.load_html(fitted)
    if tree is None:
        return Extracted(text="", mode=config.mode)
    doc = run_trafilatura(tree, url, config, fetched_at, config.mode, True, date_needed)

    def standard() -> str:
        return _text_of(run_trafilatura(tree, url, config, fetched_at, "standard", False))

    def recall() -> str:
        return _text_of(run_trafilatura(tree, url, config, fetched_at, "recall", False))

    text, mode, filled = combine_passes(_text_of(doc), standard, recall, config)
    if doc is None:
        return Extracted(text=text, mode=mode, filled=filled)
    return Extracted(
        text=text,
        title=" ".join((doc.title or "").split()),
        authors=split_list(doc.author),
        date=doc.date if doc.date and _ISO_DATE.match(doc.date) else None,
        sitename=doc.sitename or "",
        description=" ".join((doc.description or "").split()),
        categories=split_list(doc.categories),
        tags=split_list(doc.tags),
        canonical_url=doc.url or None,
        hostname=doc.hostname or "",
        mode=mode,
        filled=filled,
    )
