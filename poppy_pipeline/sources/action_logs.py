"""Real action logs: what a browser records, in place of the simulated `session_actions`.

A CSV with the columns `Session_ID, User_ID, Timestamp, Action, Scroll_Amount` (others are
ignored). Its rows become `session_actions` rows:

- `Session_ID`, `User_ID`: kept as written (integers when every value is a positive integer in
  its plain form, the text otherwise: `007` stays `007`); a session belongs to the user of its
  first row.
- `Timestamp`: ISO 8601; with a UTC offset (`+01:00`, `Z`) converted to UTC, without one read in
  the source's time zone (default UTC); to the millisecond (finer digits are cut). A row belongs
  to the UTC day of its timestamp.
- `Action`: one of the nine actions of `behaviour.ACTIONS`.
- `Scroll_Amount`: pixels; empty means 0; a negative value is read as its magnitude (browsers
  record upward scrolls as negative deltas, the direction is already in `Action`); more than
  `MAX_SCROLL_PX` is not a scroll a screen can make.

A row that breaks a rule is never dropped silently: it is returned with its original columns
plus a `reason` naming the line and the column (`line 7: Action 'jump' is not one of …`), and
the valid rows go on. A file that cannot be used (missing, not UTF-8, a missing column) is an
`ActionLogError` naming the file, line and column.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from poppy_pipeline.behaviour.model import ACTION_COLUMNS, ACTIONS
from poppy_pipeline.sources.daily_rows import DailyRows, split_by_day
from poppy_pipeline.sources.raw_csv import SourceError, read_raw_csv
from poppy_pipeline.sources.rows import UTC, Checked, RowRules, finite_numbers, ids_as_written, reject_timestamps

# A missing file or column is the same error as for an interaction log.
ActionLogError = SourceError
MAX_SCROLL_PX = 1_000_000


def read_action_log(path: Path, zone: str = UTC, read: Callable[[Path], bytes] = Path.read_bytes) -> Checked:
    """Read and check an action log; raise `ActionLogError` if the file cannot be used."""
    return check_action_rows(path, RowRules.of(read_raw_csv(path, ACTION_COLUMNS, read=read)), zone)


def check_action_rows(source: Path, rules: RowRules, zone: str = UTC) -> Checked:
    """The rules of an action table, whatever it was read from."""
    session_ids = rules.text("Session_ID")
    user_ids = rules.text("User_ID")
    rules.reject(session_ids.isna(), "Session_ID", "is empty")
    rules.reject(user_ids.isna(), "User_ID", "is empty")
    actions = rules.text("Action")
    rules.reject(~actions.isin(ACTIONS), "Action", f"is not one of {', '.join(ACTIONS)}")
    amounts = finite_numbers(rules.raw["Scroll_Amount"])
    given = rules.text("Scroll_Amount").notna()
    rules.reject(given & amounts.isna(), "Scroll_Amount", "is not a number")
    rules.reject(amounts.abs() > MAX_SCROLL_PX, "Scroll_Amount", f"is more than {MAX_SCROLL_PX:,} px")
    stamps = reject_timestamps(rules, "Timestamp", zone)
    ok = rules.ok
    first_user = user_ids[ok].groupby(session_ids[ok]).transform("first")
    rules.reject(
        user_ids.ne(first_user.reindex(rules.raw.index)) & ok,
        "User_ID",
        "differs from the user of the session's first row",
    )

    kept = rules.ok.to_numpy()
    valid = pd.DataFrame(
        {
            "Session_ID": ids_as_written(session_ids[kept]),
            "User_ID": ids_as_written(user_ids[kept]),
            "Timestamp": stamps[kept].dt.floor("ms").dt.as_unit("ms"),
            "Action": actions[kept].astype(str),
            "Scroll_Amount": amounts[kept].fillna(0.0).abs(),
        }
    )[ACTION_COLUMNS]
    return rules.split(source, valid)


def split_actions_by_day(actions: Checked, days: list[str]) -> DailyRows:
    """The rows of each requested day (in time order, ties in file order), and how many fall outside."""
    return split_by_day(actions, days)
