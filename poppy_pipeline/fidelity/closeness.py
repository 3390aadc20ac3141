"""How close a simulation is to a real log, judged against the real log's own noise floor.

Per statistic: the real value, the simulated value and a closeness in [0, 1]: 1 − the
Kolmogorov-Smirnov distance for distributions (events per user, gaps, object popularity), 1 −
the total-variation distance for categorical profiles (hour, weekday, rating, event type), and
1 − the relative difference for single numbers. `overall` is the mean closeness of the
distributions and profiles. The noise floor is the same comparison between two halves of the
real log (users split at random): a simulation cannot be expected to be closer to the log than
the log is to itself. The detection AUC (`detection.py`) completes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from poppy_pipeline.fidelity.estimators import zipf_exponent
from poppy_pipeline.fidelity.fit import poppy_type_codes
from poppy_pipeline.simulation.settings import INTERACTION_TYPES

SHORT_GAP_SEC = 5 * 60
NOISE_FLOOR_SEED = 20_240_201


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance (sup |F_a − F_b|); 1 when one side is empty."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else 1.0
    grid = np.concatenate([a, b])
    return float(np.abs(np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b)).max())


def tv_distance(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0 if p.sum() == q.sum() else 1.0
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def relative_closeness(a: float, b: float) -> float:
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("nan")
    scale = max(abs(a), abs(b))
    return 1.0 if scale == 0 else float(max(0.0, 1 - abs(a - b) / scale))


def gini(counts: np.ndarray) -> float:
    values = np.sort(np.asarray(counts, float))
    if len(values) == 0 or values.sum() == 0:
        return float("nan")
    n = len(values)
    return float((2 * np.arange(1, n + 1) - n - 1) @ values / (n * values.sum()))


def top_decile_share(counts: np.ndarray) -> float:
    values = np.sort(np.asarray(counts, float))[::-1]
    return (
        float(values[: max(1, int(np.ceil(len(values) / 10)))].sum() / values.sum()) if values.sum() else float("nan")
    )


def profiles(events: pd.DataFrame) -> dict[str, Any]:
    """What the comparison reads from a log: distributions (arrays, and per type a list of them) and profiles
    (counts)."""
    ordered = events.sort_values(["User_ID", "Timestamp"], kind="stable")
    users = ordered["User_ID"].to_numpy()
    seconds = ordered["Timestamp"].to_numpy("datetime64[s]").astype(np.int64)
    same_user = np.r_[False, users[1:] == users[:-1]]
    gaps = np.diff(seconds, prepend=seconds[:1])[same_user].astype(float)
    ratings = pd.to_numeric(events["Interaction_Rating"], errors="coerce").dropna().astype(int)
    rated = events.loc[ratings.index]
    object_counts = events.groupby(["Object_Type", "Object_ID"], observed=True).size().to_numpy()
    by_type = events.groupby(["Object_Type", "Object_ID"], observed=True).size().groupby(level=0, observed=True)
    return {
        "per_user": events["User_ID"].value_counts().to_numpy(),
        "per_object": object_counts,
        "per_object_by_type": [group.to_numpy() for _, group in by_type],
        "gaps": gaps,
        "hours": np.bincount(events["Timestamp"].dt.hour, minlength=24),
        "weekdays": np.bincount(events["Timestamp"].dt.day_of_week, minlength=7),
        "types": np.bincount(poppy_type_codes(events["Interaction_Type"]), minlength=len(INTERACTION_TYPES)),
        "ratings": np.bincount(ratings, minlength=6)[1:6],
        "user_mean_ratings": rated.assign(r=ratings).groupby("User_ID")["r"].mean().to_numpy(),
        "repeats": ordered.duplicated(["User_ID", "Object_Type", "Object_ID"]).to_numpy(),
    }


def compare(real: pd.DataFrame, simulated: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Every statistic: `{real, simulated, closeness, kind}`."""
    a, b = profiles(real), profiles(simulated)
    rows: dict[str, dict[str, Any]] = {}

    def add(name: str, x: float, y: float, closeness: float, kind: str) -> None:
        rows[name] = {"real": _rounded(x), "simulated": _rounded(y), "closeness": _rounded(closeness), "kind": kind}

    def scalar(name: str, f: Callable[..., float]) -> None:  # f(profile), some with bound defaults
        x, y = f(a), f(b)
        add(name, x, y, relative_closeness(x, y), "number")

    # Distributions (KS) and profiles (TV): these make `overall`.
    add("events_per_user", *_means(a, b, "per_user"), 1 - ks_distance(a["per_user"], b["per_user"]), "distribution")
    add("gaps_sec", *_medians(a, b, "gaps"), 1 - ks_distance(np.log1p(a["gaps"]), np.log1p(b["gaps"])), "distribution")
    add(
        "object_popularity",
        *_means(a, b, "per_object"),
        1 - ks_distance(_relative(a["per_object"]), _relative(b["per_object"])),
        "distribution",
    )
    for name in ("hours", "weekdays", "types", "ratings"):
        add(f"{name}_profile", _peak(a[name]), _peak(b[name]), 1 - tv_distance(a[name], b[name]), "profile")
    # Single numbers.
    for q, label in ((0.5, "median"), (0.9, "p90"), (1.0, "max")):
        scalar(f"events_per_user_{label}", lambda p, q=q: float(np.quantile(p["per_user"], q)))
    scalar("events_per_user_mean", lambda p: float(p["per_user"].mean()))
    scalar("activity_lognormal_sigma", lambda p: float(np.std(np.log(p["per_user"]))))
    for what in ("per_user", "per_object"):
        scalar(f"gini_{what}", lambda p, w=what: gini(p[w]))
        scalar(f"top10_share_{what}", lambda p, w=what: top_decile_share(p[w]))
    scalar("repeat_share", lambda p: float(p["repeats"].mean()))
    scalar("night_share_00_06", lambda p: float(p["hours"][:6].sum() / max(p["hours"].sum(), 1)))
    scalar("gap_median_sec", lambda p: _quantile(p["gaps"], 0.5))
    scalar("gap_p90_sec", lambda p: _quantile(p["gaps"], 0.9))
    scalar("gap_share_under_5_min", lambda p: float((p["gaps"] < SHORT_GAP_SEC).mean()) if len(p["gaps"]) else np.nan)
    scalar("rating_mean", lambda p: _rating_mean(p["ratings"]))
    scalar(
        "rating_bias_spread", lambda p: float(np.std(p["user_mean_ratings"])) if len(p["user_mean_ratings"]) else np.nan
    )
    scalar("popularity_slope", lambda p: zipf_exponent(p["per_object_by_type"]))
    return rows


