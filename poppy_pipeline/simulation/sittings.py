"""Sittings: a user's events chained by log-normal gaps, cut into browsing sessions of ≤ 300 s.

A real log's sittings can last far longer than a browsing session (seed 001's 10-300 s, which
`session_actions` replays): MovieLens-like users rate ~15 movies tens of seconds apart, over
six minutes and more. With `session_gap_median_sec` > 0 the simulation places a session's
events one gap after another instead of uniformly inside a browsing session's length, and a
sitting that outlasts 300 s becomes consecutive browsing sessions (new `Session_ID`s), so
every `Session_ID` still fits its browsing session.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from poppy_pipeline.simulation.profiles import SESSION_MAX_SEC


def sitting_offsets(uniforms: np.ndarray, starts: np.ndarray, median_sec: float, sigma: float) -> np.ndarray:
    """Whole seconds from its sitting's first event to each event (events in sitting order;
    `starts` marks each sitting's first): log-normal gaps with this median and σ, cumulated."""
    gaps = np.where(starts, 0.0, median_sec * np.exp(sigma * ndtri(np.clip(uniforms, 1e-12, 1 - 1e-12))))
    total = np.cumsum(gaps)
    offsets: NDArray[np.int64] = np.floor(total - np.maximum.accumulate(np.where(starts, total, 0.0))).astype(np.int64)
    return offsets


def browsing_cuts(offsets: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Where a browsing session starts: at each sitting's start, and every 300 s into a sitting."""
    chunk = offsets // int(SESSION_MAX_SEC)
    cuts: NDArray[np.bool_] = starts | np.r_[True, chunk[1:] != chunk[:-1]]
    return cuts


def burst_offsets(
    uniforms: np.ndarray, same_second: np.ndarray, starts: np.ndarray, median_sec: float, sigma: float
) -> np.ndarray:
    """As `sitting_offsets`, with a mixture of gaps: 0 s where `same_second` (a burst of events
    sent together), else a log-normal gap in whole seconds, at least 1."""
    lognormal = median_sec * np.exp(sigma * ndtri(np.clip(uniforms, 1e-12, 1 - 1e-12)))
    gaps = np.where(starts | same_second, 0, np.maximum(1, np.rint(lognormal))).astype(np.int64)
    total = np.cumsum(gaps)
    return total - np.maximum.accumulate(np.where(starts, total, 0))
