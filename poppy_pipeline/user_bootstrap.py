"""The share of positive windows, and how sure a run can be of it: a bootstrap over users.

Windows of one user are not independent draws: the user's receptiveness to ads sets the labels
of all their windows, and at 100 users a handful of heavy users make a large part of the windows.
A binomial error over windows then claims a precision the run does not have. So the interval
comes from resampling *users* with replacement, each with all their windows: per user, the counts
of windows and positives; per resample, `users` draws of a user; the resample's share is the sum
of the drawn users' positives over the sum of their windows, for a block of resamples at once.
The stream is seeded and users are taken in sorted order, so the same windows always give the
same interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from poppy_pipeline.randomness import stream

RESAMPLES = 1000
LEVEL = 0.90
BOOTSTRAP_SEED = 0
# Resamples drawn at once: a (block, users) matrix of about this many cells stays small in memory.
BLOCK_CELLS = 2_000_000


@dataclass(frozen=True)
class ShareInterval:
    """The share of positive windows and its bootstrap interval over users at `level`."""

    share: float
    low: float
    high: float
    windows: int
    users: int
    resamples: int
    level: float

    def overlaps(self, low: float, high: float) -> bool:
        """Whether [low, high] may hold the share: false only when the whole interval lies outside."""
        return self.windows > 0 and self.high >= low and self.low <= high


def positive_share_interval(
    labels: np.ndarray | pd.Series,
    user_ids: np.ndarray | pd.Series,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = BOOTSTRAP_SEED,
) -> ShareInterval:
    """The share of `labels` equal to 1 and its percentile interval from `resamples` user resamples."""
    labels = np.asarray(labels, dtype=np.float64)
    if not len(labels):
        return ShareInterval(np.nan, np.nan, np.nan, 0, 0, resamples, level)
    user = pd.factorize(np.asarray(user_ids), sort=True, use_na_sentinel=False)[0]  # row order is irrelevant
    windows = np.bincount(user).astype(np.float64)
    positives = np.bincount(user, weights=labels)
    shares = resampled_shares(windows, positives, resamples, seed)
    low, high = np.quantile(shares, [(1 - level) / 2, (1 + level) / 2])
    share = float(positives.sum() / windows.sum())
    return ShareInterval(share, float(low), float(high), len(labels), len(windows), resamples, level)


def resampled_shares(windows: np.ndarray, positives: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Σ positives / Σ windows over the users of each resample (users drawn with replacement)."""
    users = len(windows)
    generator = stream(seed, "user_bootstrap:positive_share")
    block = max(1, BLOCK_CELLS // users)
    shares = []
    for first in range(0, resamples, block):  # a few blocks at most: bounded memory for many users
        drawn = generator.integers(0, users, size=(min(block, resamples - first), users))
        shares.append(positives[drawn].sum(axis=1) / windows[drawn].sum(axis=1))
    return np.concatenate(shares)
