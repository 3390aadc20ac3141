"""Real action logs: what a browser records, in place of the simulated `session_actions`.

A CSV with the columns `Session_ID, User_ID, Timestamp, Action, Scroll_Amount` (others are
ignored). Its rows become `session_actions` rows:

- `Session_ID`, `User_ID`: kept as written (integers when every value is one, text otherwise);
  a session belongs to the user of its first row.
- `Timestamp`: ISO 8601, with or without a UTC offset (converted to UTC), to the millisecond
  (finer digits are cut). A row belongs to the day of its timestamp.
- `Action`: one of the nine actions of `sessions.ACTIONS`.
- `Scroll_Amount`: pixels; empty means 0; a negative value is read as its magnitude (browsers
  record upward scrolls as negative deltas, the direction is already in `Action`).

A row that breaks a rule is never dropped silently: it is returned with its original columns
plus a `reason` naming the line and the column (`line 7: Action 'jump' is not one of …`), and
the valid rows go on. A missing file or column is an `ActionLogError` naming both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from poppy_pipeline.sessions import ACTION_COLUMNS, ACTIONS
from poppy_pipeline.sources import Checked, RowRules, SourceError, read_raw_csv, split_by_day

# A missing file or column is the same error as for an interaction log.
ActionLogError = SourceError


def read_action_log(path: Path) -> Checked:
    """Read and check an action log; raise `ActionLogError` if the file or a column is missing."""
    raw = read_raw_csv(path, ACTION_COLUMNS)
    rules = RowRules(raw)
    session_ids = raw["Session_ID"].str.strip()
    user_ids = raw["User_ID"].str.strip()
    rules.reject(session_ids.isna() | (session_ids == ""), "Session_ID", "is empty")
    rules.reject(user_ids.isna() | (user_ids == ""), "User_ID", "is empty")
    stamps = _timestamps(raw["Timestamp"])
    rules.reject(stamps.isna(), "Timestamp", "is not a date-time")
    actions = raw["Action"].str.strip()
    rules.reject(~actions.isin(ACTIONS), "Action", f"is not one of {', '.join(ACTIONS)}")
    amounts = pd.to_numeric(raw["Scroll_Amount"].str.strip(), errors="coerce")
    rules.reject(
        raw["Scroll_Amount"].notna() & ~np.isfinite(amounts.fillna(np.inf)), "Scroll_Amount", "is not a number"
    )
    ok = rules.ok
    first_user = user_ids[ok].groupby(session_ids[ok]).transform("first")
    rules.reject(
        user_ids.ne(first_user.reindex(raw.index)), "User_ID", "differs from the user of the session's first row"
    )

    ok = rules.ok.to_numpy()
    valid = pd.DataFrame(
        {
            "Session_ID": _ids(session_ids[ok]),
            "User_ID": _ids(user_ids[ok]),
            "Timestamp": stamps[ok],
            "Action": actions[ok],
            "Scroll_Amount": amounts[ok].fillna(0.0).abs(),
        }
    )[ACTION_COLUMNS].reset_index(drop=True)
    return Checked(path, valid, rules.rejected(), len(raw))


def _timestamps(values: pd.Series) -> pd.Series:
    """UTC date-times to the millisecond (NaT where unparseable); naive values are read as UTC."""
    stamps = pd.to_datetime(values.str.strip(), errors="coerce", format="ISO8601", utc=True)
    return stamps.dt.tz_convert(None).dt.floor("ms").dt.as_unit("ms")


def _ids(values: pd.Series) -> np.ndarray:
    """Integers when every value is one (like the simulation's IDs), the text otherwise."""
    numbers = pd.to_numeric(values, errors="coerce")
    if len(values) and numbers.notna().all() and (numbers == np.floor(numbers)).all():
        return numbers.to_numpy(np.int64)
    return values.to_numpy(dtype=object)


def split_actions_by_day(actions: pd.DataFrame, days: list[str]) -> tuple[dict[str, pd.DataFrame], int]:
    """The rows of each requested day (in time order, ties in file order), and how many fall outside."""
    return split_by_day(actions, days)
