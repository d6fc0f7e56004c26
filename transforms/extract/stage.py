"""ExtractStories: fetched page -> clean Story (trafilatura + cleaning rules + datelines).

Measured on the shared benchmarks (``python -m benchmarks.extraction``), trafilatura's precision
mode with comments off beats its defaults on both corpora, but on a few pages it cuts most of the
article. So we extract in precision mode and, when that kept less than ``fallback_ratio`` of what
the standard mode finds, take the standard result instead; when both find too little we also try
recall mode, then the feed entry's summary. The text then goes through the data-driven cleaning
rules (``transforms/extract/cleaning.py``) and the dateline parser
(``transforms/extract/datelines.py``).

trafilatura is imported lazily so the DoFn pickles small. Its own ``deduplicate`` option is never
used: it keeps a process-wide cache, so the text it returns depends on what the worker happened to
see before (non-deterministic and destructive); de-duplication is a stage of its own.
"""

from __future__ import annotations

import argparse
import html as html_lib
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.core.records import (
    DeadLetter,
    FetchedPage,
    Rejected,
    Story,
    content_hash_for,
    excerpt,
    story_id_for,
)
from transforms.core.urls import prefer_page_canonical
from transforms.extract.cleaning import Cleaned, clean_text, load_rules
from transforms.extract.datelines import strip_dateline
from transforms.language.identifier import page_language_of

logger = logging.getLogger(__name__)

STAGE = "extract"
NAMESPACE = "wirestream"
REASON_TOO_SHORT = "too_short"
REASON_TOO_LONG = "too_long"
REASON_NO_TEXT = "no_text"
REASON_EXTRACT_ERROR = "extract_error"
REASON_EXTRACT_TIMEOUT = "extract_timeout"
MODES = ("precision", "standard", "recall")
DEAD_EXCERPT_CHARS = 500
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ExtractConfig:
    """Extraction knobs; defaults are the best combination measured on the shared benchmarks."""

    mode: str = "precision"  # trafilatura mode tried first: precision | standard | recall
    fallback_ratio: float = 0.5  # precise text under this share of standard text: use standard
    include_tables: bool = True
    include_comments: bool = False
    clean: bool = True
    parse_datelines: bool = True
    rules_path: str | None = None
    useful_chars: int = 250  # below this, also try recall mode and the feed summary
    min_chars: int = 200  # below this after cleaning: Rejected(too_short)
    # Above this after cleaning: Rejected(too_long). Real articles stay far below it; link farms,
    # dumped tables and concatenated archives do not, and would swamp dedup and the outputs.
    max_chars: int = 200_000
    max_html_chars: int = 5_000_000
    # Pathological pages (100k links, huge flat tables) can keep trafilatura busy for minutes;
    # with a timeout, extraction runs in a child process that is killed when it overruns.
    timeout_seconds: float = 60.0  # 0: extract in-process, without a time bound
    memory_limit_mb: int = 3072  # address-space cap of the child process (0: none)
    processes: int = 1  # extraction children per worker process, shared by its threads

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"extract mode {self.mode!r}: use one of {', '.join(MODES)}")
        if not 0.0 <= self.fallback_ratio <= 1.0:
            raise ValueError("extract fallback ratio must be between 0 and 1")
        if self.min_chars < 0 or self.useful_chars < 0 or self.max_html_chars <= 0:
            raise ValueError("character thresholds must be positive")
        if self.max_chars <= self.min_chars:
            raise ValueError("--max_text_chars must be larger than --min_chars")
        if self.timeout_seconds < 0 or self.memory_limit_mb < 0:
            raise ValueError("extract timeout and memory limit must not be negative")
        if self.processes < 1:
            raise ValueError("extract processes must be at least 1")


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
    tree: Any, url: str, config: ExtractConfig, fetched_at: str, mode: str, metadata: bool
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
        date_extraction_params=_date_params(fetched_at),
    )


def extract_page(html: str, url: str, config: ExtractConfig, fetched_at: str = "") -> Extracted:
    """Main text and metadata of a page, choosing between trafilatura's modes by what they keep."""
    import trafilatura

    tree = trafilatura.load_html(html[: config.max_html_chars])
    if tree is None:
        return Extracted(text="", mode=config.mode)
    first_mode = config.mode
    doc = _run_trafilatura(tree, url, config, fetched_at, first_mode, metadata=True)
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    mode = first_mode
    if first_mode == "precision":
        standard = _run_trafilatura(tree, url, config, fetched_at, "standard", metadata=False)
        standard_text = (getattr(standard, "text", None) or "") if standard is not None else ""
        if len(text) < config.fallback_ratio * len(standard_text):
            text, mode = standard_text, "standard"
    if len(text) < config.useful_chars and first_mode != "recall":
        recall = _run_trafilatura(tree, url, config, fetched_at, "recall", metadata=False)
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


