"""Large blocks go back to the operating system when freed (glibc's ``M_MMAP_THRESHOLD``).

A worker handles pages of 0.1-1 MB: the fetched bytes, the decoded text, the pickles the runner
moves. glibc serves blocks above its mmap threshold (128 KiB at start) with their own mapping,
returned when freed; but the first such block freed raises the threshold to its size (up to
32 MiB), and from then on page-sized blocks come from the heaps of the malloc arenas, one per
thread that allocates (the fetch pool's 16 threads among them). Freed there, they stay in the
process: a fetch stage of 354 benchmark pages left 190 MB more resident than the pages it held,
and a one-worker run's peak was 745 MB. Setting the threshold fixes it at its starting value
(and so turns the adjustment off): the same run peaks about 150 MB lower (README, Benchmarks).

Process-wide and idempotent: the stages that handle whole pages (fetch, extraction) call it from
their ``setup``. Elsewhere than glibc (musl, macOS) there is no ``mallopt`` and nothing changes.
"""

from __future__ import annotations

import ctypes
import threading

#: glibc's ``M_MMAP_THRESHOLD`` parameter number (malloc.h) and its documented starting value.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024

_lock = threading.Lock()
_applied: bool | None = None  # None: not tried yet; then whether mallopt accepted it


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 128 KiB in this process; True where it took effect."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        return _applied


def _mallopt(parameter: int, value: int) -> bool:
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the symbols the interpreter is linked with
    except (OSError, AttributeError, TypeError):  # no C library loaded, or no mallopt in it
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(parameter, value))  # 1 on success, 0 on error
