"""Engagement scores (seed 002) and the trending export for the C# recommendation engine.

Per event: `weight[type] + clip(watch_time / duration, 0, 1)`, the ratio counting 0 where either
is missing. A (user, object) pair's `engagement_score` is the sum over its events. Everything
runs on whole arrays: factorised keys, `bincount` sums, `maximum.at` for the latest event.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

ENGAGEMENT_COLUMNS = [
    "User_ID",
    "Object_Type",
    "Object_ID",
    "n_events",
    "watch_time_sec",
    "watch_time_ratio",
    "engagement_score",
    "last_interaction",
]
TRENDING_COLUMNS = [
    "Object_Type",
    "Object_ID",
    "total_interactions",
    "num_views",
    "num_clicks",
    "num_favorites",
    "trending_score",
]
TRENDING_COUNTS = ("num_views", "num_clicks", "num_favorites")


def object_rows(interactions: pd.DataFrame, objects: pd.DataFrame) -> np.ndarray:
    """Row of each event's (Object_Type, Object_ID) in `objects`; -1 where it is not there."""
    catalog = pd.MultiIndex.from_arrays([objects["Object_Type"].astype(str), objects["Object_ID"]])
    if not catalog.is_unique:
        raise ValueError("objects has repeated (Object_Type, Object_ID) pairs")
    types = pd.Categorical(interactions["Object_Type"].astype(str), categories=catalog.levels[0])
    ids = pd.Categorical(interactions["Object_ID"], categories=catalog.levels[1])
    # Integer codes into the catalog's levels make the lookup a hash of one int64 per event.
    width = len(catalog.levels[1]) + 1
    catalog_keys = catalog.codes[0].astype(np.int64) * width + catalog.codes[1]
    event_keys = np.where((types.codes < 0) | (ids.codes < 0), -1, types.codes.astype(np.int64) * width + ids.codes)
    rows = pd.Index(catalog_keys).get_indexer(event_keys)
    return np.where(event_keys < 0, -1, rows)


def score_events(
    interactions: pd.DataFrame, objects: pd.DataFrame, weights: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, watch ratio, object row) of each event."""
    kinds = interactions["Interaction_Type"].astype(str)
    unknown = sorted(set(kinds.unique()) - set(weights))
    if unknown:
        raise ValueError(f"no engagement weight for event type(s) {unknown}; weights cover {sorted(weights)}")
    weight = kinds.map(weights).to_numpy(np.float64)
    rows = object_rows(interactions, objects)
    if (rows < 0).any():
        missing = interactions.loc[rows < 0, ["Object_Type", "Object_ID"]].drop_duplicates().head(5)
        raise ValueError(
            f"{int((rows < 0).sum())} events refer to objects not in the catalog, e.g. {missing.values.tolist()}"
        )
    duration = objects["Duration_Sec"].to_numpy(np.float64)[rows]
    watch = pd.to_numeric(interactions["Watch_Time_Sec"]).to_numpy(np.float64, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(np.nan_to_num(watch / duration, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    return weight + ratio, ratio, rows


def engagement_scores(interactions: pd.DataFrame, objects: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """One row per (User_ID, Object_Type, Object_ID), sorted by those keys."""
    if interactions.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in ENGAGEMENT_COLUMNS})
    score, _, rows = score_events(interactions, objects, weights)
    user_codes, user_values = pd.factorize(interactions["User_ID"], sort=True)
    pair_codes, pair_keys = pd.factorize(user_codes.astype(np.int64) * len(objects) + rows, sort=True)
    count = len(pair_keys)
    watch = pd.to_numeric(interactions["Watch_Time_Sec"]).to_numpy(np.float64, na_value=0.0)
    times = interactions["Timestamp"].to_numpy()
    last = np.full(count, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, pair_codes, times.view(np.int64))
    pair_rows = pair_keys % len(objects)
    duration = objects["Duration_Sec"].to_numpy(np.float64)[pair_rows]
    watch_sum = np.bincount(pair_codes, weights=watch, minlength=count)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(np.nan_to_num(watch_sum / duration, nan=0.0, posinf=0.0), 0.0, 1.0)
    frame = pd.DataFrame(
        {
            "User_ID": np.asarray(user_values)[pair_keys // len(objects)],
            "Object_Type": objects["Object_Type"].to_numpy()[pair_rows],
            "Object_ID": objects["Object_ID"].to_numpy()[pair_rows],
            "n_events": np.bincount(pair_codes, minlength=count),
            "watch_time_sec": watch_sum,
            "watch_time_ratio": ratio,
            "engagement_score": np.bincount(pair_codes, weights=score, minlength=count),
            "last_interaction": last.view(times.dtype),
        }
    )
    return frame.sort_values(["User_ID", "Object_Type", "Object_ID"], kind="stable", ignore_index=True)


def trending_objects(
    interactions: pd.DataFrame,
    objects: pd.DataFrame,
    weights: Mapping[str, float],
    roles: Mapping[str, str],
    as_of: pd.Timestamp,
    half_life_days: float,
    top_n: int,
) -> pd.DataFrame:
    """The engine's Layer-2 list: per type, the `top_n` objects by recency-decayed engagement.

    An event's score counts `0.5 ** (age / half_life)` at `as_of`; `trending_score` scales the
    decayed totals so the most trending object in the export scores 100.
    """
    if half_life_days <= 0 or top_n < 1:
        raise ValueError(f"half_life_days must be > 0 and top_n ≥ 1, got {half_life_days}, {top_n}")
    if interactions.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in TRENDING_COLUMNS})
    score, _, rows = score_events(interactions, objects, weights)
    age_days = (as_of - interactions["Timestamp"]).dt.total_seconds().to_numpy() / 86_400
    decayed = np.bincount(
        rows, weights=score * 0.5 ** (np.maximum(age_days, 0) / half_life_days), minlength=len(objects)
    )
    table = objects[["Object_Type", "Object_ID"]].copy()
    table["total_interactions"] = np.bincount(rows, minlength=len(objects))
    role_of_event = interactions["Interaction_Type"].astype(str).map(roles).to_numpy()
    for role in TRENDING_COUNTS:
        table[role] = np.bincount(rows[role_of_event == role], minlength=len(objects))
    table["_decayed"] = decayed
    table = table[table["total_interactions"] > 0]
    table = table.sort_values(
        ["Object_Type", "_decayed", "total_interactions", "Object_ID"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    top = table.groupby("Object_Type", sort=True).head(top_n)
    best = top["_decayed"].max()
    top = top.assign(trending_score=np.round(100 * top["_decayed"] / best, 2) if best > 0 else 0.0)
    return top[TRENDING_COLUMNS].reset_index(drop=True)
