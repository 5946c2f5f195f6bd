"""glibc's allocator settings for training loops.

Every training step allocates and frees the same few dozen batch-sized buffers (a 128 × 2,000
float32 batch is 1 MiB). With glibc's defaults, buffers of that size are served by fresh
``mmap`` calls or returned to the OS when the heap top is trimmed, so each step pays page faults
to touch them again. In a fresh process that cost a CellBench fit 20–25 % of its time on the
benchmark machine (benchmarks/RESULTS.md, issue #4, run 11); a long-lived process whose heap has
already grown does not pay it. :func:`tune_allocator` raises the mmap threshold and the trim
threshold so freed buffers stay in the heap and are reused.

The ``biovae`` command calls it at start (it owns its process). A library does not change
process-wide settings behind its caller's back, so Python users call it themselves, once:
``biovae.training.tune_allocator()``. It is a no-op (returning False) where the C library is
not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


def tune_allocator(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Serve allocations below ``mmap_threshold`` bytes from the heap and keep up to
    ``trim_threshold`` bytes of free heap instead of returning it; True where applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1
    return mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1 and done
