"""Story assembly: an extraction result plus the feed entry -> Story, or a named rejection.

The text goes through the data-driven cleaning rules (``transforms/extract/cleaning.py``) and the
dateline parser (``transforms/extract/datelines.py``); when the page keeps too little, the feed
entry's summary stands in. Imports neither Beam nor lxml at module level: the isolated extraction
child runs ``extract_with_mode`` from here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from transforms.core.html_text import html_to_text
from transforms.core.records import (
    FetchedPage,
    Rejected,
    Story,
    content_hash_for,
    story_id_for,
)
from transforms.core.urls import prefer_page_canonical
from transforms.extract.cleaning import Cleaned, clean_text, load_rules
from transforms.extract.config import (
    REASON_HTML_TOO_LARGE,
    REASON_NO_TEXT,
    REASON_TOO_LONG,
    REASON_TOO_SHORT,
    STAGE,
    ExtractConfig,
)
from transforms.extract.datelines import strip_dateline
from transforms.extract.passes import Extracted, extract_page, fit_html
from transforms.language.hints import page_language_of

# Paragraphs put back from the standard pass (``passes.fill_gaps``), reported with the cleaning
# hits so that they are counted like every other change to the text.
GAP_FILLED = "gap_filled"


def choose_canonical(page: FetchedPage, declared: str | None) -> str:
    """The page's declared canonical URL when it is an article on the entry's site, else the feed's.

    ``urls.prefer_page_canonical`` holds the rules (same site, not the home page), shared with
    the fetch stage so a story gets one id whichever stage looks at it.
    """
    entry = page.entry
    listed = entry.canonical_url or entry.url or page.final_url
    return prefer_page_canonical(listed, declared) or listed


def _merge(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Tags in first-seen order; keyword metadata often packs several into one comma list."""
    out: list[str] = []
    for group in groups:
        for packed in group:
            for item in packed.split(","):
                tag = " ".join(item.split())
                if tag and tag not in out:
                    out.append(tag)
    return tuple(out)


def reject(page: FetchedPage, reason: str, story_id: str, detail: str) -> Rejected:
    """A decision dated by the fetch, not the wall clock, so replays give identical records."""
    return Rejected(
        stage=STAGE,
        reason=reason,
        url=page.entry.url,
        story_id=story_id,
        entry_id=page.entry.entry_id,
        at=page.fetched_at,
        detail=detail,
        feed_url=page.entry.feed_url,
    )


def oversized(page: FetchedPage, config: ExtractConfig) -> Rejected:
    """Rejected(html_too_large): the markup cannot fit the cap even with blanks collapsed."""
    html = page.html or ""
    story_id = story_id_for(choose_canonical(page, None))
    detail = f"html_chars={len(html)} max={config.max_html_chars}"
    return reject(page, REASON_HTML_TOO_LARGE, story_id, detail)


def extract_with_mode(page: FetchedPage, config: ExtractConfig) -> tuple[Story | Rejected, str]:
    """The stage's unit of work (also what the isolated child runs): result and mode used.

    Exceptions from trafilatura or lxml propagate: the stage turns them into dead letters,
    because a crash on a page is a failure to look at, not a decision.
    """
    if fit_html(page.html or "", config.max_html_chars) is None:
        return oversized(page, config), "none"
    url = page.final_url or page.entry.url
    # The page's date only stands in for a missing feed date (``build_story``).
    date_needed = not page.entry.published_at
    extracted = extract_page(page.html or "", url, config, page.fetched_at, date_needed)
    return build_story(page, extracted, config)[0], extracted.mode


def extract_story(page: FetchedPage, config: ExtractConfig) -> Story | Rejected:
    """One Story from one page, or a Rejected decision (no_text, too_short, html_too_large, …)."""
    return extract_with_mode(page, config)[0]


def build_story(
    page: FetchedPage, extracted: Extracted, config: ExtractConfig
) -> tuple[Story | Rejected, Cleaned]:
    """The Story (or rejection) for an extraction result, with the cleaning audit trail."""
    entry = page.entry
    rules = load_rules(config.rules_path)
    title = extracted.title or entry.title
    if config.clean:
        cleaned = clean_text(
            extracted.text, title=title, rules=rules, keep_title_below=config.min_chars
        )
    else:
        cleaned = Cleaned(text=extracted.text.strip())
    text, source = cleaned.text, "page"
    summary = html_to_text(entry.summary, lines=True)
    if len(text) < config.useful_chars:
        summary_clean = (
            clean_text(summary, title=title, rules=rules, keep_title_below=config.min_chars)
            if config.clean
            else None
        )
        summary_text = summary_clean.text if summary_clean else summary
        if len(summary_text) > len(text):
            text, source = summary_text, "feed_summary"
            cleaned = summary_clean or Cleaned(text=summary_text)
    canonical = choose_canonical(page, extracted.canonical_url)
    story_id = story_id_for(canonical)
    if not text.strip():
        return reject(page, REASON_NO_TEXT, story_id, f"mode={extracted.mode}"), cleaned
    published = entry.published_at or (f"{extracted.date}T00:00:00Z" if extracted.date else None)
    hits = dict(cleaned.hits)
    if extracted.filled and source == "page":
        hits[GAP_FILLED] = extracted.filled
    dateline = None
    if config.parse_datelines:
        # Parsed into the dateline fields, and left in the body: every evaluation set's
        # reference keeps it, and stripping it cost recall on all of them (benchmarks.extraction).
        dateline, _body = strip_dateline(text, published)
        if dateline is not None:
            hits["dateline"] = hits.get("dateline", 0) + 1
    if len(text) < config.min_chars:
        detail = f"chars={len(text)} source={source}"
        return reject(page, REASON_TOO_SHORT, story_id, detail), cleaned
    if len(text) > config.max_chars:
        detail = f"chars={len(text)} source={source}"
        return reject(page, REASON_TOO_LONG, story_id, detail), cleaned
    host = urlsplit(canonical).hostname or extracted.hostname
    story = Story(
        story_id=story_id,
        entry_id=entry.entry_id,
        url=entry.url,
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
        page_language=page_language_of(page.html or ""),
        feed_language=entry.language_hint,
    )
    return story, cleaned
