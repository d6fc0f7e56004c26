"""Run the feed parser over a corpus of feed files and count what happened.

    python -m benchmarks.feeds ../shared/data/feeds-feedparser --json feeds.json

Writes ``{"files", "ok", "dead_letters", "crashes", "unsafe_markup", ...}``: ``ok`` counts
entries and ``dead_letters`` dead-letter records; ``crashes`` counts files whose parse raised
(the contract is zero); ``unsafe_markup`` counts text fields that an HTML parser (lxml, not the
regular expression the sanitiser uses) reads as script, style, embedded content, an event
handler or a ``javascript:`` URL. The audit covers every announced entry, including those that
became ``no_link`` dead letters, by normalising them with a placeholder link: most sanitisation
cases in feedparser's corpus have no link.

Files may open with a comment stating HTTP headers (``Header: Content-type: text/xml;
charset=…``); they are passed as the headers a server would have sent. The feed URL is the
header ``Content-Location`` when given, else a stable placeholder under ``https://feeds.test/``.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import figures_json

logger = logging.getLogger(__name__)

FEED_SUFFIXES = (".xml", ".json", ".rss", ".atom", ".rdf", ".cdf", ".gz")
_HEADER_LINE = re.compile(rb"^\s*Header:\s*([A-Za-z0-9-]+)\s*:(.*)$", re.MULTILINE)
_DANGEROUS_TAGS = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "link",
        "meta",
        "base",
        "form",
        "svg",
        "math",
        "template",
        "img",
        "video",
        "audio",
        "input",
    }
)


def declared_headers(body: bytes) -> dict[str, str]:
    """HTTP headers a corpus file states in its leading comment (feedparser's test format)."""
    head = body[:4096]
    end = head.find(b"-->")
    comment = head[: end if end >= 0 else len(head)]
    headers: dict[str, str] = {}
    for name, value in _HEADER_LINE.findall(comment):
        headers[name.decode("ascii").lower()] = value.decode("latin-1").strip()
    return headers


def unsafe_markup_in(text: str) -> bool:
    """Independent check: does an HTML parser find active content in this text?"""
    if not text or "<" not in text:
        return False
    from lxml import etree
    from lxml import html as lxml_html

    try:
        fragment = lxml_html.fragment_fromstring(text, create_parent="div")
    except (etree.ParserError, ValueError):
        return False
    for element in fragment.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.lower() in _DANGEROUS_TAGS:
            return True
        for name, value in element.attrib.items():
            lowered = name.lower()
            if lowered.startswith("on") or lowered == "style":
                return True
            if re.match(r"\s*(javascript|vbscript|livescript)\s*:", value or "", re.IGNORECASE):
                return True
    return False


def feed_files(root: Path) -> list[Path]:
    return sorted(
        path for path in root.rglob("*") if path.is_file() and path.name.endswith(FEED_SUFFIXES)
    )


def run(root: Path) -> dict[str, Any]:
    from transforms.core.records import FeedSource
    from transforms.sources.feed_parse import (
        REASON_NO_LINK,
        RawEntry,
        normalise_entry,
        parse_feed,
        raw_entries,
    )

    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    crashed: list[str] = []
    started = time.perf_counter()
    files = feed_files(root)
    for path in files:
        body = path.read_bytes()
        headers = declared_headers(body)
        relative = path.relative_to(root).as_posix()
        url = headers.get("content-location") or f"https://feeds.test/{relative}"
        source = FeedSource(url=url, name=relative)
        try:
            parsed = parse_feed(body, source, headers=headers, url=url)
        except Exception as exc:  # the metric: anything escaping the parser is a crash
            crashed.append(f"{relative}: {type(exc).__name__}: {exc}")
            continue
        counts["ok"] += len(parsed.entries)
        counts["dead_letters"] += len(parsed.dead)
        counts["files_with_entries"] += bool(parsed.entries)
        reasons.update(dead.reason for dead in parsed.dead)
        texts = [text for e in parsed.entries for text in (e.title, e.summary, *e.categories)]
        if any(dead.reason == REASON_NO_LINK for dead in parsed.dead):
            for raw in raw_entries(body, headers=headers, url=url):
                placeholder = RawEntry(**{**raw.__dict__, "link": "https://feeds.test/entry"})
                entry = normalise_entry(placeholder, source, url)
                if entry is not None:
                    texts.extend((entry.title, entry.summary, *entry.categories))
        counts["texts_audited"] += len(texts)
        unsafe = sum(unsafe_markup_in(text) for text in texts)
        if unsafe:
            logger.warning("unsafe markup survived in %s", relative)
        counts["unsafe_markup"] += unsafe
    return {
        "files": len(files),
        "ok": counts["ok"],
        "dead_letters": counts["dead_letters"],
        "crashes": len(crashed),
        "unsafe_markup": counts["unsafe_markup"],
        "files_with_entries": counts["files_with_entries"],
        "texts_audited": counts["texts_audited"],
        "dead_letter_reasons": dict(sorted(reasons.items())),
        "seconds": round(time.perf_counter() - started, 2),
        "crashed_files": crashed[:50],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="folder of feed files (searched recursively)")
    parser.add_argument("--json", dest="json_out", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory} is not a directory")
    logging.basicConfig(level=logging.WARNING)
    result = run(args.directory)
    print(figures_json(result, args.json_out, sort_keys=True))
    return 1 if result["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
