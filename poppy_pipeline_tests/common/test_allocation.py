"""allocation.tune_allocation, as importing the package applies it: a freed large array stays in the
heap for the next one, and numpy does not advise huge pages; `POPPY_MEMORY=default` keeps the defaults."""

import os
import subprocess
import sys

import pytest

FREED_AFTER_A_LARGE_ARRAY = """
import ctypes, json
import numpy as np
import poppy_pipeline  # applies the settings unless POPPY_MEMORY=default
from numpy._core.multiarray import _set_madvise_hugepage

class MallInfo2(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(name, ctypes.c_size_t) for name in names.split()]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
column = np.ones(50_000_000)  # 400 MB
mapped_alone = mallinfo2().hblkhd  # bytes in blocks that have their own mmap
del column
hugepages = _set_madvise_hugepage(True)  # returns the setting it replaces
print(json.dumps({"hugepages": hugepages, "mapped_alone": mapped_alone, "free_in_heap": mallinfo2().fordblks}))
"""


def _measure(**environment: str) -> dict:
    import json

    completed = subprocess.run(
        [sys.executable, "-c", FREED_AFTER_A_LARGE_ARRAY],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_a_freed_large_array_stays_in_the_heap():
    kept = _measure()
    assert not kept["hugepages"]
    assert kept["mapped_alone"] < 50_000_000 * 8  # served from the heap, not by its own mmap
    assert kept["free_in_heap"] >= 50_000_000 * 8  # and, freed, kept there for the next array


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_glibc_defaults_on_request():
    default = _measure(POPPY_MEMORY="default")
    assert default["hugepages"]
    assert default["mapped_alone"] >= 50_000_000 * 8  # glibc's own mmap for a block this large
    assert default["free_in_heap"] < 50_000_000 * 8  # unmapped when freed
