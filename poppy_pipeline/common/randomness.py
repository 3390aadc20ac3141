"""Deterministic random streams derived from (seed, day, stream name).

Every draw in the project comes from `stream(...)`, so a partition's data depends only on the
seed, its own date and the stream's name: never on run order, other partitions or the clock.
"""

from __future__ import annotations

import zlib
from datetime import date

import numpy as np

# Day key of streams that belong to no day (catalog, users, per-user favourites).
TIMELESS = 0


def stream(seed: int, name: str, day: date | None = None) -> np.random.Generator:
    """A generator for one named stream of one day (or of no day)."""
    day_key = TIMELESS if day is None else day.toordinal()
    name_key = zlib.crc32(name.encode("utf-8"))
    sequence = np.random.SeedSequence(entropy=int(seed), spawn_key=(day_key, name_key))
    return np.random.Generator(np.random.PCG64(sequence))
