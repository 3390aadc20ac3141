"""Seed 001's target measures as they were before issue 14 (on all the windows of a run at once),
kept as the reference `window_targets.WindowTargets` must equal day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from poppy_pipeline.behaviour.window_targets import POSITIVE_SHARE_RANGE
from poppy_pipeline.common.user_bootstrap import (
    LEVEL,
    RESAMPLES,
    Interval,
    ShareInterval,
    resampling_units,
    user_resamples,
)
from poppy_pipeline.simulation.pattern_results import PatternResult
from poppy_pipeline.simulation.profiles import PROFILE_NAMES


def positive_share_interval(
    labels: np.ndarray | pd.Series,
    user_ids: np.ndarray | pd.Series,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> ShareInterval:
    """The share of `labels` equal to 1 and its percentile interval from `resamples` user resamples."""
    labels = np.asarray(labels, dtype=np.float64)
    if not len(labels):
        return ShareInterval(np.nan, np.nan, np.nan, 0, 0, resamples, level)
    units, count = resampling_units(np.asarray(user_ids), seed)
    windows = np.bincount(units, minlength=count).astype(np.float64)
    positives = np.bincount(units, weights=labels, minlength=count)
    counts = user_resamples(count, seed, "user_bootstrap:positive_share", resamples)
    interval = Interval.of(positives.sum() / windows.sum(), (counts @ positives) / (counts @ windows), level)
    users = len(np.unique(np.asarray(user_ids)))
    return ShareInterval(interval.estimate, interval.low, interval.high, len(labels), users, resamples, level)


def positive_share(windows: pd.DataFrame) -> PatternResult:
    """6% ± 2 points of windows positive, unless the window cannot tell: its interval over users overlaps 4-8%.

    The interval is a bootstrap over users, since a user's windows are not independent.
    """
    interval = positive_share_interval(windows["Label"], windows["User_ID"])
    low, high = POSITIVE_SHARE_RANGE
    return PatternResult(
        "positive_share",
        interval.overlaps(low, high),
        interval.share if interval.windows else 0.0,
        f"{low:.2f}..{high:.2f} may hold the share",
        {
            "interval": [interval.low, interval.high] if interval.windows else [],
            "interval_method": f"{interval.level:.0%} percentile interval, {interval.resamples} bootstrap"
            f" resamples of {interval.users} users",
        },
    )


def profiles_present(windows: pd.DataFrame, users: pd.DataFrame) -> PatternResult:
    """Every browsing profile that has users has windows."""
    expected = [p for p in PROFILE_NAMES if (users["Profile"] == p).any()]
    present = set(users.set_index("User_ID")["Profile"].reindex(pd.unique(windows["User_ID"])).dropna())
    missing = [p for p in expected if p not in present]
    return PatternResult(
        "profiles_present",
        not missing,
        float(len(expected) - len(missing)),
        f"all of {expected}",
        {"missing": missing},
    )
