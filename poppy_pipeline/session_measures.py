"""Measures of a day of `session_actions` that its asset checks use (all zero when it holds)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from poppy_pipeline.behaviour import ACTIONS
from poppy_pipeline.profiles import SESSION_MAX_SEC, SESSION_MIN_SEC
from poppy_pipeline.session_simulation import DAY_MS


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
    """Simulated sessions that are not 10-300 s long, open with a focus, end with their only close_tab."""
    ordered = actions.sort_values(["Session_ID", "Timestamp"], kind="stable")
    grouped = ordered.groupby("Session_ID")
    seconds = (grouped["Timestamp"].max() - grouped["Timestamp"].min()).dt.total_seconds()
    closes = (ordered["Action"].astype(str) == "close_tab").groupby(ordered["Session_ID"]).sum()
    return {
        "length_outside_10_300_s": int((~seconds.between(SESSION_MIN_SEC, SESSION_MAX_SEC)).sum()),
        "not_opened_by_focus_window": int((grouped["Action"].first().astype(str) != "focus_window").sum()),
        "not_ended_by_close_tab": int((grouped["Action"].last().astype(str) != "close_tab").sum()),
        "several_close_tabs": int((closes > 1).sum()),
    }


def same_actions(stored: pd.DataFrame, generated: pd.DataFrame) -> bool:
    """Whether a stored `session_actions` day is exactly what the generator produces (row by row)."""
    if len(stored) != len(generated):
        return False
    if not pd.api.types.is_integer_dtype(stored["Session_ID"]):  # e.g. a real log's text IDs
        return False
    stored_ms = stored["Timestamp"].to_numpy().astype("datetime64[ms]")
    generated_ms = generated["Timestamp"].to_numpy().astype("datetime64[ms]")
    return bool(
        (stored["Session_ID"].to_numpy(np.int64) == generated["Session_ID"].to_numpy(np.int64)).all()
        and (stored_ms == generated_ms).all()
        and (stored["Action"].astype(str).to_numpy() == generated["Action"].astype(str).to_numpy()).all()
        and (pd.to_numeric(stored["Scroll_Amount"]).to_numpy() == generated["Scroll_Amount"].to_numpy()).all()
    )
