"""A made-up log in MovieLens' `u.data` layout, drawn by a generator that is not the project's.

Tab-separated `user, item, rating, unix time`, no header. Like the public 100k log: every user
rates at least 20 movies (a shifted negative binomial, not a log-normal), a user rates each
movie once, ratings are mostly 3-4 with personal biases, users rate in sittings of a few dozen
ratings seconds to minutes apart, at all hours (nights included), more at weekends.
"""

from pathlib import Path

import numpy as np
import pandas as pd

MAPPING = """\
delimiter: "\\t"
header: false
columns: [user, item, rating, time]
user: user
item: item
rating: rating
timestamp: time
timestamp_format: unix
event_type: Rate
"""
# Share of ratings 1..5 before a user's bias (about MovieLens 100k's marginal).
RATING_SHARES = np.array([0.06, 0.11, 0.27, 0.34, 0.22])
WEEKDAY_WEIGHTS = np.array([0.9, 0.9, 0.9, 0.9, 1.0, 1.2, 1.2])  # Monday first


def movielens_like(
    seed: int = 7, users: int = 300, movies: int = 800, start: str = "2024-02-01", days: int = 28
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    counts = np.minimum(20 + rng.negative_binomial(1.2, 0.03, users), movies)
    user_of = np.repeat(np.arange(1, users + 1), counts)
    appeal = rng.permutation(movies) + 1.0
    weights = appeal**-0.9
    # Each user's movies without repeats: Gumbel top-k over log popularity.
    keys = np.log(weights)[None, :] + rng.gumbel(size=(users, movies))
    ranked = np.argsort(-keys, axis=1)
    item_of = np.concatenate([ranked[u, : counts[u]] for u in range(users)]) + 1
    bias = rng.normal(0, 0.45, users)[user_of - 1]
    latent = rng.choice(5, len(user_of), p=RATING_SHARES) + 1 + bias + rng.normal(0, 0.3, len(user_of))
    ratings = np.clip(np.rint(latent), 1, 5).astype(int)
    stamps = _sittings(rng, counts, pd.Timestamp(start), days)
    frame = pd.DataFrame({"user": user_of, "item": item_of, "rating": ratings, "time": stamps})
    return frame.sort_values(["time", "user"], kind="stable").reset_index(drop=True)


def _sittings(rng: np.random.Generator, counts: np.ndarray, start: pd.Timestamp, days: int) -> np.ndarray:
    """Unix seconds: each user's ratings in sittings of ~15, gaps of 5-120 s within one."""
    n = int(counts.sum())
    user_index = np.repeat(np.arange(len(counts)), counts)
    first_of_user = np.r_[True, user_index[1:] != user_index[:-1]]
    new_sitting = first_of_user | (rng.random(n) < 1 / 15)
    sitting = np.cumsum(new_sitting) - 1
    sittings = int(sitting[-1]) + 1
    day_weights = WEEKDAY_WEIGHTS[(start.day_of_week + np.arange(days)) % 7]
    day = rng.choice(days, sittings, p=day_weights / day_weights.sum())
    # Hours: a broad evening bump over a floor that keeps nights busy (~25% at 00-06).
    hour_weights = 1.0 + 0.6 * np.exp(-0.5 * ((np.arange(24) - 20) / 3.0) ** 2)
    hour = rng.choice(24, sittings, p=hour_weights / hour_weights.sum())
    begin = start.value // 10**9 + day * 86_400 + hour * 3600 + rng.integers(0, 3600, sittings)
    gaps = np.where(new_sitting, 0, rng.lognormal(np.log(25), 0.8, n)).astype(np.int64)
    within = np.cumsum(gaps) - np.maximum.accumulate(np.where(new_sitting, np.cumsum(gaps), 0))
    return begin[sitting] + within


def as_events(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The log in the project's interaction columns, as the csv format reads it, and its catalog."""
    events = pd.DataFrame(
        {
            "User_ID": frame["user"],
            "Object_Type": "Star",
            "Object_ID": frame["item"],
            "Interaction_Type": "Rate",
            "Interaction_Rating": frame["rating"],
            "Timestamp": pd.to_datetime(frame["time"], unit="s"),
            "Watch_Time_Sec": np.nan,
        }
    )
    items = np.arange(1, int(frame["item"].max()) + 1)
    return events, pd.DataFrame({"Object_Type": "Star", "Object_ID": items, "Duration_Sec": np.nan})


def write_movielens(folder: Path, **options) -> tuple[Path, Path]:
    """`u.data` and its mapping file, `u.yaml`."""
    folder.mkdir(parents=True, exist_ok=True)
    data, mapping = folder / "u.data", folder / "u.yaml"
    movielens_like(**options).to_csv(data, sep="\t", header=False, index=False)
    mapping.write_text(MAPPING)
    return data, mapping
