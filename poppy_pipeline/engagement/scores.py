"""Engagement scores (seed 002) and the trending export for the C# recommendation engine.

Per event: `weight[type] + clip(watch_time / duration, 0, 1)`, the ratio counting 0 where either
is missing. A (user, object) pair's `engagement_score` is the sum over its events. Everything
runs on whole arrays: factorised keys, `bincount` sums, `maximum.at` for the latest event.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.common.codes import category_codes

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
    types = list(pd.unique(objects["Object_Type"].astype(str)))
    catalog_types = category_codes(objects["Object_Type"].astype(str), types)
    event_types = category_codes(interactions["Object_Type"], types)
    ids, event_ids = objects["Object_ID"], interactions["Object_ID"]
    if pd.api.types.is_integer_dtype(ids) and pd.api.types.is_integer_dtype(event_ids) and ids.min() >= 0:
        # Integer IDs (the Poppy catalog): a dense (type, id) -> row table, one gather per event.
        table = np.full((len(types), int(ids.max()) + 2), -1, dtype=np.int64)
        if (pd.Series(catalog_types * table.shape[1] + ids.to_numpy()).duplicated()).any():
            raise ValueError("objects has repeated (Object_Type, Object_ID) pairs")
        table[catalog_types, ids.to_numpy()] = np.arange(len(objects))
        event_id = event_ids.to_numpy(np.int64)
        inside = (event_types >= 0) & (event_id >= 0) & (event_id < table.shape[1])
        rows = np.full(len(interactions), -1, dtype=np.int64)
        rows[inside] = table[event_types[inside], event_id[inside]]
        return rows
    catalog = pd.MultiIndex.from_arrays([catalog_types, ids.astype(str)])
    if not catalog.is_unique:
        raise ValueError("objects has repeated (Object_Type, Object_ID) pairs")
    return catalog.get_indexer(pd.MultiIndex.from_arrays([event_types, event_ids.astype(str)]))


def score_events(
    interactions: pd.DataFrame, objects: pd.DataFrame, weights: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, watch ratio, object row) of each event."""
    kinds = list(weights)
    kind_codes = category_codes(interactions["Interaction_Type"], kinds)
    if (kind_codes < 0).any():
        unknown = sorted(set(interactions["Interaction_Type"].astype(str)[kind_codes < 0]))
        raise ValueError(f"no engagement weight for event type(s) {unknown}; weights cover {sorted(weights)}")
    weight = np.array([weights[k] for k in kinds], dtype=np.float64)[kind_codes]
    rows = object_rows(interactions, objects)
    if (rows < 0).any():
        missing = interactions.loc[rows < 0, ["Object_Type", "Object_ID"]].drop_duplicates().head(5)
        raise ValueError(
            f"{int((rows < 0).sum())} events refer to objects not in the catalog, e.g. {missing.values.tolist()}"
        )
    ratio = watch_ratio(watch_seconds(interactions, missing=0.0), objects["Duration_Sec"].to_numpy(np.float64)[rows])
    return weight + ratio, ratio, rows


def watch_ratio(watch: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """clip(watch / duration, 0, 1), and 0 where either is missing (watch given as 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = watch / duration
    ratio[~np.isfinite(ratio)] = 0.0
    clipped: NDArray[np.float64] = np.clip(ratio, 0.0, 1.0, out=ratio)
    return clipped


def watch_seconds(interactions: pd.DataFrame, missing: float) -> np.ndarray:
    column = interactions["Watch_Time_Sec"]
    if isinstance(column.array, pd.arrays.IntegerArray | pd.arrays.FloatingArray):
        return column.array.to_numpy(dtype=np.float64, na_value=missing)
    return pd.to_numeric(column).to_numpy(np.float64, na_value=missing)


def engagement_scores(interactions: pd.DataFrame, objects: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """One row per (User_ID, Object_Type, Object_ID), sorted by user then catalog order.

    Users are processed in blocks small enough that a dense (user, object) table of the block
    stays in cache: events are bucketed by block with one stable radix pass, then summed with
    `bincount` into the block's table. Each pair's events are added in their original order.
    """
    if interactions.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in ENGAGEMENT_COLUMNS})
    score, _, rows = score_events(interactions, objects, weights)
    user_codes, user_values = _user_codes(interactions["User_ID"])
    times = interactions["Timestamp"].to_numpy()
    pairs = _pair_totals(
        user_codes, rows, len(objects), score, watch_seconds(interactions, missing=0.0), times.view(np.int64)
    )
    n_objects = len(objects)
    return pair_frame(objects, user_values[pairs["key"] // n_objects], pairs["key"] % n_objects, pairs, times.dtype)


def pair_frame(
    objects: pd.DataFrame,
    users: np.ndarray,
    pair_rows: np.ndarray,
    totals: Mapping[str, np.ndarray],
    time_dtype: np.dtype,
) -> pd.DataFrame:
    """The `engagement_scores` table from each pair's user, object row and totals."""
    return pd.DataFrame(
        {
            "User_ID": users,
            "Object_Type": _take_labels(objects["Object_Type"], pair_rows),
            "Object_ID": objects["Object_ID"].to_numpy()[pair_rows],
            "n_events": totals["count"],
            "watch_time_sec": totals["watch"],
            "watch_time_ratio": watch_ratio(
                totals["watch"].copy(), objects["Duration_Sec"].to_numpy(np.float64)[pair_rows]
            ),
            "engagement_score": totals["score"],
            "last_interaction": totals["last"].view(time_dtype),
        },
        copy=False,  # no consolidation copy of million-row columns
    )


BLOCK_CELLS = 1 << 18  # (user, object) cells per block: 2 MB per float64 table, cache-resident


def _pair_totals(
    user_codes: np.ndarray, rows: np.ndarray, n_objects: int, score: np.ndarray, watch: np.ndarray, times: np.ndarray
) -> dict[str, np.ndarray]:
    """Count, score sum, watch sum and latest time of every (user, object) pair present."""
    users_per_block = max(1, BLOCK_CELLS // n_objects)
    block = user_codes // users_per_block
    if (int(block.max()) + 1) * users_per_block * n_objects > 8 * len(user_codes) + BLOCK_CELLS:
        # A large catalog makes the dense tables mostly empty: sort the pairs instead.
        return _pair_totals_sorted(user_codes * n_objects + rows, score, watch, times)
    local = (user_codes % users_per_block) * n_objects + rows
    if block.max() < 1 << 16:  # the usual case: one radix pass buckets the events by block
        order = np.argsort(block.astype(np.uint16), kind="stable")
    else:
        order, _ = stable_argsort_nonnegative(block)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(block))])
    local, score, watch, times = local[order], score[order], watch[order], times[order]
    cells = users_per_block * n_objects
    parts: dict[str, list[np.ndarray]] = {"key": [], "count": [], "score": [], "watch": [], "last": []}
    for b in np.flatnonzero(np.diff(bounds)):  # one iteration per block of users, not per event
        span = slice(bounds[b], bounds[b + 1])
        cell = local[span]
        count = np.bincount(cell, minlength=cells)
        present = np.flatnonzero(count)
        last = np.full(cells, np.iinfo(np.int64).min)
        np.maximum.at(last, cell, times[span])
        parts["key"].append(int(b) * users_per_block * n_objects + present)
        parts["count"].append(count[present])
        parts["score"].append(np.bincount(cell, weights=score[span], minlength=cells)[present])
        parts["watch"].append(np.bincount(cell, weights=watch[span], minlength=cells)[present])
        parts["last"].append(last[present])
    return {name: np.concatenate(values) for name, values in parts.items()}


