"""The feed corpus benchmark: every shared feed file parses without a crash or unsafe markup."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmarks.feeds import declared_headers, main, run, unsafe_markup_in

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "data" / "feeds-feedparser"


def test_declared_headers_are_read_from_the_leading_comment() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!--\nHeader:      Content-type: text/xml; charset=windows-1252\n'
        b"Header: Content-Location: http://example.com/\nDescription: x\n-->\n<rss/>"
    )
    assert declared_headers(body) == {
        "content-type": "text/xml; charset=windows-1252",
        "content-location": "http://example.com/",
    }
    assert declared_headers(b"<!-- x -->\nHeader: X: after the comment\n<rss/>") == {}
    assert declared_headers(b"<rss/>") == {}


def test_unsafe_markup_oracle() -> None:
    assert unsafe_markup_in("<b onmouseover=x>hi</b>")
    assert unsafe_markup_in("a <script>x</script>")
    assert unsafe_markup_in('<a href=" javascript:x">y</a>')
    assert not unsafe_markup_in("3 < 4 and 5 > 2, AT&T")
    assert not unsafe_markup_in("<b>bold</b> is fine")


def test_small_directory(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ok.xml").write_bytes(
        b'<rss version="2.0"><channel><item><title>&lt;script&gt;x&lt;/script&gt;T</title>'
        b"<link>https://a.example/1</link></item></channel></rss>"
    )
    (tmp_path / "bad.json").write_bytes(b"{nope")
    (tmp_path / "notes.txt").write_bytes(b"ignored")
    out = tmp_path / "out.json"
    assert main([str(tmp_path), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["files"], result["ok"], result["dead_letters"]) == (2, 1, 1)
    assert result["crashes"] == 0 and result["unsafe_markup"] == 0


@pytest.mark.shared
@pytest.mark.timeout(120)
def test_feedparser_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/data/feeds-feedparser is not available")
    started = time.perf_counter()
    result = run(CORPUS)
    assert result["files"] > 100
    assert result["crashes"] == 0, result["crashed_files"]
    assert result["unsafe_markup"] == 0
    # Every file ends as entries or dead letters, never silently as nothing.
    assert result["files_with_entries"] + result["dead_letters"] >= result["files"]
    assert result["texts_audited"] > result["files"] / 2
    assert time.perf_counter() - started < 60
