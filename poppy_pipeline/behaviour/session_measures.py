"""Measures of a day of `session_actions` that its asset checks use (all zero when it holds), and
the window's summary (`ActionTotals`: sessions, actions, action mix) added up one day at a time."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from poppy_pipeline.behaviour.model import ACTIONS
from poppy_pipeline.behaviour.sessions import DAY_MS
from poppy_pipeline.common.codes import DistinctIds
from poppy_pipeline.simulation.profiles import SESSION_MAX_SEC, SESSION_MIN_SEC


def action_problems(actions: pd.DataFrame, day: date) -> dict[str, int]:
    """Rows of a day of `session_actions` that break its contract, by rule (all 0 when it holds)."""
    stamps = actions["Timestamp"].to_numpy().astype("datetime64[ms]")
    midnight = np.datetime64(day, "ms")
    off_day = (stamps < midnight) | (stamps >= midnight + np.timedelta64(DAY_MS, "ms"))
    amounts = pd.to_numeric(actions["Scroll_Amount"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    users_per_session = actions.groupby("Session_ID")["User_ID"].nunique()
    return {
        "unknown_action": int((~actions["Action"].astype(str).isin(ACTIONS)).sum()),
        "timestamp_off_the_day": int(off_day.sum()),
        "bad_scroll_amount": int((~np.isfinite(amounts) | (amounts < 0)).sum()),
        "sessions_with_several_users": int((users_per_session > 1).sum()),
    }


def session_problems(actions: pd.DataFrame, interactions: pd.DataFrame) -> dict[str, int]:
    """How a day's simulated sessions differ from the sessions of its interactions."""
    bounds = actions.groupby("Session_ID").agg(
        user=("User_ID", "first"), first=("Timestamp", "min"), last=("Timestamp", "max")
    )
    expected = interactions.groupby("Session_ID")["User_ID"].first()
    common = bounds.index.intersection(expected.index)
    joined = interactions.join(bounds, on="Session_ID", how="inner")
    outside = (joined["Timestamp"] < joined["first"]) | (joined["Timestamp"] > joined["last"])
    return {
        "sessions_without_actions": len(expected.index.difference(bounds.index)),
        "sessions_without_interactions": len(bounds.index.difference(expected.index)),
        "sessions_of_another_user": int((bounds.loc[common, "user"] != expected.loc[common]).sum()),
        "interactions_outside_their_session": int(outside.sum()),
    }


def session_shape_problems(actions: pd.DataFrame) -> dict[str, int]:
    """Simulated sessions that are not 10-300 s long, open with a focus, end with their only close_tab.

    A session opens with its first row (in file order) at its earliest time and ends with its last
    row at its latest time, as a stable sort by time would order them; found per session with
    grouped minima and maxima, without sorting the day.
    """
    session, session_ids = pd.factorize(actions["Session_ID"])
    count, rows = len(session_ids), np.arange(len(session))
    stamps = actions["Timestamp"].to_numpy().astype("datetime64[ms]").view(np.int64)
    first = _grouped(np.minimum, session, stamps, count)
    last = _grouped(np.maximum, session, stamps, count)
    at_first, at_last = stamps == first[session], stamps == last[session]
    opening = _grouped(np.minimum, session[at_first], rows[at_first], count)
    ending = _grouped(np.maximum, session[at_last], rows[at_last], count)
    is_focus = (actions["Action"] == "focus_window").to_numpy(dtype=bool, na_value=False)
    is_close = (actions["Action"] == "close_tab").to_numpy(dtype=bool, na_value=False)
    seconds = (last - first) / 1000
    return {
        "length_outside_10_300_s": int(((seconds < SESSION_MIN_SEC) | (seconds > SESSION_MAX_SEC)).sum()),
        "not_opened_by_focus_window": int((~is_focus[opening]).sum()),
        "not_ended_by_close_tab": int((~is_close[ending]).sum()),
        "several_close_tabs": int((np.bincount(session, weights=is_close, minlength=count) > 1).sum()),
    }


def _grouped(ufunc: np.ufunc, groups: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """ufunc (minimum or maximum) of `values` per group 0..count-1 (every group has a value)."""
    if not len(values):
        return np.zeros(count, dtype=values.dtype)
    out = np.full(count, values.max() if ufunc is np.minimum else values.min(), dtype=values.dtype)
    ufunc.at(out, groups, values)
    return out


class ActionTotals:
    """Sessions, actions and the action mix of the days given to `add_day` (any order), as counted
    on their concatenation: a session that spans two days counts once."""

    def __init__(self) -> None:
        self.sessions = DistinctIds()
        self.actions = 0
        self.per_action = pd.Series(dtype=np.int64)

    def add_day(self, actions: pd.DataFrame) -> None:
        if not len(actions):
            return
        self.actions += len(actions)
        self.sessions.add(actions["Session_ID"])
        counts = actions["Action"].astype(str).value_counts()
        self.per_action = self.per_action.add(counts, fill_value=0).astype(np.int64)

    def session_count(self) -> int:
        """Distinct Session_IDs (a missing one is not a session)."""
        return self.sessions.count - self.sessions.missing_seen

    def action_mix(self) -> dict[str, float]:
        """Each of `ACTIONS`' share of the actions (of all of them, unknown ones included), to 4 places."""
        total = int(self.per_action.sum())
        counts = self.per_action.reindex(list(ACTIONS), fill_value=0)
        return {
            action: round(float(count / total) if total else 0.0, 4)
            for action, count in zip(ACTIONS, counts, strict=True)
        }
