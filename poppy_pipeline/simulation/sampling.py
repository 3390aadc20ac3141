"""Fast inverse-transform sampling for the Beta distributions drawn per event.

NumPy's Beta sampler costs ~50-100 ns a draw. Here a uniform draw picks one of 65,536
equiprobable atoms, each at the midpoint quantile of its slice of probability: one multiply and
one table lookup. The atoms are 1/65,536 of probability apart, far finer than anything the
simulation rounds to (whole seconds).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv

ATOMS = 65_536
MAX_BUCKETS = 1 << 22
CACHE_DIR = "POPPY_CACHE_DIR"  # default: $XDG_CACHE_HOME/poppy_pipeline or ~/.cache/poppy_pipeline


@lru_cache(maxsize=64)
def beta_quantiles(alpha: float, beta: float, atoms: int = ATOMS) -> np.ndarray:
    """Beta(α, β) quantiles at the midpoints of `atoms` equal slices of probability.

    Computed once per shape (20-60 ms each with scipy; a run asks for a dozen shapes, in every
    process) and kept: in this process, and on disk (`quantile_cache_dir()`), keyed by the shape
    and scipy's version, so the next process loads the very table scipy computed. Read-only, since
    every caller shares it.
    """
    path = quantile_cache_dir() / f"beta-{float(alpha).hex()}-{float(beta).hex()}-{atoms}-scipy{version('scipy')}.npy"
    table = _cached_table(path, atoms)
    if table is None:
        table = betaincinv(alpha, beta, (np.arange(atoms) + 0.5) / atoms)
        _keep(table, path)
    table.flags.writeable = False
    return table


def quantile_cache_dir() -> Path:
    if os.environ.get(CACHE_DIR):
        return Path(os.environ[CACHE_DIR])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "poppy_pipeline"


def _cached_table(path: Path, atoms: int) -> np.ndarray | None:
    """The table at `path`, if it is one: `atoms` increasing quantiles in [0, 1] (else recomputed)."""
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    valid = table.dtype == np.float64 and table.shape == (atoms,) and np.all((table >= 0) & (table <= 1))
    return table if valid and np.all(np.diff(table) >= 0) else None


def _keep(table: np.ndarray, path: Path) -> None:
    """Save `table` at `path` by a rename (readers never see half a file); a read-only disk is no error."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            np.save(handle, table, allow_pickle=False)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def sample_quantiles(
    table: NDArray[np.float64], uniforms: NDArray[np.float64], rows: NDArray[np.integer] | None = None
) -> NDArray[np.float64]:
    """Draws for `uniforms` ∈ [0, 1) from a quantile `table` (1-D, or 2-D with a row per draw)."""
    atoms = table.shape[-1]
    index = (uniforms * atoms).astype(np.int64)
    if rows is not None:
        index += rows * atoms
    draws: NDArray[np.float64] = table.ravel()[index]
    return draws


def searchsorted_right(values: np.ndarray, keys: np.ndarray, resolution: int = 1 << 16) -> np.ndarray:
    """`np.searchsorted(values, keys, side="right")` for many keys into a short sorted array.

    The same answer, 5-8× faster on millions of draws into a cumulative distribution: a table of
    `resolution` buckets per unit answers each key whose bucket holds no value (all but a few
    per mille), one lookup instead of a binary search; only the others are searched. The bucket
    of a key is `floor(key * resolution)`, exact for a power of two, so the answer is too.
    """
    return SortedLookup(values, resolution).search(keys)


class SortedLookup:
    """`searchsorted_right` into one sorted array, its bucket table made once for many searches."""

    def __init__(self, values: np.ndarray, resolution: int = 1 << 16) -> None:
        self.values, self.resolution = values, resolution
        top = float(values[-1]) if len(values) else 0.0
        self.table: np.ndarray | None = None
        # The table needs a bounded top (keys ≥ 0 are checked per search); otherwise the plain search.
        if 0.0 <= top * resolution < MAX_BUCKETS:
            buckets = int(top * resolution) + 2  # the last one lies above every value
            at_edges = np.searchsorted(values, np.arange(buckets) / resolution, side="right")
            at_next_edges = np.append(at_edges[1:], len(values))
            self.table = np.where(at_edges == at_next_edges, at_edges, -1)  # -1: a value falls inside

    def search(self, keys: np.ndarray) -> np.ndarray:
        flat = np.ravel(keys)
        if self.table is None or not flat.size or not flat.min() >= 0:  # with NaNs too: the plain search
            return np.searchsorted(self.values, keys, side="right")
        found = self.table[np.minimum(flat * self.resolution, len(self.table) - 1).astype(np.intp)]
        undecided = np.flatnonzero(found < 0)
        found[undecided] = np.searchsorted(self.values, flat[undecided], side="right")
        positions: NDArray[np.intp] = found.reshape(np.shape(keys))
        return positions
