"""Measure seed 001's targets on a window of `sliding_window_features`, as `patterns.py` does for seed 000.

Each function returns a `PatternResult` (measured value, target, verdict, details); the checks
`positive_share` and `profiles_present`, computed in the `sliding_window_features` step, report
it, the tests assert it. Both targets concern the simulation's behaviour model: a real action
log owes nothing to them. Both need only each user's count of windows and of positive ones, so
`WindowTargets` adds a window's days up one at a time (memory of its users, not of its windows);
the functions on one frame are that accumulator given a single day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from poppy_pipeline.patterns import PatternResult
from poppy_pipeline.profiles import PROFILE_NAMES
from poppy_pipeline.user_bootstrap import positive_share_interval_of_users

POSITIVE_SHARE_RANGE = (0.04, 0.08)


class WindowTargets:
    """Each user's windows and positive windows over the days given to `add_day` (any order)."""

    def __init__(self) -> None:
        self.per_user = pd.DataFrame({"windows": pd.Series([], dtype=np.int64), "positives": []})

    def add_day(self, windows: pd.DataFrame) -> None:
        """Count one day's windows (0/1 labels: sums of them are exact in any order)."""
        if not len(windows):
            return
        labels = windows["Label"].to_numpy(dtype=np.float64)
        day = pd.DataFrame({"windows": 1, "positives": labels}).groupby(windows["User_ID"].to_numpy()).sum()
        merged = self.per_user.add(day, fill_value=0)
        self.per_user = merged.astype({"windows": np.int64})

    def positive_share(self) -> PatternResult:
        """6% ± 2 points of windows positive, unless the window cannot tell: its interval over users
        overlaps 4-8%. The interval is a bootstrap over users, since a user's windows are not independent."""
        per_user = self.per_user.sort_index()
        interval = positive_share_interval_of_users(
            per_user.index.to_numpy(), per_user["windows"].to_numpy(), per_user["positives"].to_numpy()
        )
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
        return _profiles_present(self.per_user.index, users)


def _profiles_present(user_ids: pd.Index | np.ndarray, users: pd.DataFrame) -> PatternResult:
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

    Counts and sums, and the oracle's distinct values with their windows and positives: the
    AUC's average ranks need nothing else, so it equals `oracle.ranking_auc` of the whole window
    bit for bit. The means sum day by day (within 1e-12 relative of one pass over the window).
    """

    def __init__(self, users: pd.DataFrame, simulated: bool) -> None:
        self.profiles = users.set_index("User_ID")["Profile"]
        self.simulated = simulated
        self.windows = self.positives = 0
        self.oracle_sum = 0.0
        self.scores = np.empty(0, dtype=np.float64)  # distinct oracle values, ascending
        self.score_counts = np.empty((2, 0), dtype=np.int64)  # windows, positives per value
        self.by_profile = pd.DataFrame({"windows": pd.Series([], dtype=np.int64), "positives": [], "oracle": []})

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
        self._add_scores(oracle, labels)
        profiles = windows["User_ID"].map(self.profiles).to_numpy()
        day = pd.DataFrame({"windows": 1, "positives": labels, "oracle": oracle}).groupby(profiles).sum()
        self.by_profile = self.by_profile.add(day, fill_value=0).astype({"windows": np.int64})

    def _add_scores(self, oracle: np.ndarray, labels: np.ndarray) -> None:
        scores = np.concatenate((self.scores, oracle))
        windows = np.concatenate((self.score_counts[0], np.ones(len(oracle), dtype=np.int64)))
        positives = np.concatenate((self.score_counts[1], labels))
        order = np.argsort(scores, kind="stable")
        scores = scores[order]
        starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])  # as ranking_auc groups ties
        self.scores = scores[starts]
        self.score_counts = np.add.reduceat(np.stack((windows[order], positives[order])), starts, axis=1)

    def metadata(self) -> dict:
        """`windows`, `positive_share`; on simulated actions with both labels, `mean_oracle_probability`,
        `oracle_auc` and `by_profile` (a table: Profile, windows, positive_share, mean_oracle; 4 places)."""
        found = {"windows": self.windows, "positive_share": self.positives / self.windows if self.windows else 0.0}
        if self.simulated and 0 < self.positives < self.windows:
            found["mean_oracle_probability"] = self.oracle_sum / self.windows
            found["oracle_auc"] = self.oracle_auc()
            per_profile = self.by_profile.sort_index()
            table = pd.DataFrame(
                {
                    "windows": per_profile["windows"],
                    "positive_share": per_profile["positives"] / per_profile["windows"],
                    "mean_oracle": per_profile["oracle"] / per_profile["windows"],
                }
            ).rename_axis("Profile")
            found["by_profile"] = table.round(4).reset_index()
        return found

    def oracle_auc(self) -> float:
        """The Mann-Whitney AUC with average ranks for ties, as `oracle.ranking_auc` computes it."""
        sizes, positives = self.score_counts
        starts = np.cumsum(sizes) - sizes
        average_rank = starts + (sizes + 1) / 2
        rank_sum = float((average_rank * positives).sum())
        n_positive = int(positives.sum())
        n_negative = int(sizes.sum()) - n_positive
        return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)
