"""From a fetched page to a clean Story: trafilatura, then our cleaning rules and dateline parser.

Measured on the shared benchmarks (benchmarks/extraction.py), trafilatura's precision mode with
comments off beats its defaults on both corpora, but on a few pages it cuts most of the article.
So we extract in precision mode and, when that kept less than ``precision_fallback_ratio`` of
what the standard mode finds, take the standard result instead; when both find too little we also
try recall mode. trafilatura's own ``deduplicate`` is never used: its LRU cache makes the output
depend on which pages a worker saw before, which breaks determinism.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from transforms.cleaning import Cleaned, clean_text, load_rules
from transforms.datelines import strip_dateline
from transforms.records import (
    FetchedPage,
    Rejected,
    Story,
    content_hash_for,
    story_id_for,
)

logger = logging.getLogger(__name__)

STAGE = "extract"
_HTML_LANG = re.compile(
    r"<html\b[^>]{0,2000}?\s(?:xml:)?lang\s?=\s?[\"']?(?P<lang>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3})",
    re.IGNORECASE,
)
_META_LANG = re.compile(
    r"<meta\b[^>]{0,300}?http-equiv\s?=\s?[\"']?content-language[\"']?[^>]{0,300}?"
    r"content\s?=\s?[\"']?(?P<lang>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3})",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LANG_SCAN_CHARS = 20_000


@dataclass(frozen=True)
class ExtractConfig:
    """Extraction knobs; defaults are the best combination measured on the shared benchmarks."""

    favor_precision: bool = True
    favor_recall: bool = False
    precision_fallback_ratio: float = 0.5
    include_tables: bool = True
    include_comments: bool = False
    clean: bool = True
    parse_datelines: bool = True
    rules_path: str | None = None
    useful_page_chars: int = 250
    min_text_chars: int = 150
    max_html_chars: int = 5_000_000

    def __post_init__(self) -> None:
        if self.favor_precision and self.favor_recall:
            raise ValueError("choose favor_precision or favor_recall, not both")
        if not 0.0 <= self.precision_fallback_ratio <= 1.0:
            raise ValueError("precision_fallback_ratio must be between 0 and 1")
        if self.min_text_chars < 0 or self.useful_page_chars < 0:
            raise ValueError("character thresholds must not be negative")


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


def page_language(html: str) -> str | None:
    """The page's declared language (``<html lang>``, else the content-language meta), lower-case.

    It is evidence for language identification, not a verdict: many CMS templates declare
    ``en`` on every page whatever the article's language.
    """
    head = html[:LANG_SCAN_CHARS]
    found = _HTML_LANG.search(head) or _META_LANG.search(head)
    return found.group("lang").replace("_", "-").lower() if found else None


def _split_list(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    items = value if isinstance(value, list | tuple) else re.split(r";|,(?=\s)", str(value))
    out: list[str] = []
    for item in items:
        text = " ".join(str(item).split())
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _date_params(fetched_at: str) -> dict[str, Any]:
    """htmldate's defaults with the fetch date instead of today's, so replays give equal output."""
    params: dict[str, Any] = {"original_date": True, "extensive_search": True}
    if _ISO_DATE.match(fetched_at or ""):
        params["max_date"] = fetched_at[:10]
    return params


def _run_trafilatura(
    html: str, url: str, config: ExtractConfig, fetched_at: str, mode: str, metadata: bool
) -> Any:
    import trafilatura

    return trafilatura.bare_extraction(
        html,
        url=url or None,
        favor_precision=mode == "precision",
        favor_recall=mode == "recall",
        include_comments=config.include_comments,
        include_tables=config.include_tables,
        include_images=False,
        include_links=False,
        with_metadata=metadata,
        deduplicate=False,
        date_extraction_params=_date_params(fetched_at),
    )


def extract_page(html: str, url: str, config: ExtractConfig, fetched_at: str = "") -> Extracted:
    """Main text and metadata of a page, choosing between trafilatura's modes by what they keep."""
    html = html[: config.max_html_chars]
    if config.favor_precision:
        first_mode = "precision"
    elif config.favor_recall:
        first_mode = "recall"
    else:
        first_mode = "standard"
    doc = _run_trafilatura(html, url, config, fetched_at, first_mode, metadata=True)
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    mode = first_mode
    if first_mode == "precision":
        standard = _run_trafilatura(html, url, config, fetched_at, "standard", metadata=False)
        standard_text = (getattr(standard, "text", None) or "") if standard is not None else ""
        if len(text) < config.precision_fallback_ratio * len(standard_text):
            text, mode = standard_text, "standard"
    if len(text) < config.useful_page_chars and first_mode != "recall":
        recall = _run_trafilatura(html, url, config, fetched_at, "recall", metadata=False)
        recall_text = (getattr(recall, "text", None) or "") if recall is not None else ""
        if len(recall_text) > len(text):
            text, mode = recall_text, "recall"
    if doc is None:
        return Extracted(text=text, mode=mode)
    return Extracted(
        text=text,
        title=" ".join((doc.title or "").split()),
        authors=_split_list(doc.author),
        date=doc.date if doc.date and _ISO_DATE.match(doc.date) else None,
        sitename=doc.sitename or "",
        description=" ".join((doc.description or "").split()),
        categories=_split_list(doc.categories),
        tags=_split_list(doc.tags),
        canonical_url=doc.url or None,
        hostname=doc.hostname or "",
        mode=mode,
    )


