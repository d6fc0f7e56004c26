"""Freed page-sized blocks leave the process once ``return_large_blocks`` has run (glibc)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from transforms.core import memory

REPO = Path(__file__).resolve().parents[3]

# A child that frees one large block (which raises glibc's dynamic mmap threshold), then holds
# 400 page-sized blocks between small live objects (so the heap's top cannot simply shrink),
# frees them and prints how much of them stayed resident, in MB.
CHILD = """
import sys
from transforms.core import memory
if sys.argv[1] == "on":
    assert memory.return_large_blocks()
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
del_me = bytearray(4 << 20)
del del_me
before = rss()
blocks, pins = [], []
for n in range(400):
    blocks.append(bytearray(300_000))
    pins.append(bytearray(600))
del blocks
print(round(rss() - before))
"""

glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not Path("/proc/self/statm").exists(),
    reason="mallopt and /proc are glibc and Linux",
)


def resident_after_free(setting: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, setting],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


@glibc
def test_freed_page_sized_blocks_are_returned_only_with_the_setting():
    # 400 blocks of 300 KB are 114 MB: without the setting they stay resident after being freed
    assert resident_after_free("off") > 80
    assert resident_after_free("on") < 20


@glibc
def test_the_setting_is_applied_once_and_reports_success():
    assert memory.return_large_blocks() is True
    assert memory.return_large_blocks() is True
