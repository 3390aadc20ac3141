"""Window summaries of the daily behaviour tables, added up one day at a time.

`session_actions` and `sliding_window_features` make a window's days one after another and keep
none of them; these tallies keep what their metadata and checks need, in the size of a day's
sessions or of a few columns per window, and give the same figures as the concatenated window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def add_counts(total: dict[str, int], found: dict[str, int]) -> None:
    """Add `found`'s counts into `total` (names in first-seen order)."""
    for name, count in found.items():
        total[name] = total.get(name, 0) + int(count)


class ActionTally:
    """Actions, distinct sessions and the action mix of a window of `session_actions`, day by day.

    A session is counted once even when it spans midnight (a real log's): only the previous day's
    session IDs are kept to recognise it.
    """

    def __init__(self, actions: Sequence[str]) -> None:
        self.actions = 0
        self.sessions = 0
        self._names = list(actions)
        self._counts: pd.Series = pd.Series(0, index=self._names, dtype="int64")
        self._previous_sessions = pd.Index([])

    def add(self, day: pd.DataFrame) -> None:
        self.actions += len(day)
        sessions = pd.Index(pd.unique(day["Session_ID"].dropna()))
        self.sessions += len(sessions) - len(sessions.intersection(self._previous_sessions))
        self._previous_sessions = sessions
        counts = day["Action"].astype(str).value_counts()
        self._counts = self._counts.add(counts, fill_value=0).astype("int64")

    def mix(self) -> dict[str, float]:
        """Each action's share of the window's actions (0 for all when there is none), rounded to 4 places."""
        shares = self._counts / self.actions if self.actions else self._counts * 0.0
        return {name: round(float(shares.get(name, 0.0)), 4) for name in self._names}


class WindowColumns:
    """The columns of a window of `sliding_window_features` that its summary and targets read.

    `User_ID`, `Label` and `Oracle_Probability` (17 bytes a window), gathered day by day.
    """

    COLUMNS = ("User_ID", "Label", "Oracle_Probability")

    def __init__(self) -> None:
        self._days: list[pd.DataFrame] = []

    def add(self, day: pd.DataFrame) -> None:
        self._days.append(day[list(self.COLUMNS)])

    def frame(self) -> pd.DataFrame:
        return pd.concat(self._days, ignore_index=True) if len(self._days) > 1 else self._days[0]


class FiniteTally:
    """Counts of non-finite features, labels not 0/1 and oracle values outside [0, 1], day by day."""

    def __init__(self, features: Sequence[str]) -> None:
        self.features = list(features)
        self.windows = 0
        self.not_finite = np.zeros(len(self.features), dtype=np.int64)
        self.bad_labels = 0
        self.bad_oracle = 0

    def add(self, windows: pd.DataFrame) -> None:
        self.windows += len(windows)
        values = windows[self.features].to_numpy(dtype=float)
        self.not_finite += (~np.isfinite(values)).sum(axis=0)
        oracle = pd.to_numeric(windows["Oracle_Probability"], errors="coerce")
        self.bad_labels += int((~windows["Label"].isin([0, 1])).sum())
        self.bad_oracle += int(((oracle < 0) | (oracle > 1)).sum())

    def not_finite_by_feature(self) -> dict[str, int]:
        return {name: int(count) for name, count in zip(self.features, self.not_finite, strict=True) if count}

    @property
    def passed(self) -> bool:
        return not self.not_finite.any() and self.bad_labels == 0 and self.bad_oracle == 0