def html_to_text(fragment: str) -> str:
    """Plain text of a feed summary, which is usually an HTML fragment."""
    if not fragment:
        return ""
    if "<" not in fragment:
        return html_lib.unescape(fragment).strip()
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several unrelated types on hostile markup
        return html_lib.unescape(re.sub(r"<[^>]{0,2000}>", " ", fragment)).strip()
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for block in root.xpath("//p|//br|//div|//li|//h1|//h2|//h3|//h4|//blockquote"):
        block.tail = "\n" + (block.tail or "")
    return root.text_content().strip()


def choose_canonical(page: FetchedPage, declared: str | None) -> str:
    """The page's declared canonical URL when it is a real article URL, else the feed's.

    Sites sometimes declare their home page or another host as canonical for every article;
    accepting that would give many stories one id, so only a same-site URL with a path counts.
    """
    fallback = page.entry.canonical_url or page.final_url or page.entry.url
    if not declared:
        return fallback
    parts = urlsplit(declared)
    reference = urlsplit(page.final_url or page.entry.url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path in ("", "/"):
        return fallback
    if _registered(parts.hostname or "") != _registered(reference.hostname or ""):
        return fallback
    return parts._replace(fragment="").geturl()


def _registered(host: str) -> str:
    labels = host.lower().removeprefix("www.").split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else host


def _merge(*groups: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for group in groups:
        for item in group:
            if item and item not in out:
                out.append(item)
    return tuple(out)


def extract_story(page: FetchedPage, config: ExtractConfig) -> Story | Rejected:
    """One Story from one page, or a Rejected decision (``no_text`` or ``too_short``).

    Exceptions from trafilatura or lxml propagate: the composite turns them into dead letters,
    because a crash on a page is a failure to look at, not a decision.
    """
    url = page.final_url or page.entry.url
    extracted = extract_page(page.html or "", url, config, page.fetched_at)
    return build_story(page, extracted, config)[0]


def build_story(
    page: FetchedPage, extracted: Extracted, config: ExtractConfig
) -> tuple[Story | Rejected, Cleaned]:
    """The Story (or rejection) for an extraction result, with the cleaning audit trail."""
    entry = page.entry
    url = page.final_url or entry.url
    rules = load_rules(config.rules_path)
    title = extracted.title or entry.title
    if config.clean:
        cleaned = clean_text(extracted.text, title=title, rules=rules)
    else:
        cleaned = Cleaned(text=extracted.text.strip())
    text, source = cleaned.text, "page"
    summary = html_to_text(entry.summary)
    if len(text) < config.useful_page_chars:
        summary_clean = clean_text(summary, title=title, rules=rules) if config.clean else None
        summary_text = summary_clean.text if summary_clean else summary
        if len(summary_text) > len(text):
            text, source = summary_text, "feed_summary"
            cleaned = summary_clean or Cleaned(text=summary_text)
    canonical = choose_canonical(page, extracted.canonical_url)
    story_id = story_id_for(canonical)
    if not text.strip():
        return Rejected(
            stage=STAGE, reason="no_text", url=url, story_id=story_id, entry_id=entry.entry_id,
            at=page.fetched_at, detail=f"mode={extracted.mode}",
        ), cleaned  # fmt: skip
    published = entry.published_at or (f"{extracted.date}T00:00:00Z" if extracted.date else None)
    hits = dict(cleaned.hits)
    dateline = None
    if config.parse_datelines:
        dateline, text = strip_dateline(text, published)
        if dateline is not None:
            hits["dateline"] = hits.get("dateline", 0) + 1
    if len(text) < config.min_text_chars:
        return Rejected(
            stage=STAGE, reason="too_short", url=url, story_id=story_id, entry_id=entry.entry_id,
            at=page.fetched_at, detail=f"chars={len(text)} source={source}",
        ), cleaned  # fmt: skip
    host = urlsplit(canonical).hostname or extracted.hostname
    story = Story(
        story_id=story_id,
        entry_id=entry.entry_id,
        url=url,
        canonical_url=canonical,
        site=(host or "").lower().removeprefix("www."),
        feed_url=entry.feed_url,
        title=title,
        text=text,
        fetched_at=page.fetched_at,
        summary=summary,
        description=extracted.description,
        sitename=extracted.sitename,
        authors=extracted.authors or entry.authors,
        published_at=published,
        content_hash=content_hash_for(text),
        text_source=source,
        agency=(dateline.agency if dateline and dateline.agency else None) or cleaned.agency,
        dateline_place=dateline.place if dateline else None,
        dateline_date=dateline.date if dateline else None,
        tags=_merge(extracted.tags, extracted.categories, entry.categories, cleaned.tags),
        cleaning_hits=tuple(sorted(hits.items())),
        page_language=page_language(page.html or ""),
    )
    return story, cleaned
