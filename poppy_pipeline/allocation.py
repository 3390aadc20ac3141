"""Freed array memory kept for the next array, instead of handed back to the kernel at once.

glibc's malloc serves every large block (a 5M-row int64 column is 40 MB) with a fresh `mmap` and
unmaps it on free, so the next column of that size page-faults in again, page by page, zeroed by
the kernel. The simulation allocates and frees hundreds of such columns per day: on a 5M-event day
that was a third of the step's time spent in the kernel (2.5 s of `sys` in a 5.5 s run; measured
in the README, "Speed"). Serving them from the heap instead, keeping up to `KEEP_FREE_BYTES` of
freed memory at its top and growing it `GROW_BY_BYTES` at a time, reuses pages already mapped: the
same arrays, the same results, less time in the kernel.

What it costs: the process's resident memory drops back more slowly after a peak (the peak itself
does not grow; `benchmarks/bench_big_window.py` measures it). It is set once, when the package is
imported (`poppy_pipeline/__init__.py`), on Linux with glibc; `POPPY_MALLOC=default` keeps glibc's
defaults, and other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt(3) parameters, from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
KEEP_FREE_BYTES = 1 << 30  # freed memory at the heap's top beyond this goes back to the kernel
GROW_BY_BYTES = 64 << 20  # the heap grows by this much more than asked: fewer, larger extensions
OPT_OUT = "POPPY_MALLOC"


def keep_freed_memory() -> bool:
    """Large blocks from the heap, up to KEEP_FREE_BYTES of it kept when freed; True when applied."""
    if not sys.platform.startswith("linux") or os.environ.get(OPT_OUT, "").lower() == "default":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc only; musl has no mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, KEEP_FREE_BYTES), (M_TOP_PAD, GROW_BY_BYTES))
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