def overall(rows: dict[str, dict[str, Any]]) -> float:
    scores = [r["closeness"] for r in rows.values() if r["kind"] != "number" and r["closeness"] is not None]
    return float(np.mean(scores)) if scores else float("nan")


def split_by_user(events: pd.DataFrame, seed: int = NOISE_FLOOR_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two halves of a log, each user wholly in one (chosen at random, seeded)."""
    users = np.asarray(pd.unique(events["User_ID"]))
    first = set(np.random.default_rng(seed).permutation(users)[: len(users) // 2].tolist())
    in_first = events["User_ID"].isin(first).to_numpy()
    return events[in_first], events[~in_first]


def _means(a: dict[str, Any], b: dict[str, Any], key: str) -> tuple[float, float]:
    return float(np.mean(a[key])) if len(a[key]) else np.nan, float(np.mean(b[key])) if len(b[key]) else np.nan


def _medians(a: dict[str, Any], b: dict[str, Any], key: str) -> tuple[float, float]:
    return _quantile(a[key], 0.5), _quantile(b[key], 0.5)


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else float("nan")


def _relative(counts: np.ndarray) -> np.ndarray:
    """Counts over their mean: popularity's shape without the log's size."""
    return counts / counts.mean() if len(counts) else counts


def _peak(counts: np.ndarray) -> float:
    """A profile's single number: the share of its largest bin."""
    return float(counts.max() / counts.sum()) if counts.sum() else float("nan")


def _rating_mean(counts: np.ndarray) -> float:
    return float(np.arange(1, 6) @ counts / counts.sum()) if counts.sum() else float("nan")


def _rounded(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
