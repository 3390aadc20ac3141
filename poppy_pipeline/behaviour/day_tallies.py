"""Check counts of the daily behaviour tables, added up one day at a time.

`session_actions` and `sliding_window_features` make a window's days one after another and keep
none of them; their blocking checks add each day's problem counts into the window's (the
summaries and targets accumulate in `session_measures.ActionTotals` and `window_targets`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def add_counts(total: dict[str, int], found: dict[str, int]) -> None:
    """Add `found`'s counts into `total` (names in first-seen order)."""
    for name, count in found.items():
        total[name] = total.get(name, 0) + int(count)


class FiniteTally:
    """Counts of non-finite features, labels not 0/1 and oracle values outside [0, 1], day by day."""

    def __init__(self, features: Sequence[str]) -> None:
        self.features = list(features)
        self.windows = 0
        self.not_finite = np.zeros(len(self.features), dtype=np.int64)
        self.bad_labels = 0
        self.bad_oracle = 0

    def add_day(self, windows: pd.DataFrame) -> None:
        self.windows += len(windows)
        # Column by column: one 2-D copy of 20 features costs more than the check itself.
        self.not_finite += [np.count_nonzero(~np.isfinite(windows[name].to_numpy(float))) for name in self.features]
        oracle = pd.to_numeric(windows["Oracle_Probability"], errors="coerce")
        self.bad_labels += int((~windows["Label"].isin([0, 1])).sum())
        self.bad_oracle += int(((oracle < 0) | (oracle > 1)).sum())

    def not_finite_by_feature(self) -> dict[str, int]:
        return {name: int(count) for name, count in zip(self.features, self.not_finite, strict=True) if count}

    @property
    def passed(self) -> bool:
        return not self.not_finite.any() and self.bad_labels == 0 and self.bad_oracle == 0
