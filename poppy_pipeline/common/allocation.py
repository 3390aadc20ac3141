"""How the process gets memory for large arrays: reused in the process, in small pages.

This machine class (a VM, 2 cores) pays dearly for memory the process has not touched yet: a fresh
4 KB page costs ~1.4 µs, and a 2 MB huge page ~4.4 µs per 4 KB of it (`benchmarks/bench_cli.py`
prints the day's figures; docs/internals.md, "Memory for large arrays", has them). Two defaults make
large arrays take fresh memory over and over:

- glibc's malloc serves every large block (a 5M-row int64 column is 40 MB) with its own `mmap` and
  unmaps it on free, so the next column of that size faults its pages in again. Here large blocks
  come from the heap, up to `KEEP_FREE_BYTES` of freed memory stays at its top for the next array,
  and it grows `GROW_BY_BYTES` at a time.
- numpy advises the kernel to back arrays of 4 MB and more with huge pages (`MADV_HUGEPAGE`); where
  the host hands out a VM's free memory lazily, a huge page is 512 faults at once. Not advised here.

Together: a 5M-event day's simulation and checks in 3.5-3.7 s instead of 4.0-5.3 s, the same arrays
and the same results. The cost: memory freed after a peak stays with the process, up to
`KEEP_FREE_BYTES` (the 30M-event span peaked 330 MB higher: `benchmarks/bench_big_span.py`).
pyarrow keeps its own allocator: Arrow's long-lived buffers in this heap raised that peak by
another 750 MB. Set once, when the package is imported (`poppy_pipeline/__init__.py`);
`POPPY_MEMORY=default` keeps glibc's and numpy's defaults; C libraries other than glibc are left alone.
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
OPT_OUT = "POPPY_MEMORY"


def tune_allocation() -> bool:
    """Both settings below, unless `POPPY_MEMORY=default`; True when both took."""
    if os.environ.get(OPT_OUT, "").lower() == "default":
        return False
    return keep_freed_memory() & skip_hugepage_advice()


def keep_freed_memory() -> bool:
    """Large blocks from the heap, up to KEEP_FREE_BYTES of it kept when freed (glibc on Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc only; musl has no mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, KEEP_FREE_BYTES), (M_TOP_PAD, GROW_BY_BYTES))
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)


def skip_hugepage_advice() -> bool:
    """numpy's arrays without `MADV_HUGEPAGE` (what `NUMPY_MADVISE_HUGEPAGE=0` does at numpy's import)."""
    from numpy._core import multiarray

    advise = getattr(multiarray, "_set_madvise_hugepage", None)
    if advise is None:
        return False
    advise(False)
    return True