def _reject(page: FetchedPage, reason: str, story_id: str, detail: str) -> Rejected:
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
    rules = load_rules(config.rules_path)
    title = extracted.title or entry.title
    if config.clean:
        cleaned = clean_text(extracted.text, title=title, rules=rules)
    else:
        cleaned = Cleaned(text=extracted.text.strip())
    text, source = cleaned.text, "page"
    summary = html_to_text(entry.summary)
    if len(text) < config.useful_chars:
        summary_clean = clean_text(summary, title=title, rules=rules) if config.clean else None
        summary_text = summary_clean.text if summary_clean else summary
        if len(summary_text) > len(text):
            text, source = summary_text, "feed_summary"
            cleaned = summary_clean or Cleaned(text=summary_text)
    canonical = choose_canonical(page, extracted.canonical_url)
    story_id = story_id_for(canonical)
    if not text.strip():
        return _reject(page, REASON_NO_TEXT, story_id, f"mode={extracted.mode}"), cleaned
    published = entry.published_at or (f"{extracted.date}T00:00:00Z" if extracted.date else None)
    hits = dict(cleaned.hits)
    dateline = None
    if config.parse_datelines:
        dateline, text = strip_dateline(text, published)
        if dateline is not None:
            hits["dateline"] = hits.get("dateline", 0) + 1
    if len(text) < config.min_chars:
        detail = f"chars={len(text)} source={source}"
        return _reject(page, REASON_TOO_SHORT, story_id, detail), cleaned
    if len(text) > config.max_chars:
        detail = f"chars={len(text)} source={source}"
        return _reject(page, REASON_TOO_LONG, story_id, detail), cleaned
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


def extract_with_mode(page: FetchedPage, config: ExtractConfig) -> tuple[Story | Rejected, str]:
    """The stage's unit of work (also what the isolated child runs): result and mode used."""
    url = page.final_url or page.entry.url
    extracted = extract_page(page.html or "", url, config, page.fetched_at)
    return build_story(page, extracted, config)[0], extracted.mode


class ExtractTimeout(RuntimeError):
    """The page kept the extractor busy past the per-element timeout; the child was killed."""


class ExtractCrash(RuntimeError):
    """The child process died (killed by the OS, out of memory) while extracting a page."""


def _limit_memory(megabytes: int) -> None:
    """Cap the child's address space where the OS allows it (Linux workers); else run uncapped."""
    try:
        import resource

        limit = megabytes * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError) as err:
        logger.warning("cannot cap extraction memory at %d MB: %s", megabytes, err)


def _child_main(conn: Any, memory_limit_mb: int, rules_path: str | None) -> None:
    """Serve extraction requests until the pipe closes; failures are reported, not raised."""
    import trafilatura  # noqa: F401  (before "ready": start-up is not charged to a page)

    load_rules(rules_path)
    conn.send(("ready", None))
    if memory_limit_mb:
        _limit_memory(memory_limit_mb)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        page, config = request
        try:
            reply: tuple[str, Any] = ("ok", extract_with_mode(page, config))
        except BaseException as err:  # report everything, including MemoryError
            reply = ("error", f"{type(err).__name__}: {err}")
        conn.send(reply)


