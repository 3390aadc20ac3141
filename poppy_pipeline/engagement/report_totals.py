"""The interaction report over a span of days, fed one day at a time.

`ReportTotals` keeps what the report and its figures need, in sizes that grow with users,
objects and distinct values, never with events: how often each distinct watch ratio occurs
(so the quantiles, minimum, maximum and histogram are exact), per-user sums, the distinct
(user, object) pairs of engaging events, and counts per user, object, rating, day × type and
hour. Means and standard deviations come from those counts, so they equal `report.build_report`
on the whole span up to float rounding (the order of the additions differs).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.common.codes import category_codes, sorted_unique
from poppy_pipeline.engagement.report import (
    HISTOGRAM_BINS,
    MAX_LISTED_USERS,
    NEW_USER_DAYS,
    _number,
    _plain,
    group_summary,
    top_objects,
    view_watch_ratios,
)
from poppy_pipeline.engagement.scores import object_rows
from poppy_pipeline.engagement.span_totals import new_keys

QUANTILES = {"p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9}


class ReportTotals:
    """Running totals of the report; `add` one day's events, then `report`."""

    def __init__(
        self,
        objects: pd.DataFrame,
        users: pd.DataFrame,
        view_type: str,
        engaging_types: Sequence[str],
        rated_type: str | None,
    ) -> None:
        self.objects, self.users = objects, users
        self.view_type, self.engaging_types, self.rated_type = view_type, list(engaging_types), rated_type
        # Users by code: the users table's order, then users the table lacks as they appear.
        self.user_index = pd.Index(users["User_ID"])
        self.signup = pd.to_datetime(users["Signup_Date"]).to_numpy()
        self.user_sums = np.zeros((3, len(users)))  # events, engaging watch time, engaging duration
        self.engaged_pairs = np.empty(0, np.int64)  # user code × objects + object row, sorted
        self.ratios = pd.Series(dtype=np.int64)  # count of each distinct watch ratio of views
        self.per_object = np.zeros(len(objects), np.int64)
        self.ratings = np.zeros(6, np.int64)
        self.hours = np.zeros(24, np.int64)
        self.daily: list[pd.Series] = []
        self.early_users: set[Hashable] = set()
        self.early_events = 0
        self.events = 0
        self.first_event: pd.Timestamp | None = None
        self.last_event: pd.Timestamp | None = None

    def add(self, interactions: pd.DataFrame) -> None:
        if interactions.empty:
            return
        # The log's own order within the day, as `build_report` sums.
        interactions = interactions.sort_values("Interaction_ID", kind="stable", ignore_index=True)
        times = interactions["Timestamp"]
        self.first_event = min(filter(None, (self.first_event, times.min())))
        self.last_event = max(filter(None, (self.last_event, times.max())))
        self.events += len(interactions)
        rows = object_rows(interactions, self.objects)
        ratios = view_watch_ratios(interactions, self.objects, self.view_type, rows).value_counts()
        self.ratios = self.ratios.add(ratios, fill_value=0).astype(np.int64)
        codes = self._user_codes(interactions["User_ID"])
        self._add_users(interactions, codes, rows)
        self.per_object += np.bincount(rows, minlength=len(self.objects))
        if self.rated_type:
            stars = interactions["Interaction_Rating"].dropna().astype(int)
            self.ratings += np.bincount(stars[stars.between(1, 5)], minlength=6)
        self.hours += np.bincount(times.dt.hour.to_numpy(), minlength=24)
        kind_codes, kinds = pd.factorize(interactions["Interaction_Type"])
        daily = pd.DataFrame({"day": times.dt.floor("D"), "kind": kind_codes}).groupby(["day", "kind"]).size()
        self.daily.append(daily.rename(index={i: str(k) for i, k in enumerate(kinds)}, level="kind"))
        early = times.to_numpy() < self.signup[codes]
        self.early_users.update(pd.unique(interactions["User_ID"].to_numpy()[early]).tolist())
        self.early_events += int(early.sum())

    def _user_codes(self, user_ids: pd.Series) -> np.ndarray:
        codes = self.user_index.get_indexer(user_ids)
        if (codes < 0).any():  # users missing from the users table: appended, with no sign-up date
            new = pd.Index(pd.unique(user_ids[codes < 0]))
            self.user_index = self.user_index.append(new)
            self.signup = np.concatenate([self.signup, np.full(len(new), np.datetime64("NaT"), self.signup.dtype)])
            self.user_sums = np.hstack([self.user_sums, np.zeros((3, len(new)))])
            codes = self.user_index.get_indexer(user_ids)
        found: NDArray[np.intp] = codes
        return found

    def _add_users(self, interactions: pd.DataFrame, codes: np.ndarray, rows: np.ndarray) -> None:
        engaging = category_codes(interactions["Interaction_Type"], self.engaging_types) >= 0
        watch = pd.to_numeric(interactions["Watch_Time_Sec"]).to_numpy(np.float64, na_value=np.nan)
        duration = self.objects["Duration_Sec"].to_numpy(np.float64)[rows]
        n = len(self.user_index)
        self.user_sums[0] += np.bincount(codes, minlength=n)
        for line, values in ((1, watch), (2, duration)):  # missing values count as 0, as in `new_vs_existing`
            self.user_sums[line] += np.bincount(
                codes, weights=np.where(engaging, np.nan_to_num(values), 0.0), minlength=n
            )
        pairs = sorted_unique(codes[engaging].astype(np.int64) * len(self.objects) + rows[engaging])
        self.engaged_pairs = np.insert(self.engaged_pairs, *new_keys(self.engaged_pairs, pairs))

    @property
    def per_user(self) -> pd.DataFrame:
        """Events, engaging watch time and duration, and distinct engaged objects of each user with events."""
        seen = self.user_sums[0] > 0
        objects = np.bincount(self.engaged_pairs // len(self.objects), minlength=len(self.user_index))
        users: pd.DataFrame = pd.DataFrame(
            {"events": self.user_sums[0], "watch": self.user_sums[1], "duration": self.user_sums[2], "n": objects},
            index=self.user_index,
        )[seen]
        return users

    def report(self, engagement: pd.DataFrame, new_user_days: int = NEW_USER_DAYS) -> dict[str, Any]:
        """The same dictionary as `report.build_report` on the days added."""
        self.ratios = self.ratios.sort_index()
        values, counts = self.ratios.index.to_numpy(np.float64), self.ratios.to_numpy()
        return {
            "watch_ratio_views": summary_from_counts(values, counts),
            "watch_ratio_histogram": histogram_from_counts(values, counts),
            "top_objects": top_objects(engagement, self.objects),
            "new_vs_existing": self._new_vs_existing(new_user_days),
            "data_quality": {
                "users_with_events_before_signup": len(self.early_users),
                "events_before_signup": self.early_events,
                "user_ids": [_plain(u) for u in sorted(self.early_users, key=str)[:MAX_LISTED_USERS]],
            },
            "window": {
                "first_event": str(self.first_event),
                "last_event": str(self.last_event),
                "events": self.events,
                "users": len(self.per_user),
                "objects": int(engagement[["Object_Type", "Object_ID"]].drop_duplicates().shape[0]),
            },
        }

    def _new_vs_existing(self, new_user_days: int) -> dict[str, dict[str, float | int | None]]:
        stats = self.per_user
        assert self.last_event is not None, "new and existing users are told apart by the last event"
        with np.errstate(divide="ignore", invalid="ignore"):
            stats["ratio"] = (stats["watch"] / stats["duration"]).replace([np.inf, -np.inf], np.nan).fillna(0)
        return group_summary(self.users, stats, stats.index.to_series(), self.last_event, new_user_days)

    def figure_data(self) -> dict[str, Any]:
        """What `report.draw_figures` plots, aggregated."""
        daily = pd.concat(self.daily).groupby(level=[0, 1]).sum() if self.daily else pd.Series(dtype=np.int64)
        return {
            "per_user": self.per_user["events"].astype(np.int64),
            "per_object": pd.Series(self.per_object[self.per_object > 0]),
            "ratings": pd.Series(self.ratings[1:], index=range(1, 6)) if self.ratings.any() else None,
            "daily": daily,
            "hours": self.hours,
            "ratios": self.ratios,
        }


def summary_from_counts(values: np.ndarray, counts: np.ndarray) -> dict[str, float | int | None]:
    """pandas `describe` of the sample in which each of the sorted `values` occurs `counts` times."""
    n = int(counts.sum())
    if n == 0:
        return {"count": 0} | dict.fromkeys(["mean", "std", "min", *QUANTILES, "max"])
    mean = float(np.dot(values, counts) / n)
    std = float(np.sqrt(np.dot(counts, (values - mean) ** 2) / (n - 1))) if n > 1 else None
    summary = {"count": n, "mean": mean, "std": std, "min": float(values[0])}
    ends = np.cumsum(counts)
    for name, q in QUANTILES.items():
        summary[name] = _linear_quantile(values, ends, n, q)
    summary["max"] = float(values[-1])
    return {k: _number(v) for k, v in summary.items()}


def histogram_from_counts(values: np.ndarray, counts: np.ndarray) -> list[list[float]]:
    """`np.histogram(sample, bins=10)` of that sample, as `[left, right, count]`."""
    if not len(values):
        return []
    binned, edges = np.histogram(values, bins=HISTOGRAM_BINS, weights=counts)
    return [[float(edges[i]), float(edges[i + 1]), int(binned[i])] for i in range(HISTOGRAM_BINS)]


def _linear_quantile(values: np.ndarray, ends: np.ndarray, n: int, q: float) -> float:
    """numpy's "linear" quantile, with its own arithmetic (so the same float), from the counts:
    `values[i]` fills the sorted positions [ends[i - 1], ends[i])."""
    position = (n - 1) * q
    low = np.floor(position)
    below, above = values[np.searchsorted(ends, [low, min(low + 1, n - 1)], side="right")]
    weight = position - low
    if weight >= 0.5:
        return float(above - (above - below) * (1 - weight))
    return float(below + (above - below) * weight)


def object_scores(pairs: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Summed `engagement_score` per (Object_Type, Object_ID) of `engagement_scores` read in blocks:
    the input of `report.top_objects` and of the report's object count, without every pair at once."""
    keys = ["Object_Type", "Object_ID"]
    sums = [block.groupby(keys, sort=False)["engagement_score"].sum() for block in pairs]
    if not sums:
        return pd.DataFrame({"Object_Type": [], "Object_ID": [], "engagement_score": []})
    scores: pd.DataFrame = pd.concat(sums).groupby(level=[0, 1], sort=True).sum().reset_index()
    return scores
