"""Feed-list loading: YAML or OPML, local path or ``gs://``, validated before the run.

The feed list is the one input a newsroom edits by hand, so it is checked completely before
the pipeline is built (preflight): every problem is reported at once, each with where it is
and how to fix it, rather than one failure per run or, worse, a job that starts on Dataflow and
quietly polls nothing.

YAML::

    defaults:                 # optional, applied to every feed
      poll_minutes: 60
      tags: [news]
    feeds:                    # or the list itself at the top level
      - url: https://example.org/rss.xml
        name: Example World   # default: the host
        kind: feed            # feed | sitemap (news sitemap or sitemap index)
        language: en          # optional hint for language identification
        tags: [world]         # list or "a, b"
        poll_minutes: 30      # or poll_interval: 30m | 2h | 1d

OPML (what feed readers export): every ``outline`` with an ``xmlUrl`` is a feed, however deeply
nested; ``title`` (or ``text``) names it, ``category`` ("/news/world, tech") becomes tags;
``language`` and ``type="sitemap"`` are honoured. OPML is parsed without entity expansion.

A feed listed twice (same canonical URL) is kept once, with a warning.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from transforms.core.records import FeedSource
from transforms.core.urls import canonicalize_url, host_of

logger = logging.getLogger(__name__)

MAX_FEED_LIST_BYTES = 10 * 1024 * 1024
MIN_POLL_MINUTES = 1
MAX_POLL_MINUTES = 7 * 24 * 60
DEFAULT_POLL_MINUTES = 60
KINDS = ("feed", "sitemap")
FEED_KEYS = ("url", "name", "kind", "language", "tags", "poll_minutes", "poll_interval")
_INTERVAL = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)?\s*$", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


class FeedListError(ValueError):
    """The feed list cannot be used; the message lists every problem and its fix."""

    def __init__(self, location: str, problems: Iterable[str]) -> None:
        self.location = location
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"feed list {location} has {len(self.problems)} problem(s):\n{lines}")


def read_bytes(location: str, limit: int = MAX_FEED_LIST_BYTES) -> bytes:
    """Read a local path or any Beam filesystem URL (``gs://``), bounded."""
    from apache_beam.io.filesystems import FileSystems

    try:
        if not FileSystems.exists(location):
            raise FeedListError(
                location,
                ["cannot read it: file not found. Fix: check --feeds (local path or gs://…)"],
            )
        with FileSystems.open(location) as handle:
            data = handle.read(limit + 1)
    except FeedListError:
        raise
    except Exception as exc:  # filesystem layers raise their own types (IOError, GCS errors, …)
        raise FeedListError(
            location,
            [
                f"cannot read it ({type(exc).__name__}: {exc}). Fix: check the path and that "
                "these credentials may read it"
            ],
        ) from exc
    if len(data) > limit:
        raise FeedListError(location, [f"is larger than {limit} bytes. Fix: split it"])
    return data


def load_feed_list(location: str) -> tuple[FeedSource, ...]:
    """Validated feed sources from a YAML or OPML feed list, in file order."""
    data = read_bytes(location)
    return parse_feed_list(data, location)


def parse_feed_list(data: bytes, location: str = "<feed list>") -> tuple[FeedSource, ...]:
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = location.lower()
    if lowered.endswith((".opml", ".xml")) or stripped.startswith(b"<"):
        raw, problems = _opml_feeds(data, location)
    else:
        raw, problems = _yaml_feeds(data, location)
    sources = _validate(raw, problems)
    if problems:
        raise FeedListError(location, problems)
    if not sources:
        raise FeedListError(
            location, ["expected a list of feeds, found none. Fix: add a feed with a url"]
        )
    return tuple(sources)


# --------------------------------------------------------------------------- YAML


def _yaml_feeds(data: bytes, location: str) -> tuple[list[tuple[str, Any]], list[str]]:
    import yaml

    from transforms.core.yamltext import safe_load

    try:
        document = safe_load(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FeedListError(location, [f"is not UTF-8 ({exc}). Fix: save it as UTF-8"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FeedListError(
            location, [f"is not valid YAML{where}: {problem}. Fix: correct the syntax there"]
        ) from exc
    problems: list[str] = []
    defaults: Mapping[str, Any] = {}
    if isinstance(document, dict):
        unknown = sorted(set(document) - {"feeds", "defaults"}, key=str)
        for key in unknown:
            problems.append(f"unknown top-level key {key!r}. Fix: use 'feeds' and 'defaults'")
        defaults = document.get("defaults") or {}
        if not isinstance(defaults, dict):
            problems.append("'defaults' must be a mapping of feed settings")
            defaults = {}
        for key in sorted(defaults, key=str):
            if key == "url":
                problems.append("defaults: 'url' cannot be a default. Fix: set it per feed")
            elif key not in FEED_KEYS:
                problems.append(f"defaults: unknown key {key!r}. {_suggest(key)}")
        items = document.get("feeds")
    else:
        items = document
    if not isinstance(items, list):
        problems.append(
            "expected a list of feeds, or a mapping with a 'feeds' list. "
            "Fix: see the example in the README (feeds: - url: https://…)"
        )
        return [], problems
    raw: list[tuple[str, Any]] = []
    for index, item in enumerate(items):
        where = f"feeds[{index}]"
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping with at least 'url', got {item!r:.80}")
            continue
        merged = {k: v for k, v in defaults.items() if k != "url"}
        if {"poll_minutes", "poll_interval"} & set(item):  # the feed's own interval wins
            merged.pop("poll_minutes", None)
            merged.pop("poll_interval", None)
        merged.update(item)
        raw.append((where, merged))
    return raw, problems


def _suggest(key: Any) -> str:
    close = difflib.get_close_matches(str(key), FEED_KEYS, n=1)
    if close:
        return f"Fix: did you mean {close[0]!r}?"
    return f"Fix: use one of {', '.join(FEED_KEYS)}"


# --------------------------------------------------------------------------- OPML


def _opml_feeds(data: bytes, location: str) -> tuple[list[tuple[str, Any]], list[str]]:
    from lxml import etree

    if re.search(rb"<!ENTITY", data[:65536], re.IGNORECASE):
        raise FeedListError(location, ["declares XML entities. Fix: remove the DOCTYPE"])
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedListError(
            location, [f"is not valid OPML/XML: {exc}. Fix: correct the XML there"]
        ) from exc
    if not isinstance(root.tag, str) or root.tag.lower() != "opml":
        raise FeedListError(location, [f"root element is <{root.tag}>, expected <opml>"])
    raw: list[tuple[str, Any]] = []
    skipped: list[str] = []
    counter = 0

    def walk(element: Any) -> None:
        nonlocal counter
        for outline in element:
            if not isinstance(outline.tag, str) or outline.tag.lower() != "outline":
                continue
            attrs = {k.lower(): v for k, v in outline.attrib.items()}
            xml_url = attrs.get("xmlurl")
            label = (attrs.get("title") or attrs.get("text") or "").strip()
            if xml_url:
                counter += 1
                tags = []
                for category in re.split(r"[,/]", attrs.get("category", "")):
                    if category.strip():
                        tags.append(category.strip())
                item: dict[str, Any] = {"url": xml_url, "name": label, "tags": tags}
                if attrs.get("language"):
                    item["language"] = attrs["language"]
                if attrs.get("type", "").lower() == "sitemap":
                    item["kind"] = "sitemap"
                line = getattr(outline, "sourceline", None)
                raw.append((f"outline {counter} (line {line})", item))
            elif not len(outline):  # a leaf without xmlUrl: a link or a note, not a feed
                line = getattr(outline, "sourceline", None)
                skipped.append(f"{label[:80]!r} (line {line})")
            walk(outline)

    body = next((c for c in root if isinstance(c.tag, str) and c.tag.lower() == "body"), None)
    walk(body if body is not None else root)
    if skipped:  # named, never silent: an empty xmlUrl is more often a broken export than a note
        logger.warning(
            "%s: %d outline(s) without an xmlUrl are not feeds and were skipped: %s",
            location,
            len(skipped),
            ", ".join(skipped[:10]) + (", …" if len(skipped) > 10 else ""),
        )
    return raw, []


# --------------------------------------------------------------------------- validation


def _poll_minutes(item: Mapping[str, Any], where: str, problems: list[str]) -> int:
    value = item.get("poll_minutes", item.get("poll_interval", DEFAULT_POLL_MINUTES))
    minutes: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif isinstance(value, str) and (match := _INTERVAL.match(value)):
        unit = (match.group(2) or "m").lower()[0]
        minutes = int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[unit]
    if minutes is None or not MIN_POLL_MINUTES <= minutes <= MAX_POLL_MINUTES:
        problems.append(
            f"{where}: poll interval {value!r} is not usable. Fix: minutes between "
            f"{MIN_POLL_MINUTES} and {MAX_POLL_MINUTES}, or '30m', '2h', '1d'"
        )
        return DEFAULT_POLL_MINUTES
    return minutes


def _tags(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(t, str | int) for t in value):
        problems.append(f"{where}: tags must be a list of words or 'a, b', got {value!r:.80}")
        return ()
    tags: list[str] = []
    for tag in value:
        text = str(tag).strip()
        if text and text not in tags:
            tags.append(text)
    return tuple(tags)


def _validate(raw: list[tuple[str, Any]], problems: list[str]) -> list[FeedSource]:
    sources: list[FeedSource] = []
    first_seen: dict[str, str] = {}
    for where, item in raw:
        for key in sorted(set(item) - set(FEED_KEYS), key=str):
            problems.append(f"{where}: unknown key {key!r}. {_suggest(key)}")
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            problems.append(f"{where}: each feed needs a 'url'. Fix: add its http(s) address")
            continue
        url = url.strip()
        where = f"{where} ({url[:100]})"
        canonical = canonicalize_url(url)
        if canonical is None or not url.lower().startswith(("http://", "https://")):
            problems.append(
                f"{where}: feed url must be http(s) and absolute. Fix: write https://host/path"
            )
            continue
        if canonical in first_seen:
            # Harmless, and common in merged lists: keep the first, say so, do not fail the job.
            logger.warning("%s: the same feed as %s; using the first", where, first_seen[canonical])
            continue
        first_seen[canonical] = where
        kind = str(item.get("kind", "feed")).strip().lower()
        if kind not in KINDS:
            problems.append(f"{where}: kind {kind!r} is unknown. Fix: use 'feed' or 'sitemap'")
        language = item.get("language")
        if language is not None:
            language = str(language).strip().replace("_", "-").lower()
            if not _LANGUAGE.match(language):
                problems.append(
                    f"{where}: language {item['language']!r} is not a language tag. "
                    "Fix: use an ISO 639 code such as 'en' or 'pt-br'"
                )
                language = None
        name = item.get("name")
        name = str(name).strip() if name not in (None, "") else host_of(url)
        sources.append(
            FeedSource(
                url=url,
                name=name,
                kind=kind if kind in KINDS else "feed",
                language=language,
                tags=_tags(item.get("tags"), where, problems),
                poll_minutes=_poll_minutes(item, where, problems),
            )
        )
    return sources
