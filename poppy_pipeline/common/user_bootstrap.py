"""How sure a run can be of a figure over its windows: the bootstrap over users.

**Users are the sample.** Windows of one user overlap and share the user's latent traits (their
receptiveness to ads sets the labels of all their windows), and at 100 users a handful of heavy
users make a large part of the windows. An error over windows then claims a precision the run
does not have. So every interval of the project (the positive share here, the click model's gate
in `click_model_gate.py`) comes from one mechanism: draw *users* with replacement, `RESAMPLES`
times from a seeded stream (the same data give the same interval), and take each drawn user's
windows as many times as drawn. A resample is a row of counts per user (`user_resamples`), so a
figure that is a ratio of per-user sums is two matrix products for all resamples at once. Past
`MAX_GROUPS` users, fixed random groups of users are drawn instead (`resampling_units`), which
bounds memory; groups of independent users are independent too.

**The verdicts.** A check fails only when the data show the bar is missed: the whole interval on
the wrong side of it (`Interval.below`, `Interval.outside`, `ShareInterval.overlaps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poppy_pipeline.common.randomness import stream

RESAMPLES = 1000
LEVEL = 0.90
# Beyond this many users, fixed random groups of users are resampled instead (a (resamples, G)
# count matrix, and the gate's (G, G) pair counts, stay under 134 MB).
MAX_GROUPS = 4096
# The stream of the groups; named when only the click model's gate used it (a new name would
# redraw every group).
GROUPS_STREAM = "click_model:bootstrap:groups"


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval at `LEVEL`."""

    estimate: float
    low: float
    high: float

    @classmethod
    def of(cls, estimate: float, resampled: np.ndarray, level: float = LEVEL) -> Interval:
        """The percentile interval of the resampled values (resamples without a value are left out)."""
        finite = resampled[np.isfinite(resampled)]
        if not len(finite):  # too few users to resample: the point estimate alone
            return cls(float(estimate), float(estimate), float(estimate))
        low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
        return cls(float(estimate), float(low), float(high))

    def below(self, bar: float) -> bool:
        """The whole interval lies below `bar`: the data show the value misses it."""
        return bool(self.high < bar)

    def outside(self, tolerance: float) -> bool:
        """The whole interval lies outside ±`tolerance`."""
        return bool(self.low > tolerance or self.high < -tolerance)

    def as_list(self) -> list[float]:
        return [self.low, self.high]

    @classmethod
    def from_report(cls, report: dict[str, Any], name: str) -> Interval:
        return cls(report[name], *report[f"{name}_interval"])


def resampling_units(user_ids: np.ndarray, seed: int = 0) -> tuple[np.ndarray, int]:
    """Each window's resampling unit as 0..G-1, and G: its user, or past `MAX_GROUPS` users, a group of users.

    Users are numbered in sorted order, so the row order of the windows does not matter.
    """
    users, index = np.unique(np.asarray(user_ids), return_inverse=True)
    if len(users) <= MAX_GROUPS:
        return index, len(users)
    group = stream(seed, GROUPS_STREAM).permutation(len(users)) % MAX_GROUPS
    return group[index], MAX_GROUPS


def user_resamples(units: int, seed: int, stream_name: str, resamples: int = RESAMPLES) -> np.ndarray:
    """(resamples, units): how often each unit is drawn in each bootstrap resample."""
    generator = stream(seed, stream_name)
    return generator.multinomial(units, np.full(units, 1 / units), size=resamples).astype(np.float64)


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
    seed: int = 0,
) -> ShareInterval:
    """The share of `labels` equal to 1 and its percentile interval from `resamples` user resamples."""
    labels = np.asarray(labels, dtype=np.float64)
    users, index = np.unique(np.asarray(user_ids), return_inverse=True)  # (with the inverse: sorts, fast)
    windows = np.bincount(index, minlength=len(users))
    positives = np.bincount(index, weights=labels, minlength=len(users))
    return positive_share_interval_of_users(users, windows, positives, resamples, level, seed)


def positive_share_interval_of_users(
    users: np.ndarray,
    windows: np.ndarray,
    positives: np.ndarray,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> ShareInterval:
    """`positive_share_interval` from each user's count of windows and of positive ones (`users`
    sorted and distinct): what a window of days adds up day by day gives the same interval."""
    if not windows.sum():
        return ShareInterval(np.nan, np.nan, np.nan, 0, 0, resamples, level)
    units, count = resampling_units(users, seed)
    windows = np.bincount(units, weights=windows, minlength=count)
    positives = np.bincount(units, weights=positives, minlength=count)
    counts = user_resamples(count, seed, "user_bootstrap:positive_share", resamples)
    interval = Interval.of(positives.sum() / windows.sum(), (counts @ positives) / (counts @ windows), level)
    total = int(windows.sum())
    return ShareInterval(interval.estimate, interval.low, interval.high, total, len(users), resamples, level)
