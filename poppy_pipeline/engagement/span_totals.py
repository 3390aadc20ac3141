"""Engagement and trending over a span of days, fed one day at a time.

The span assets never hold the span's events: they add each day into running totals whose
size is that of their output (one entry per (user, object) pair, or per object). Each event is
added into its entry in the order given, exactly as `np.bincount` adds a whole span's events
in one pass, so the totals are the same, bit for bit, as `engagement.engagement_scores` and
`engagement.trending_objects` on the concatenated days.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from poppy_pipeline.common.codes import sorted_unique
from poppy_pipeline.engagement.scores import (
    ENGAGEMENT_COLUMNS,
    TRENDING_COLUMNS,
    TRENDING_COUNTS,
    decayed_scores,
    pair_frame,
    rank_trending,
    role_of_events,
    score_events,
    watch_seconds,
)

OLDEST = np.iinfo(np.int64).min


class PairTotals:
    """Per (user, object) pair: events, summed score and watch time, latest event."""

    def __init__(self, objects: pd.DataFrame, weights: Mapping[str, float]) -> None:
        self.objects, self.weights = objects, dict(weights)
        self.users: np.ndarray | None = None  # sorted distinct user IDs seen so far
        self.keys = np.empty(0, np.int64)  # user's index in `users` × objects + object row, sorted
        self.count = np.empty(0, np.int64)
        self.score = np.empty(0, np.float64)
        self.watch = np.empty(0, np.float64)
        self.last = np.empty(0, np.int64)
        self.time_dtype: np.dtype | None = None
        self.events = 0

    def add(self, interactions: pd.DataFrame) -> None:
        """Add one day's events (in the order the whole span would list them)."""
        if interactions.empty:
            return
        score, _, rows = score_events(interactions, self.objects, self.weights)
        user_ids = interactions["User_ID"].to_numpy()
        self._add_users(pd.unique(user_ids))
        assert self.users is not None  # set by `_add_users`
        keys = np.searchsorted(self.users, user_ids).astype(np.int64) * len(self.objects) + rows
        self._add_keys(sorted_unique(keys))
        cell = np.searchsorted(self.keys, keys)
        times = interactions["Timestamp"].to_numpy()
        self.time_dtype = self.time_dtype or times.dtype
        np.add.at(self.count, cell, 1)
        np.add.at(self.score, cell, score)
        np.add.at(self.watch, cell, watch_seconds(interactions, missing=0.0))
        np.maximum.at(self.last, cell, times.astype(self.time_dtype).view(np.int64))
        self.events += len(interactions)

    def frame(self) -> pd.DataFrame:
        """The `engagement_scores` table of every day added so far."""
        if not len(self.keys):
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in ENGAGEMENT_COLUMNS})
        n_objects = len(self.objects)
        totals = {"count": self.count, "score": self.score, "watch": self.watch, "last": self.last}
        assert self.users is not None and self.time_dtype is not None  # set with the first keys, by `add`
        users, rows = self.users[self.keys // n_objects], self.keys % n_objects
        return pair_frame(self.objects, users, rows, totals, self.time_dtype)

    def _add_users(self, users: np.ndarray) -> None:
        if self.users is None:
            self.users = np.sort(users)
            return
        new = np.setdiff1d(users, self.users)
        if not len(new):
            return
        merged = np.union1d(self.users, new)
        n_objects = len(self.objects)
        # Old indices map monotonically into the merged list, so the keys stay sorted.
        remap = np.searchsorted(merged, self.users).astype(np.int64)
        self.keys = remap[self.keys // n_objects] * n_objects + self.keys % n_objects
        self.users = merged

    def _add_keys(self, keys: np.ndarray) -> None:
        """Insert the sorted distinct `keys` not yet present, with empty totals."""
        where, fresh = new_keys(self.keys, keys)
        self.keys = np.insert(self.keys, where, fresh)
        self.count = np.insert(self.count, where, 0)
        self.score = np.insert(self.score, where, 0.0)
        self.watch = np.insert(self.watch, where, 0.0)
        self.last = np.insert(self.last, where, OLDEST)


class TrendingTotals:
    """Per object: events, events of each trending role, and engagement decayed to `as_of`."""

    def __init__(
        self,
        objects: pd.DataFrame,
        weights: Mapping[str, float],
        roles: Mapping[str, str],
        as_of: pd.Timestamp,
        half_life_days: float,
    ) -> None:
        if half_life_days <= 0:
            raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
        self.objects, self.weights, self.roles = objects, dict(weights), dict(roles)
        self.as_of, self.half_life_days = as_of, half_life_days
        self.total = np.zeros(len(objects), np.int64)
        self.by_role = np.zeros((len(TRENDING_COUNTS), len(objects)), np.int64)
        self.decayed = np.zeros(len(objects), np.float64)

    def add(self, interactions: pd.DataFrame) -> None:
        if interactions.empty:
            return
        score, _, rows = score_events(interactions, self.objects, self.weights)
        np.add.at(self.decayed, rows, decayed_scores(score, interactions["Timestamp"], self.as_of, self.half_life_days))
        np.add.at(self.total, rows, 1)
        role = role_of_events(interactions["Interaction_Type"], self.roles)
        counted = role >= 0
        np.add.at(self.by_role, (role[counted], rows[counted]), 1)

    def top(self, top_n: int) -> pd.DataFrame:
        """The `trending_objects` export of every day added so far."""
        if top_n < 1:
            raise ValueError(f"top_n must be ≥ 1, got {top_n}")
        if not self.total.any():
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in TRENDING_COLUMNS})
        counts = dict(zip(TRENDING_COUNTS, self.by_role, strict=True))
        return rank_trending(self.objects, self.total, counts, self.decayed, top_n)


def new_keys(keys: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct `candidates` missing from the sorted `keys`, and where each goes
    (`np.insert(keys, where, missing)` keeps `keys` sorted)."""
    position = np.searchsorted(keys, candidates)
    present = np.zeros(len(candidates), dtype=bool)
    inside = position < len(keys)
    present[inside] = keys[position[inside]] == candidates[inside]
    return position[~present], candidates[~present]
