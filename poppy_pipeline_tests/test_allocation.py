"""allocation.keep_freed_memory: a freed large array stays in the heap for the next one."""

import os
import subprocess
import sys

import pytest

FREED_AFTER_A_LARGE_ARRAY = """
import ctypes, json
import numpy as np
import poppy_pipeline  # applies the setting unless POPPY_MALLOC=default
from poppy_pipeline.allocation import keep_freed_memory

class MallInfo2(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(name, ctypes.c_size_t) for name in names.split()]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
column = np.ones(50_000_000)  # 400 MB
mapped_alone = mallinfo2().hblkhd  # bytes in blocks that have their own mmap
del column
print(json.dumps({"applied": keep_freed_memory(), "mapped_alone": mapped_alone, "free_in_heap": mallinfo2().fordblks}))
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
    assert kept["applied"]
    assert kept["mapped_alone"] < 50_000_000 * 8  # served from the heap, not by its own mmap
    assert kept["free_in_heap"] >= 50_000_000 * 8  # and, freed, kept there for the next array


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_glibc_defaults_on_request():
    default = _measure(POPPY_MALLOC="default")
    assert not default["applied"]
    assert default["mapped_alone"] >= 50_000_000 * 8  # glibc's own mmap for a block this large
    assert default["free_in_heap"] < 50_000_000 * 8  # unmapped when freed