class IsolatedExtractor:
    """One long-lived child process per DoFn instance, replaced when a page overruns.

    Threads cannot be interrupted and signals only reach the main thread, so the only reliable
    way to stop trafilatura on a pathological page is to run it in a process that can be killed.
    The child is started with ``spawn`` (forking a process that runs gRPC threads is unsafe) and
    costs one interpreter start per worker, plus one per killed page.
    """

    STARTUP_SECONDS = 300.0

    def __init__(
        self, timeout_seconds: float, memory_limit_mb: int, rules_path: str | None = None
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.memory_limit_mb = memory_limit_mb
        self.rules_path = rules_path
        self._process: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_child_main, args=(child, self.memory_limit_mb, self.rules_path), daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        try:
            ready = parent.poll(self.STARTUP_SECONDS) and parent.recv()[0] == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close()
            raise ExtractCrash("extraction process did not start")

    def run(self, page: FetchedPage, config: ExtractConfig) -> tuple[Story | Rejected, str]:
        if self._process is None or not self._process.is_alive():
            self.close()
            self._start()
        try:
            self._conn.send((page, config))
            ready = self._conn.poll(self.timeout_seconds)
            reply = self._conn.recv() if ready else None
        except (EOFError, OSError) as err:
            self.close()
            raise ExtractCrash(f"extraction process died: {type(err).__name__}") from err
        if reply is None:
            self.close()
            raise ExtractTimeout(f"extraction took longer than {self.timeout_seconds:g}s")
        status, value = reply
        if status == "error":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()
            process.join(timeout=5)


class ExtractorPool:
    """Up to ``size`` isolated extractors shared by all threads of one worker process.

    A runner may run many threads (hence DoFn instances) per process; one child each would
    multiply memory for nothing, since trafilatura is CPU-bound and the GIL serialises it anyway.
    Threads borrow an idle child, or wait for one once ``size`` exist.
    """

    def __init__(
        self, size: int, timeout_seconds: float, memory_limit_mb: int, rules_path: str | None
    ) -> None:
        import queue
        import threading

        self.size = size
        self._args = (timeout_seconds, memory_limit_mb, rules_path)
        self._idle: queue.LifoQueue[IsolatedExtractor] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._created = 0

    def _take(self) -> IsolatedExtractor:
        import queue

        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self.size:
                self._created += 1
                return IsolatedExtractor(*self._args)
        return self._idle.get()

    def run(self, page: FetchedPage, config: ExtractConfig) -> tuple[Story | Rejected, str]:
        extractor = self._take()
        try:
            return extractor.run(page, config)
        finally:
            self._idle.put(extractor)


_POOLS: dict[tuple[Any, ...], ExtractorPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(config: ExtractConfig) -> ExtractorPool:
    """The process-wide pool for this configuration (children die with the worker process)."""
    key = (config.processes, config.timeout_seconds, config.memory_limit_mb, config.rules_path)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ExtractorPool(*key)
    return pool


class ExtractStoryFn(beam.DoFn):
    """Page -> Story | Rejected; parser failures and timeouts become dead letters."""

    DEAD = "dead"
    REJECTED = "rejected"

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config
        self._pool: ExtractorPool | None = None

    def setup(self) -> None:
        import trafilatura  # noqa: F401  (load once per worker, not per element)

        load_rules(self.config.rules_path)
        if self.config.timeout_seconds > 0:
            self._pool = shared_pool(self.config)
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

    def process(self, page: FetchedPage) -> Iterator[Any]:
        url = page.final_url or page.entry.url
        try:
            if self._pool is not None:
                result, mode = self._pool.run(page, self.config)
            else:
                result, mode = extract_with_mode(page, self.config)
        except ExtractTimeout as err:
            logger.warning("extraction timed out for %s", url)
            yield beam.pvalue.TaggedOutput(
                self.DEAD, self._dead(page, REASON_EXTRACT_TIMEOUT, str(err))
            )
            return
        except Exception as err:  # any parser failure on one page costs that page only
            logger.warning("extraction failed for %s: %s", url, type(err).__name__)
            error = str(err) if isinstance(err, RuntimeError) else f"{type(err).__name__}: {err}"
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
        "letter; extraction then runs in a child process per worker (0: in-process, unbounded).",
    )
    group.add_argument(
        "--extract_memory_mb",
        type=int,
        default=defaults.memory_limit_mb,
        help="Address-space limit (MB) of the extraction child process; a page that needs more "
        "becomes a dead letter instead of exhausting the worker (0: no limit).",
    )
    group.add_argument(
        "--extract_processes",
        type=int,
        default=defaults.processes,
        help="Extraction child processes per worker process, shared by its threads (with "
        "--extract_timeout > 0). Raise it on DirectRunner to use more cores.",
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


def config_from_options(options: Any) -> ExtractConfig:
    opts = options.get_all_options()
    defaults = ExtractConfig()

    def pick(name: str, default: Any) -> Any:
        value = opts.get(name)
        return default if value is None else value

    return ExtractConfig(
        mode=pick("extract_mode", defaults.mode),
        fallback_ratio=float(pick("extract_fallback_ratio", defaults.fallback_ratio)),
        include_tables=bool(pick("extract_tables", defaults.include_tables)),
        include_comments=bool(pick("extract_comments", defaults.include_comments)),
        clean=bool(pick("clean_text", defaults.clean)),
        parse_datelines=bool(pick("clean_text", defaults.parse_datelines)),
        rules_path=opts.get("cleaning_rules") or None,
        useful_chars=int(pick("extract_useful_chars", defaults.useful_chars)),
        min_chars=int(pick("min_chars", defaults.min_chars)),
        max_chars=int(pick("max_text_chars", defaults.max_chars)),
        timeout_seconds=float(pick("extract_timeout", defaults.timeout_seconds)),
        memory_limit_mb=int(pick("extract_memory_mb", defaults.memory_limit_mb)),
        processes=int(pick("extract_processes", defaults.processes)),
    )