def _pair_totals_sorted(
    keys: np.ndarray, score: np.ndarray, watch: np.ndarray, times: np.ndarray
) -> dict[str, np.ndarray]:
    """`_pair_totals` by a stable radix sort of the pair keys and `reduceat`."""
    order, sorted_keys = stable_argsort_nonnegative(keys)
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return {
        "key": sorted_keys[starts],
        "count": np.diff(np.append(starts, len(keys))),
        "score": np.add.reduceat(score[order], starts),
        "watch": np.add.reduceat(watch[order], starts),
        "last": np.maximum.reduceat(times[order], starts),
    }


def _take_labels(labels: pd.Series, rows: np.ndarray) -> pd.Categorical[str]:
    """`labels[rows]` as a categorical: no string per row is created."""
    codes, categories = pd.factorize(labels.astype(str))
    return pd.Categorical.from_codes(codes[rows], categories=categories)


def _user_codes(users: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes that sort like the user IDs, and the ID of each code."""
    if pd.api.types.is_integer_dtype(users) and len(users):
        values = users.to_numpy(np.int64)
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high - low < 4 * len(values) + 1_000:  # compact IDs: no hashing needed
            return values - low, np.arange(low, high + 1)
    codes, uniques = pd.factorize(users, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def stable_argsort_nonnegative(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(`argsort(keys, kind="stable")`, the sorted keys) for non-negative int64 keys.

    NumPy radix-sorts 16-bit integers, so one stable pass per 16 bits of the largest key (least
    significant first) beats a comparison sort of the int64 keys several times over.
    """
    largest = int(keys.max()) if len(keys) else 0
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    ordered = keys[order]
    shift = 16
    while largest >> shift:
        step = np.argsort(((ordered >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        order, ordered = order[step], ordered[step]
        shift += 16
    return order, ordered


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
    decayed = np.bincount(
        rows, weights=decayed_scores(score, interactions["Timestamp"], as_of, half_life_days), minlength=len(objects)
    )
    role = role_of_events(interactions["Interaction_Type"], roles)
    counts = {name: np.bincount(rows[role == i], minlength=len(objects)) for i, name in enumerate(TRENDING_COUNTS)}
    return rank_trending(objects, np.bincount(rows, minlength=len(objects)), counts, decayed, top_n)


def decayed_scores(score: np.ndarray, timestamps: pd.Series, as_of: pd.Timestamp, half_life_days: float) -> np.ndarray:
    """Each event's score × 0.5 ** (age at `as_of` / half-life); future events are not decayed."""
    age_days = (as_of - timestamps).dt.total_seconds().to_numpy() / 86_400
    decayed: NDArray[np.float64] = score * 0.5 ** (np.maximum(age_days, 0) / half_life_days)
    return decayed


def role_of_events(kinds: pd.Series, roles: Mapping[str, str]) -> np.ndarray:
    """Index in TRENDING_COUNTS of each event's role; -1 for types without one."""
    names = sorted(set(roles))
    codes = np.array([TRENDING_COUNTS.index(roles[k]) for k in names] + [-1])
    event_roles: NDArray[np.int64] = codes[category_codes(kinds, names)]
    return event_roles


def rank_trending(
    objects: pd.DataFrame,
    total: np.ndarray,
    counts: Mapping[str, np.ndarray],
    decayed: np.ndarray,
    top_n: int,
) -> pd.DataFrame:
    """Per type, the `top_n` objects by decayed engagement, scaled so the best scores 100."""
    table = objects[["Object_Type", "Object_ID"]].copy()
    table["total_interactions"] = total
    for role in TRENDING_COUNTS:
        table[role] = counts[role]
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
