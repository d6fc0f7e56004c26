"""Control characters leave decoded pages exactly as the former translate table removed them."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from transforms.fetch.http.body import clean_text as _clean_text

# What the client removed before (str.translate with this table): the regex must agree exactly.
_TABLE = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127])


def test_every_code_point_is_kept_or_removed_as_before() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert _clean_text(every) == every.translate(_TABLE)
    assert _clean_text("a\x00b\tc\r\nd\x1b[0m\x7fe\x85f") == "ab\tc\r\nd[0me\x85f"


def test_real_pages_come_out_identical(shared_dir: Path) -> None:
    pages = sorted((shared_dir / "data" / "article-extraction-benchmark" / "html").glob("*.gz"))
    if not pages:
        pytest.skip("no benchmark pages")
    for path in pages[:20]:
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        noisy = text.replace("</p>", "\x00\x07</p>\x0b", 3)
        assert _clean_text(noisy) == noisy.translate(_TABLE)


def test_texts_without_controls_pass_unchanged_and_each_control_is_found() -> None:
    # The check for "no control character at all" reads the text's UTF-8: every other code
    # point (lone surrogates included) must pass it, and each control alone must fail it.
    controls = {chr(c) for c in _TABLE}
    clean = "".join(chr(c) for c in range(0x110000) if chr(c) not in controls)
    assert _clean_text(clean) == clean
    for control in sorted(controls):
        assert _clean_text(f"{clean[:300]}{control}\ud800é") == f"{clean[:300]}\ud800é"


def test_binary_sniffing_counts_the_same_bytes_as_the_rule() -> None:
    # A sample is binary when more than a tenth of it are C0 controls other than tab, LF, VT,
    # FF, CR and ISO-2022's SO, SI and ESC: checked for every byte value at the threshold.
    from transforms.fetch.http.body import SNIFF, sniff_binary

    size = SNIFF
    for value in range(256):
        counted = (value < 9 or 13 < value < 32) and value not in (0x0E, 0x0F, 0x1B)
        at_limit = b"<" + bytes([value]) * (size // 10) + b"a" * (size - 1 - size // 10)
        over = b"<" + bytes([value]) * (size // 10 + 1) + b"a" * (size - 2 - size // 10)
        assert sniff_binary(at_limit) is None
        assert (sniff_binary(over) == "binary data") is counted, value
        assert sniff_binary(over, allow_nul=True) is None
