"""Measure seed 001's targets on a window of `sliding_window_features`, as `patterns.py` does for seed 000.

Each function returns a `PatternResult` (measured value, target, verdict, details); the checks
`positive_share` and `profiles_present`, computed in the `sliding_window_features` step, report
it, the tests assert it. Both targets concern
the simulation's behaviour model: a real action log owes nothing to them.
"""

from __future__ import annotations

import pandas as pd

from poppy_pipeline.patterns import PatternResult
from poppy_pipeline.profiles import PROFILE_NAMES
from poppy_pipeline.user_bootstrap import positive_share_interval

POSITIVE_SHARE_RANGE = (0.04, 0.08)


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
