"""Ratings logs with a real ratings log's habits, drawn by a generator that is not the project's.

`ratings_log(...)` draws users who arrive over the span and rate a batch of items when they do
(MovieLens keeps users with ≥ `floor` ratings), then come back on a few more days. Each habit of
the public MovieLens 100k log is one option, so a test can have it or not:

- `repeats`: False (default): a user rates an item once (items drawn without replacement);
- `burst_share`: share of the gaps within a sitting that are 0 s (several ratings sent in the
  same second, as a form that submits many at once); the other gaps are tens of seconds;
- `popularity_sigma`: items' appeal is log-normal with this σ (1.9: items' Gini about 0.65);
- `personal_hour_share`: share of a user's sittings that start near their own time of day
  (within about an hour); the others follow the population's daily profile;
- `floor`: every user has at least this many ratings (their arrival batch), a tail no heavier
  than a negative binomial's.

The times of day, the spread of the returns and the per-sitting lengths are drawn differently
from the simulation's mechanics (normal jitter around a personal hour, gamma-distributed batches,
uniform returns after arrival), so a fit that recovers them has not just met its own model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RATING_SHARES = np.array([0.06, 0.11, 0.27, 0.34, 0.22])
# The population's time of day (UTC): a broad evening bump over a floor (nights stay busy).
HOUR_WEIGHTS = 1.0 + 0.8 * np.exp(-0.5 * ((np.arange(24) - 20) / 3.0) ** 2)
HOUR_WEIGHTS = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()


def ratings_log(
    seed: int = 11,
    users: int = 400,
    items: int = 900,
    start: str = "2024-02-01",
    days: int = 60,
    *,
    repeats: bool = False,
    burst_share: float = 0.55,
    popularity_sigma: float = 1.9,
    personal_hour_share: float = 0.7,
    floor: int = 20,
) -> pd.DataFrame:
    """`user, item, rating, time` (Unix seconds), sorted by time: MovieLens' `u.data` columns."""
    rng = np.random.default_rng(seed)
    arrival = rng.integers(0, days, users)
    batch = floor + rng.negative_binomial(1.3, 0.035, users)  # the arrival day's ratings
    returns = rng.binomial(np.maximum(days - 1 - arrival, 0), rng.beta(0.6, 8.0, users))  # later active days
    later = np.repeat(np.arange(users), returns)
    later_day = arrival[later] + 1 + np.floor(rng.random(len(later)) * (days - 1 - arrival[later])).astype(int)
    later_size = 1 + rng.negative_binomial(0.8, 0.08, len(later))
    user_day = np.r_[np.arange(users), later]
    day_of = np.r_[arrival, later_day]
    size = np.r_[batch, later_size]
    order = np.lexsort((day_of, user_day))
    user_day, day_of, size = user_day[order], day_of[order], size[order]
    # Sittings: a user-day is one sitting, sometimes two (a second one hours later).
    hours = _sitting_hours(rng, users, user_day, personal_hour_share)
    start_second = (
        pd.Timestamp(start).value // 10**9 + day_of * 86_400 + hours * 3600 + rng.integers(0, 3600, len(day_of))
    )
    user_of = np.repeat(user_day, size)
    sitting_of = np.repeat(np.arange(len(size)), size)
    first = np.r_[True, sitting_of[1:] != sitting_of[:-1]]
    gaps = np.where(rng.random(len(user_of)) < burst_share, 0, np.rint(rng.gamma(1.4, 22.0, len(user_of))) + 1)
    gaps = np.where(first, 0, gaps).astype(np.int64)
    total = np.cumsum(gaps)
    within = total - np.maximum.accumulate(np.where(first, total, 0))
    stamps = start_second[sitting_of] + within
    item_of = _items(rng, user_of, items, popularity_sigma, repeats)
    bias = rng.normal(0, 0.45, users)[user_of]
    latent = rng.choice(5, len(user_of), p=RATING_SHARES) + 1 + bias + rng.normal(0, 0.3, len(user_of))
    ratings = np.clip(np.rint(latent), 1, 5).astype(int)
    frame = pd.DataFrame({"user": user_of + 1, "item": item_of + 1, "rating": ratings, "time": stamps})
    return frame.sort_values(["time", "user"], kind="stable").reset_index(drop=True)


