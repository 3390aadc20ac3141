"""A checked input split into the days of a run, with every row accounted for.

`valid in window + valid outside it + quarantined = input rows`, always; a window without a
single valid row is an error (a run on it would overwrite good outputs with empty ones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from poppy_pipeline.sources.raw_csv import SourceError
from poppy_pipeline.sources.rows import Checked


@dataclass
class DailyRows:
    checked: Checked
    days: dict[str, pd.DataFrame]  # every requested day, empty where the input has no row
    outside: int  # valid rows on other days

    @property
    def in_window(self) -> int:
        return len(self.checked.valid) - self.outside

    @property
    def span(self) -> str:
        keys = list(self.days)
        return f"{keys[0]}..{keys[-1]}"

    def counts(self) -> dict[str, int]:
        return {
            "input_rows": self.checked.input_rows,
            "valid_rows_in_window": self.in_window,
            "rows_outside_window": self.outside,
            "quarantined_rows": len(self.checked.rejected),
        }

    def describe(self) -> str:
        return (
            f"{self.checked.source_file}: {self.checked.input_rows} rows: {self.in_window} valid in {self.span},"
            f" {self.outside} valid outside it, {len(self.checked.rejected)} quarantined"
        )

    def require_rows(self, partitions_start: str | None = None) -> DailyRows:
        """Itself, or a `SourceError` when no valid row falls in the window; it names the log's
        own days, and the setting to change when they are before the daily partitions start."""
        if self.in_window == 0:
            first = self.checked.rejected["reason"].iloc[0] if len(self.checked.rejected) else None
            detail = f"; first quarantined: {first}" if first else ""
            raise SourceError(
                self.checked.source_file,
                f"no valid rows in {self.span} ({self.checked.input_rows} rows: {self.outside} valid outside"
                f" the window, {len(self.checked.rejected)} quarantined{detail}), so nothing is written"
                + self._log_range(partitions_start),
            )
        return self

    def _log_range(self, partitions_start: str | None) -> str:
        stamps = self.checked.valid["Timestamp"]
        if stamps.empty:
            return ""
        first, last = str(stamps.min().date()), str(stamps.max().date())
        if partitions_start and first < partitions_start:
            return (
                f"; the log runs {first}..{last}, before the daily partitions start ({partitions_start}):"
                f" set POPPY_PARTITIONS_START={first} and run START={first} END={last}"
            )
        return f"; the log runs {first}..{last}: run START={first} END={last}"


def split_by_day(checked: Checked, days: list[str], tiebreak: tuple[str, ...] = ()) -> DailyRows:
    """The valid rows of each requested day (by `Timestamp`, then `tiebreak`, then input order)."""
    rows = checked.valid
    ordered = rows.sort_values(["Timestamp", *tiebreak], kind="stable")
    day_of_row = ordered["Timestamp"].to_numpy().astype("datetime64[D]")  # sorted, so each day is one slice
    wanted = np.array(days, dtype="datetime64[D]")
    starts, ends = np.searchsorted(day_of_row, wanted, "left"), np.searchsorted(day_of_row, wanted, "right")
    by_day = {day: ordered.iloc[s:e].reset_index(drop=True) for day, s, e in zip(days, starts, ends, strict=True)}
    in_window = sum(len(frame) for frame in by_day.values())
    return DailyRows(checked, by_day, len(rows) - in_window)
