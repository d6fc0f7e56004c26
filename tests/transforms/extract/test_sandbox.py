"""Bounds around extraction: a real child process (killed, capped, restarted), the watchdog."""

from __future__ import annotations

import os
import time

import pytest

from tests.transforms.extract.test_stage import article_html, make_page
from transforms.core.records import Story
from transforms.extract.config import ExtractConfig
from transforms.extract.passes import isolation_reason
from transforms.extract.sandbox import (
    Sandbox,
    SandboxPool,
    SandboxTimeout,
    WatchdogTimeout,
    WorkError,
    run_with_deadline,
)
from transforms.extract.stage import CHILD_PRELOAD
from transforms.extract.story import extract_with_mode


def _spin(seconds: float) -> int:
    """Pure-Python busy work that only an interruption can stop early."""
    end, count = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        count += 1
    return count


def test_sandbox_reports_errors_and_survives_a_killed_child() -> None:
    sandbox = Sandbox(timeout_seconds=60, preload=CHILD_PRELOAD)
    try:
        with pytest.raises(WorkError, match="TypeError"):
            sandbox.run(extract_with_mode, make_page(12345), ExtractConfig())
        first = sandbox.pid
        assert first is not None and first != os.getpid()
        os.kill(first, 9)
        assert sandbox._process is not None
        sandbox._process.wait(timeout=30)  # the child is gone before the next call
        story, mode = sandbox.run(extract_with_mode, make_page(article_html()), ExtractConfig())
        assert isinstance(story, Story) and mode in ("precision", "standard")
        assert sandbox.pid != first
    finally:
        sandbox.close()


def test_sandbox_child_imports_neither_beam_nor_the_pipeline() -> None:
    sandbox = Sandbox(timeout_seconds=60, preload=CHILD_PRELOAD)
    try:
        sandbox.run(extract_with_mode, make_page(article_html()), ExtractConfig())
        # a builtin as the probe: a function from this module would import Beam into the child
        modules = sandbox.run(eval, "sorted(__import__('sys').modules)")
    finally:
        sandbox.close()
    assert "trafilatura" in modules
    assert not [m for m in modules if m.split(".")[0] in ("apache_beam", "pipeline")]


def test_sandbox_kills_an_overrunning_call_and_the_next_call_still_runs() -> None:
    sandbox = Sandbox(timeout_seconds=0.5)
    try:
        with pytest.raises(SandboxTimeout):
            sandbox.run(time.sleep, 30.0)
        assert sandbox.run(abs, -3) == 3
    finally:
        sandbox.close()


def test_pool_shares_a_bounded_number_of_children_between_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    pool = SandboxPool(size=2, timeout_seconds=60, preload=CHILD_PRELOAD)
    pages = [make_page(article_html(), url=f"https://news.example.org/a-{i}") for i in range(6)]
    try:
        with ThreadPoolExecutor(max_workers=4) as threads:
            results = list(
                threads.map(lambda page: pool.run(extract_with_mode, page, ExtractConfig()), pages)
            )
        assert [story.url for story, _ in results] == [page.final_url for page in pages]
        assert all(isinstance(story, Story) for story, _ in results)
        assert 1 <= pool.created <= 2
    finally:
        pool.close()


def test_page_needing_more_memory_than_the_cap_fails_alone() -> None:
    # a cap just above what the lean child maps (~50 MB): the page's allocations must fail
    capped = Sandbox(timeout_seconds=120, memory_limit_mb=80, preload=CHILD_PRELOAD)
    uncapped = Sandbox(timeout_seconds=120, preload=CHILD_PRELOAD)
    huge = make_page("<html><body><p>" + "word " * 600_000 + "</p></body></html>")
    try:
        with pytest.raises(RuntimeError, match=r"MemoryError|process died"):
            capped.run(extract_with_mode, huge, ExtractConfig())
        story, _ = uncapped.run(extract_with_mode, huge, ExtractConfig(max_chars=10_000_000))
        assert isinstance(story, Story) and len(story.text) > 1_000_000
    finally:
        capped.close()
        uncapped.close()


def test_watchdog_stops_runaway_python_in_this_thread_and_leaves_fast_calls_alone() -> None:
    with pytest.raises(WatchdogTimeout):
        run_with_deadline(0.3, _spin, 30.0)
    assert run_with_deadline(30.0, _spin, 0.0) >= 0
    _spin(0.5)  # no late interruption escapes a call that finished in time


def test_watchdog_guards_worker_threads_independently() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def guarded(seconds: float) -> str:
        try:
            run_with_deadline(0.5, _spin, seconds)
        except WatchdogTimeout:
            return "stopped"
        return "finished"

    with ThreadPoolExecutor(max_workers=2) as threads:
        assert list(threads.map(guarded, [30.0, 0.0])) == ["stopped", "finished"]


def test_precheck_routes_only_risky_pages_to_the_child() -> None:
    config = ExtractConfig()
    assert isolation_reason(article_html(), config) is None
    farm = "<div>" + "<a href='/x'>x</a> " * (config.isolate_links + 1) + "</div>"
    assert isolation_reason(farm.replace("<a href", "<a  href").replace("<a  ", "<a "), config)
    assert isolation_reason("<p>" + "x" * (config.isolate_html_chars + 1), config) == "size"
    assert isolation_reason("<b>" * (config.isolate_tags + 1), config) == "tags"
