"""Measure seed 001's targets on a window of `sliding_window_features`, as `patterns.py` does for seed 000.

Each function returns a `PatternResult` (measured value, target, verdict, details); the checks
`positive_share` and `profiles_present`, computed in the `sliding_window_features` step, report
it, the tests assert it. Both targets concern the simulation's behaviour model: a real action
log owes nothing to them. Both need only each user's count of windows and of positive ones, so
`WindowTargets` adds a window's days up one at a time (memory of its users, not of its windows);
the functions on one frame are that accumulator given a single day.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from poppy_pipeline.common.codes import Codebook, Lookup, add_counts
from poppy_pipeline.common.user_bootstrap import positive_share_interval_of_users
from poppy_pipeline.simulation.pattern_results import PatternResult
from poppy_pipeline.simulation.profiles import PROFILE_NAMES

POSITIVE_SHARE_RANGE = (0.04, 0.08)


class WindowTargets:
    """Each user's windows and positive windows over the days given to `add_day` (any order).

    `users` (optional) numbers the known users by row, which is faster; others are numbered as they come.
    """

    def __init__(self, users: pd.DataFrame | None = None) -> None:
        self.codes = Codebook(users["User_ID"] if users is not None else ())
        self.windows = np.zeros(0, dtype=np.int64)
        self.positives = np.zeros(0, dtype=np.float64)

    def add_day(self, windows: pd.DataFrame) -> None:
        """Count one day's windows (0/1 labels: sums of them are exact in any order)."""
        if not len(windows):
            return
        codes = self.codes.encode(windows["User_ID"])
        labels = windows["Label"].to_numpy(dtype=np.float64)
        self.windows = add_counts(self.windows, codes, len(self.codes))
        self.positives = add_counts(self.positives, codes, len(self.codes), labels)

    def users(self) -> tuple[pd.Index, np.ndarray]:
        """The users with windows, ascending (as `np.unique` orders them), and their codes."""
        seen = np.flatnonzero(self.windows)
        seen = seen[seen != self.codes.missing]  # a window always has a user
        values = self.codes.value_of(seen)
        order = values.argsort()
        return values[order], seen[order]

    def positive_share(self) -> PatternResult:
        """6% ± 2 points of windows positive, unless the window cannot tell: its interval over users
        overlaps 4-8%. The interval is a bootstrap over users, since a user's windows are not independent."""
        users, codes = self.users()
        interval = positive_share_interval_of_users(users.to_numpy(), self.windows[codes], self.positives[codes])
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

    def profiles_present(self, users: pd.DataFrame) -> PatternResult:
        """Every browsing profile that has users has windows."""
        return _profiles_present(self.users()[0], users)


def _profiles_present(user_ids: pd.Index | np.ndarray | ExtensionArray, users: pd.DataFrame) -> PatternResult:
    expected = [p for p in PROFILE_NAMES if (users["Profile"] == p).any()]
    present = set(users.set_index("User_ID")["Profile"].reindex(user_ids).dropna())
    missing = [p for p in expected if p not in present]
    return PatternResult(
        "profiles_present",
        not missing,
        float(len(expected) - len(missing)),
        f"all of {expected}",
        {"missing": missing},
    )


def _one_day(windows: pd.DataFrame) -> WindowTargets:
    targets = WindowTargets()
    targets.add_day(windows)
    return targets


def positive_share(windows: pd.DataFrame) -> PatternResult:
    """`WindowTargets.positive_share` of one frame of windows."""
    return _one_day(windows).positive_share()


def profiles_present(windows: pd.DataFrame, users: pd.DataFrame) -> PatternResult:
    """`WindowTargets.profiles_present` of one frame of windows (their users; labels not needed)."""
    return _profiles_present(pd.unique(windows["User_ID"]), users)


class WindowSummary:
    """`sliding_window_features`' summary of its window (windows, positive share, and on simulated
    actions the oracle's mean and AUC and a table by profile) from days added one at a time.

    Counts and sums, and the oracle's values of the positive and of the other windows (8 bytes a
    window, not the window's 25 columns; sorted once, at the end): the AUC counts, for each positive, the others
    below it and half those tied, exactly, so it equals `oracle.ranking_auc` of the whole window bit
    for bit. The means sum day by day (within 1e-12 relative of one pass over the window).
    """

    def __init__(self, users: pd.DataFrame, simulated: bool) -> None:
        self.users = Lookup(users["User_ID"])
        user_profiles, self.profile_names = pd.factorize(users["Profile"])
        self.user_profiles = np.append(user_profiles, -1)  # -1: no profile, or not a known user
        self.simulated = simulated
        self.windows = self.positives = 0
        self.oracle_sum = 0.0
        self.scores: tuple[list[np.ndarray], list[np.ndarray]] = (
            [],
            [],
        )  # the oracle values of the other and of the positive windows
        self.per_profile = np.zeros((3, len(self.profile_names)))  # windows, positives, oracle sum

    def add_day(self, windows: pd.DataFrame) -> None:
        if not len(windows):
            return
        labels = windows["Label"].to_numpy(dtype=np.int64)
        self.windows += len(labels)
        self.positives += int(labels.sum())
        if not self.simulated:
            return
        oracle = windows["Oracle_Probability"].to_numpy(float)
        self.oracle_sum += float(oracle.sum())
        positive = labels == 1
        self.scores[0].append(oracle[~positive])
        self.scores[1].append(oracle[positive])
        profiles = self.user_profiles[self.users.positions(windows["User_ID"])]
        known = profiles >= 0
        for row, weights in enumerate((None, labels, oracle)):
            chosen = None if weights is None else weights[known]
            self.per_profile[row] += np.bincount(profiles[known], chosen, minlength=len(self.profile_names))

    def metadata(self) -> dict[str, Any]:
        """`windows`, `positive_share`; on simulated actions with both labels, `mean_oracle_probability`,
        `oracle_auc` and `by_profile` (a table: Profile, windows, positive_share, mean_oracle; 4 places)."""
        found: dict[str, Any] = {
            "windows": self.windows,
            "positive_share": self.positives / self.windows if self.windows else 0.0,
        }
        if self.simulated and 0 < self.positives < self.windows:
            found["mean_oracle_probability"] = self.oracle_sum / self.windows
            found["oracle_auc"] = self.oracle_auc()
            windows, positives, oracle = self.per_profile
            present = windows > 0
            table = pd.DataFrame(
                {
                    "windows": windows[present].astype(np.int64),
                    "positive_share": positives[present] / windows[present],
                    "mean_oracle": oracle[present] / windows[present],
                },
                index=pd.Index(self.profile_names[present], name="Profile"),
            )
            found["by_profile"] = table.sort_index().round(4).reset_index()
        return found

    def oracle_auc(self) -> float:
        """The Mann-Whitney AUC, ties counting one half: `ranking_auc`'s numerator (its rank sum less
        n(n + 1)/2, exact in floats) is this count, so the quotient is the same float."""
        others, positives = (np.sort(np.concatenate(chunks)) for chunks in self.scores)
        below = np.searchsorted(others, positives, side="left")
        tied = np.searchsorted(others, positives, side="right") - below
        twice_pairs_won = 2 * int(below.sum()) + int(tied.sum())
        return (twice_pairs_won / 2) / (len(positives) * len(others))
