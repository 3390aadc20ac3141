"""A bounded sample of rows, stratified by user, drawn while the rows arrive one day at a time.

The click model trains on at most `cap` windows. When a window holds more, every user keeps
min(their windows, k) of them, with k the largest quota that fits (busy users are thinned,
light users keep everything, so every user still counts), chosen by a seeded hash of each
window's identity. Rows are added day by day and the pool is trimmed to the current quota
whenever it outgrows the cap; the quota only falls as rows arrive, and a row dropped once
would be dropped at the end too, so the result equals `stratified_sample` of all the rows at
once, in their original order. Below the cap nothing is dropped: the rows are returned as given.
Every user keeps at least one row, so with more users than `cap` the sample holds one per user.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PRIORITY, ORDER = "_sample_priority", "_sample_order"
USER_SAMPLE_KEY = "poppy-user-smpl."  # siphash key of the user sample (16 characters)
# Windows the click model reads at most (~200 MB of features); a default 30-day run has ~60,000.
MAX_WINDOWS = 1_000_000


class UserStratifiedSample:
    def __init__(self, cap: int, seed: int, identity: tuple[str, ...] = ("Session_ID", "Window_End")) -> None:
        if cap < 1:
            raise ValueError(f"the sample cap must be at least 1 row, got {cap}")
        self.cap, self.identity = cap, list(identity)
        self.hash_key = f"{seed:016d}"[-16:]  # siphash key: the same seed draws the same rows
        self.pool: pd.DataFrame | None = None
        self.seen = 0
        self.quota: int | None = None  # rows kept per user once the cap binds

    def add(self, rows: pd.DataFrame) -> None:
        if rows.empty and self.pool is not None:
            return
        priority = pd.util.hash_pandas_object(rows[self.identity], index=False, hash_key=self.hash_key)
        rows = rows.assign(**{PRIORITY: priority.to_numpy(), ORDER: np.arange(self.seen, self.seen + len(rows))})
        self.seen += len(rows)
        pool = rows if self.pool is None else pd.concat([self.pool, rows], ignore_index=True)
        self.pool = self._trimmed(pool) if len(pool) > self.cap else pool

    def _trimmed(self, pool: pd.DataFrame) -> pd.DataFrame:
        users = pool["User_ID"].to_numpy()
        codes, _ = pd.factorize(users)
        self.quota = per_user_quota(np.bincount(codes), self.cap)
        # Rank within user by (priority, arrival): the lowest `quota` of each user stay.
        order = np.lexsort((pool[ORDER].to_numpy(), pool[PRIORITY].to_numpy(), codes))
        ranked_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, ranked_codes[1:] != ranked_codes[:-1]])
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        keep = np.sort(order[rank < self.quota])
        return pool.iloc[keep].reset_index(drop=True)

    def rows(self) -> pd.DataFrame:
        """The sample, in the order the rows were added."""
        if self.pool is None:
            return pd.DataFrame()
        return self.pool.drop(columns=[PRIORITY, ORDER])

    def summary(self) -> dict[str, Any]:
        """What the evaluation reports about the sample."""
        return {
            "max_windows": self.cap,
            "windows_in_window": self.seen,
            "windows_sampled": 0 if self.pool is None else len(self.pool),
            "per_user_cap": self.quota,
        }


def per_user_quota(counts: np.ndarray, cap: int) -> int:
    """The largest k with Σ min(count, k) ≤ cap (at least 1)."""
    ordered = np.sort(counts)
    below = np.concatenate([[0], np.cumsum(ordered)])  # rows of the users with fewer than k
    # For k between ordered[i-1] and ordered[i]: below[i] + k × (users left) ≤ cap.
    users_left = len(ordered) - np.arange(len(ordered))
    best = (cap - below[:-1]) // users_left
    fits = best >= np.concatenate([[0], ordered[:-1]])
    return max(1, int(best[fits].max()) if fits.any() else 1)


def stratified_sample(rows: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """`UserStratifiedSample` of all the rows at once."""
    sample = UserStratifiedSample(cap, seed)
    sample.add(rows)
    return sample.rows()


def user_sample_share(users: int, max_users: int) -> float:
    """The share of `users` to keep so that about `max_users` remain (1 when they all fit)."""
    if max_users < 1:
        raise ValueError(f"max_users must be at least 1, got {max_users}")
    return min(1.0, max_users / users) if users > 0 else 1.0


def in_user_sample(user_ids: pd.Series, share: float) -> np.ndarray:
    """Whether each row's user is in the sample: a fixed hash of the ID below `share`, so a user
    is in or out on every day, in every asset, in any run."""
    if share >= 1:
        return np.ones(len(user_ids), dtype=bool)
    draw = pd.util.hash_pandas_object(user_ids, index=False, hash_key=USER_SAMPLE_KEY).to_numpy()
    return draw < np.uint64(share * 2.0**64)