def _sitting_hours(rng: np.random.Generator, users: int, user_day: np.ndarray, share: float) -> np.ndarray:
    """Each sitting's hour: near the user's own (normal jitter, SD 0.8 h) or the population's."""
    own = rng.choice(24, users, p=HOUR_WEIGHTS)
    near = np.rint(own[user_day] + rng.normal(0, 0.8, len(user_day))).astype(int) % 24
    anyone = rng.choice(24, len(user_day), p=HOUR_WEIGHTS)
    return np.where(rng.random(len(user_day)) < share, near, anyone)


def _items(rng: np.random.Generator, user_of: np.ndarray, items: int, sigma: float, repeats: bool) -> np.ndarray:
    """Each rating's item: by log-normal appeal, without repeats per user (Gumbel top-k) unless `repeats`."""
    log_appeal = sigma * rng.standard_normal(items)
    if repeats:
        weights = np.exp(log_appeal - log_appeal.max())
        return rng.choice(items, len(user_of), p=weights / weights.sum())
    counts = np.bincount(user_of)
    out = np.empty(len(user_of), dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)]
    for first in range(0, len(counts), 256):  # blocks of users: a users × items key matrix at a time
        block = slice(first, min(first + 256, len(counts)))
        keys = log_appeal[None, :] + rng.gumbel(size=(block.stop - block.start, items))
        ranked = np.argsort(-keys, axis=1)
        for u in range(block.start, block.stop):
            out[starts[u] : starts[u + 1]] = ranked[u - block.start, : min(counts[u], items)]
    return out


def as_events(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The log in the project's interaction columns, as the csv format reads it, and its catalog."""
    events = pd.DataFrame(
        {
            "User_ID": frame["user"],
            "Object_Type": "Star",
            "Object_ID": frame["item"],
            "Interaction_Type": "Rate",
            "Interaction_Rating": frame["rating"].astype("Int64"),
            "Timestamp": pd.to_datetime(frame["time"], unit="s"),
            "Watch_Time_Sec": np.nan,
        }
    )
    items = np.arange(1, int(frame["item"].max()) + 1)
    return events, pd.DataFrame({"Object_Type": "Star", "Object_ID": items, "Duration_Sec": np.nan})


def habits(events: pd.DataFrame) -> dict[str, float]:
    """The habits as measured on a log in the interaction columns (what the issue measured by hand)."""
    ordered = events.sort_values(["User_ID", "Timestamp"], kind="stable")
    users = ordered["User_ID"].to_numpy()
    seconds = ordered["Timestamp"].to_numpy("datetime64[s]").astype(np.int64)
    same_user = np.r_[False, users[1:] == users[:-1]]
    gaps = np.diff(seconds, prepend=seconds[:1])[same_user]
    within = gaps[gaps <= 1800]
    per_item = ordered.groupby(["Object_Type", "Object_ID"]).size().to_numpy()
    per_user = ordered.groupby("User_ID").size()
    hours = ordered.assign(hour=ordered["Timestamp"].dt.hour).groupby(["User_ID", "hour"]).size()
    busiest = hours.groupby(level=0).max() / per_user
    values = np.sort(per_item)
    n = len(values)
    return {
        "repeat_share": float(ordered.duplicated(["User_ID", "Object_Type", "Object_ID"]).mean()),
        "item_gini": float((2 * np.arange(1, n + 1) - n - 1) @ values / (n * values.sum())),
        "busiest_hour_share": float(busiest.mean()),
        "events_per_user_median": float(per_user.median()),
        "events_per_user_min": float(per_user.min()),
        "events_per_user_max": float(per_user.max()),
        "same_second_share": float((within == 0).mean()),
        "gap_p90_within_sittings": float(np.quantile(within, 0.9)),
    }
