"""Sums over windows of an action array sorted by (session, time): the kernels of `windows.py`.

A window is a slice `[lo, hi)` of that array. Every statistic is a difference of prefix sums,
so all windows cost O(actions + windows) together. The gap sums are integer milliseconds, so
the variance and covariance numerators (n·Σg² − (Σg)² …) are exact and zero or constant gaps
give exactly 0, not rounding noise; gaps are clipped at the window length before squaring (a
gap inside a window never exceeds it), so the prefix sums cannot overflow.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray


def prefix_sums(values: np.ndarray, dtype: DTypeLike) -> np.ndarray:
    """prefix[i] = Σ values[:i], so a window's sum is prefix[hi] − prefix[lo]."""
    prefix: np.ndarray = np.zeros(len(values) + 1, dtype=dtype)
    np.cumsum(values, dtype=dtype, out=prefix[1:])
    return prefix


def window_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Σ values[lo:hi] of each window, as floats."""
    prefix = prefix_sums(values, np.float64)
    sums: NDArray[np.float64] = prefix[hi] - prefix[lo]
    return sums


def action_entropy(counts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """−Σ p·ln p = ln n − Σ c·ln c / n, with c·ln c looked up per count; exactly 0 for a single kind."""
    sizes = np.arange(int(n.max(initial=0)) + 1)
    c_log_c = sizes * np.log(np.maximum(sizes, 1))
    total = np.maximum(n, 1)
    entropy = np.log(total) - c_log_c[counts].sum(axis=0) / total
    entropy[counts.max(axis=0, initial=0) == n] = 0.0
    nonnegative: NDArray[np.float64] = np.maximum(entropy, 0.0)
    return nonnegative


def gap_statistics(time_ms: np.ndarray, lo: np.ndarray, hi: np.ndarray, window_ms: int) -> tuple[np.ndarray, ...]:
    """Burstiness (std/mean of the gaps) and engagement rhythm (lag-1 correlation), exactly.

    With the window's gaps g (integer ms), both come from integer sums, as
    std/mean = √(k·Σg² − (Σg)²) / Σg over k gaps, and Pearson's r of the pairs (g_i, g_i+1).
    """
    gaps = np.minimum(np.diff(time_ms, prepend=time_ms[:1]), window_ms).clip(0)  # gap j: actions j-1 → j
    squares = prefix_sums(gaps * gaps, np.int64)  # squares[i] = Σ_{j<i} g_j²
    pairs = prefix_sums(gaps[:-1] * gaps[1:], np.int64)  # pairs[i] = Σ_{j<i} g_j·g_j+1
    n = hi - lo
    burstiness = np.zeros(len(lo))
    many = np.flatnonzero(n >= 3)
    a, b, k = lo[many], hi[many], n[many] - 1
    total = time_ms[b - 1] - time_ms[a]
    spread = k * (squares[b] - squares[a + 1]) - total * total
    positive = total > 0
    burstiness[many[positive]] = np.sqrt(spread[positive]) / total[positive]

    rhythm = np.zeros(len(lo))
    many = np.flatnonzero(n >= 4)
    a, b, m = lo[many], hi[many], n[many] - 2
    sum_x = time_ms[b - 2] - time_ms[a]  # gaps a+1 .. b-2
    sum_y = time_ms[b - 1] - time_ms[a + 1]  # gaps a+2 .. b-1
    var_x = m * (squares[b - 1] - squares[a + 1]) - sum_x * sum_x
    var_y = m * (squares[b] - squares[a + 2]) - sum_y * sum_y
    cov = m * (pairs[b - 1] - pairs[a + 1]) - sum_x * sum_y
    defined = (var_x > 0) & (var_y > 0)
    r = cov[defined] / (np.sqrt(var_x[defined].astype(float)) * np.sqrt(var_y[defined].astype(float)))
    rhythm[many[defined]] = np.maximum(0.0, r)
    return burstiness, rhythm
