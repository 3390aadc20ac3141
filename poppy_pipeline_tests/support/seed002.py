"""A made-up log in seed 002's layout, and seed 002's notebook procedure to check it against."""

from pathlib import Path

import numpy as np
import pandas as pd

EVENT_TYPES = ["impression", "view", "like", "comment", "share", "follow_creator"]
WEIGHTS = {"impression": 0.0, "view": 0.2, "like": 1.0, "comment": 1.5, "share": 2.0, "follow_creator": 2.5}


def write_pings_folder(
    folder: Path, seed: int = 2, users: int = 20, pings: int = 40, events: int = 400, late_signups: int = 0
) -> Path:
    """users.csv, pings.csv and interactions.csv like seed 002's (string IDs, Jan-Feb 2024).

    `late_signups` users with events get a sign-up date after the log's last event, as the
    three new users of seed 002's own log have: all their events precede their sign-up.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    user_ids = [f"u{i}" for i in range(1, users + 1)]
    signups = pd.Timestamp("2023-11-01") + pd.to_timedelta(rng.integers(0, 115, users), unit="D")
    pd.DataFrame({"user_id": user_ids, "signup_date": signups.strftime("%Y-%m-%d"), "country": "NL"}).to_csv(
        folder / "users.csv", index=False
    )
    ping_ids = [f"p{i}" for i in range(1, pings + 1)]
    durations = rng.integers(8, 60, pings)
    pd.DataFrame(
        {
            "ping_id": ping_ids,
            "creator_id": rng.choice(user_ids, pings),
            "main_hashtag": rng.choice(["pets", "music", "travel", "makeup", "football"], pings),
            "category": rng.choice(["comedy", "gaming", "education", "dance", "beauty"], pings),
            "duration_sec": durations,
            "created_at": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 55, pings), unit="D")).strftime(
                "%Y-%m-%d"
            ),
        }
    ).to_csv(folder / "pings.csv", index=False)
    kinds = rng.choice(EVENT_TYPES, events, p=[0.25, 0.3, 0.2, 0.1, 0.1, 0.05])
    ping_of_event = rng.integers(0, pings, events)
    # Views watch part of the ping, sometimes more than all of it (rewatch: clipped to 1).
    watch = np.where(kinds == "view", np.round(rng.random(events) * 1.2 * durations[ping_of_event]), 0).astype(int)
    stamps = pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 28 * 86_400, events), unit="s")
    pd.DataFrame(
        {
            "user_id": rng.choice(user_ids, events),
            "ping_id": np.asarray(ping_ids)[ping_of_event],
            "event_type": kinds,
            "watch_time_sec": watch,
            "event_timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"),
        }
    ).to_csv(folder / "interactions.csv", index=False)
    if late_signups:
        _sign_up_after_the_log(folder, late_signups, rng)
    return folder


def _sign_up_after_the_log(folder: Path, count: int, rng: np.random.Generator) -> None:
    table = pd.read_csv(folder / "users.csv")
    log = pd.read_csv(folder / "interactions.csv", parse_dates=["event_timestamp"])
    late = rng.choice(sorted(log["user_id"].unique()), count, replace=False)
    after = log["event_timestamp"].max().normalize() + pd.to_timedelta(rng.integers(1, 4, count), unit="D")
    moved = dict(zip(late, after.strftime("%Y-%m-%d"), strict=True))
    table["signup_date"] = table["user_id"].map(moved).fillna(table["signup_date"])
    table.to_csv(folder / "users.csv", index=False)


def add_future_users(folder: Path, count: int) -> list[str]:
    """Users who sign up after the log's last event and have no event: not users yet."""
    table = pd.read_csv(folder / "users.csv")
    last = pd.read_csv(folder / "interactions.csv", parse_dates=["event_timestamp"])["event_timestamp"].max()
    ids = [f"future{i}" for i in range(1, count + 1)]
    dates = (last.normalize() + pd.to_timedelta(np.arange(1, count + 1), unit="D")).strftime("%Y-%m-%d")
    future = pd.DataFrame({"user_id": ids, "signup_date": dates, "country": "NL"})
    pd.concat([table, future], ignore_index=True).to_csv(folder / "users.csv", index=False)
    return ids


def seed002_figures(folder: Path) -> dict:
    """Seed 002's notebook, line for line (its cells 45, 59, 63 and 65), on `folder`."""
    users = pd.read_csv(folder / "users.csv", parse_dates=["signup_date"])
    pings = pd.read_csv(folder / "pings.csv", parse_dates=["created_at"])
    interactions = pd.read_csv(folder / "interactions.csv", parse_dates=["event_timestamp"])

    inter = interactions.copy()
    inter["event_weight"] = inter["event_type"].map(WEIGHTS)
    inter = inter.merge(pings[["ping_id", "duration_sec"]], on="ping_id", how="left")
    inter["watch_time_ratio"] = (inter["watch_time_sec"] / inter["duration_sec"]).fillna(0).clip(0, 1)
    inter["interaction_score"] = inter["event_weight"] + inter["watch_time_ratio"]
    eng = inter.groupby(["user_id", "ping_id"], as_index=False).agg(
        {"interaction_score": "sum", "watch_time_sec": "sum", "duration_sec": "first"}
    )
    eng["engagement_score"] = eng["interaction_score"]

    view_events = inter[inter["event_type"] == "view"].copy()
    described = view_events["watch_time_ratio"].describe(percentiles=[0.25, 0.5, 0.75, 0.9])
    hist_counts, bin_edges = np.histogram(view_events["watch_time_ratio"], bins=10)

    top_pings = eng.groupby("ping_id")["engagement_score"].sum().sort_values(ascending=False).head(10).reset_index()

    latest_ts = interactions["event_timestamp"].max()
    cutoff_date = latest_ts - pd.Timedelta(days=7)
    users["is_new"] = users["signup_date"] >= cutoff_date
    engaging_events = interactions[interactions["event_type"].isin(["view", "like", "comment", "share"])].copy()
    engaging_events = engaging_events.merge(pings[["ping_id", "duration_sec"]], on="ping_id", how="left")
    user_stats = (
        engaging_events.groupby("user_id")
        .agg({"watch_time_sec": "sum", "duration_sec": "sum", "ping_id": "nunique"})
        .rename(columns={"ping_id": "n_interacted_pings"})
    )
    user_stats["avg_watch_time_ratio"] = (user_stats["watch_time_sec"] / user_stats["duration_sec"]).replace(
        [np.inf, np.nan], 0
    )
    merged = users.merge(user_stats, on="user_id", how="left").fillna(0)
    comparison = (
        merged.groupby("is_new")
        .agg({"avg_watch_time_ratio": "mean", "n_interacted_pings": "mean", "user_id": "count"})
        .rename(columns={"user_id": "num_users"})
    )
    return {
        "describe": described,
        "histogram": (hist_counts, bin_edges),
        "top_pings": top_pings,
        "comparison": comparison,
        "eng": eng,
    }
