"""The exploration report: seed 000's exploration and seed 002's metrics, as JSON and figures.

The JSON follows seed 002's definitions exactly:

- `watch_ratio_views`: `count, mean, std, min, p25, p50, p75, p90, max` of the watch ratio
  (watch time / duration, missing -> 0, clipped to [0, 1]) of view events (pandas `describe`:
  sample std, linearly interpolated percentiles);
- `watch_ratio_histogram`: `np.histogram(ratios, bins=10)` as `[left, right, count]`;
- `top_objects`: the 10 objects with the highest summed `engagement_score`, `[object_id, score]`,
  best first (`object_id` is `Type:ID` when the catalog has several object types);
- `new_vs_existing`: a user is new when signed up within `new_user_days` (7) before the last
  event; per user, summed watch time over summed duration of the engaging events (seed 002:
  view, like, comment, share), users without such events counting as 0; then the mean of that
  ratio, the mean number of distinct objects, and the number of users, per group. As in seed
  002 there is no upper bound: a user who signed up after the last event but has events in
  the log is new (seed 002's own log has three). Only users with neither (signed up after the
  last event, no event in the window: a simulation's future sign-ups) are left out, as they
  were not users yet; seed 002 would count them as new users with nothing watched;
- `data_quality`: users whose events precede their sign-up date, and those events. They stay
  in every figure; the report only counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poppy_pipeline.common.codes import category_codes
from poppy_pipeline.common.figures import render_figure
from poppy_pipeline.common.paths import replaced_atomically
from poppy_pipeline.engagement.scores import object_rows

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (`render_figure`)
    from matplotlib.axes import Axes

NEW_USER_DAYS = 7
TOP_OBJECTS = 10
HISTOGRAM_BINS = 10
MAX_LISTED_USERS = 20


def view_watch_ratios(
    interactions: pd.DataFrame, objects: pd.DataFrame, view_type: str, rows: np.ndarray | None = None
) -> pd.Series:
    """Watch ratio of each view event; `rows`: each event's row in `objects`, when known."""
    is_view = category_codes(interactions["Interaction_Type"], [view_type]) == 0
    views = interactions[is_view]
    rows = object_rows(views, objects) if rows is None else rows[is_view]
    duration = objects["Duration_Sec"].to_numpy(np.float64)[rows]
    watch = pd.to_numeric(views["Watch_Time_Sec"]).to_numpy(np.float64, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = pd.Series(watch / duration).replace([np.inf, -np.inf], np.nan).fillna(0).clip(0, 1)
    return ratio.reset_index(drop=True)


def watch_ratio_summary(ratios: pd.Series) -> dict[str, float | int | None]:
    described = ratios.astype(float).describe(percentiles=[0.25, 0.5, 0.75, 0.9])
    names = {"count": "count", "mean": "mean", "std": "std", "min": "min", "25%": "p25", "50%": "p50"}
    names |= {"75%": "p75", "90%": "p90", "max": "max"}
    summary = {names[str(k)]: _number(v) for k, v in described.items()}
    summary["count"] = int(summary["count"] or 0)
    return summary


def watch_ratio_histogram(ratios: pd.Series) -> list[list[float]]:
    if ratios.empty:
        return []
    counts, edges = np.histogram(ratios.astype(float), bins=HISTOGRAM_BINS)
    return [[float(edges[i]), float(edges[i + 1]), int(counts[i])] for i in range(HISTOGRAM_BINS)]


def top_objects(engagement: pd.DataFrame, objects: pd.DataFrame, n: int = TOP_OBJECTS) -> list[list[Any]]:
    totals = engagement.groupby(["Object_Type", "Object_ID"], sort=True)["engagement_score"].sum()
    best = totals.sort_values(ascending=False, kind="stable").head(n)
    several_types = objects["Object_Type"].nunique() > 1
    types, ids = best.index.get_level_values(0), best.index.get_level_values(1)
    return [
        [f"{t}:{i}" if several_types else _plain(i), float(score)] for t, i, score in zip(types, ids, best, strict=True)
    ]


def new_vs_existing(
    interactions: pd.DataFrame,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    engaging_types: Sequence[str],
    new_user_days: int = NEW_USER_DAYS,
) -> dict[str, dict[str, float | int | None]]:
    engaging = interactions[interactions["Interaction_Type"].astype(str).isin(engaging_types)]
    per_user = pd.DataFrame(
        {
            "User_ID": engaging["User_ID"].to_numpy(),
            "object": engaging["Object_Type"].astype(str).to_numpy()
            + ":"
            + engaging["Object_ID"].astype(str).to_numpy(),
            "watch": pd.to_numeric(engaging["Watch_Time_Sec"]).to_numpy(np.float64, na_value=np.nan),
            "duration": objects["Duration_Sec"].to_numpy(np.float64)[object_rows(engaging, objects)],
        }
    )
    stats = per_user.groupby("User_ID").agg(
        watch=("watch", "sum"), duration=("duration", "sum"), n=("object", "nunique")
    )
    stats["ratio"] = (stats["watch"] / stats["duration"]).replace([np.inf, -np.inf], np.nan).fillna(0)
    return group_summary(users, stats, interactions["User_ID"], interactions["Timestamp"].max(), new_user_days)


def group_summary(
    users: pd.DataFrame, stats: pd.DataFrame, seen: pd.Series, latest: pd.Timestamp, new_user_days: int
) -> dict[str, dict[str, float | int | None]]:
    """Mean watch ratio and distinct objects (`stats`: `ratio`, `n` by User_ID) of new and existing users.

    Users signed up after `latest` count only when `seen` in the log; users missing from `stats`
    count as 0.
    """
    cutoff = latest - pd.Timedelta(days=new_user_days)
    people = users[["User_ID", "Signup_Date"]].copy()
    people["Signup_Date"] = pd.to_datetime(people["Signup_Date"])
    people = people[(people["Signup_Date"] <= latest) | people["User_ID"].isin(seen)]
    people["is_new"] = people["Signup_Date"] >= cutoff
    merged = people.merge(stats[["ratio", "n"]], left_on="User_ID", right_index=True, how="left")
    groups = merged.fillna({"ratio": 0, "n": 0}).groupby("is_new")
    summary = pd.DataFrame({"avg_watch_time_ratio": groups["ratio"].mean(), "n_interacted_objects": groups["n"].mean()})
    summary["num_users"] = groups.size()
    out = {}
    for label, is_new in (("new", True), ("existing", False)):
        row = summary.loc[is_new].to_dict() if is_new in summary.index else None
        out[label] = {
            "avg_watch_time_ratio": _number(row["avg_watch_time_ratio"]) if row is not None else None,
            "n_interacted_objects": _number(row["n_interacted_objects"]) if row is not None else None,
            "num_users": int(row["num_users"]) if row is not None else 0,
        }
    return out


def events_before_signup(interactions: pd.DataFrame, users: pd.DataFrame) -> dict[str, Any]:
    """Users with events before their sign-up date (a data-quality finding), and those events."""
    signup = pd.to_datetime(interactions["User_ID"].map(users.set_index("User_ID")["Signup_Date"]))
    early = interactions.loc[(interactions["Timestamp"] < signup).to_numpy(), "User_ID"]
    offenders = sorted(early.unique().tolist(), key=str)
    return {
        "users_with_events_before_signup": len(offenders),
        "events_before_signup": len(early),
        "user_ids": [_plain(u) for u in offenders[:MAX_LISTED_USERS]],
    }


def build_report(
    interactions: pd.DataFrame,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    engagement: pd.DataFrame,
    view_type: str,
    engaging_types: Sequence[str],
    new_user_days: int = NEW_USER_DAYS,
) -> dict[str, Any]:
    # The log's own order (Interaction_ID; a pings log's line number), so sums and means add up
    # in the order seed 002's notebook adds them.
    interactions = interactions.sort_values("Interaction_ID", kind="stable", ignore_index=True)
    ratios = view_watch_ratios(interactions, objects, view_type)
    return {
        "watch_ratio_views": watch_ratio_summary(ratios),
        "watch_ratio_histogram": watch_ratio_histogram(ratios),
        "top_objects": top_objects(engagement, objects),
        "new_vs_existing": new_vs_existing(interactions, objects, users, engaging_types, new_user_days),
        "data_quality": events_before_signup(interactions, users),
        "window": {
            "first_event": str(interactions["Timestamp"].min()),
            "last_event": str(interactions["Timestamp"].max()),
            "events": len(interactions),
            "users": int(interactions["User_ID"].nunique()),
            "objects": int(engagement[["Object_Type", "Object_ID"]].drop_duplicates().shape[0]),
        },
    }


# --- figures ---------------------------------------------------------------------------------


def draw_figures(data: dict[str, Any], report: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes of each figure, by file stem, from `ReportTotals.figure_data()` and the report."""
    return {name: render_figure(draw) for name, draw in figure_drawings(data, report).items()}


def figure_drawings(data: dict[str, Any], report: dict[str, Any]) -> dict[str, Callable[[Any], None]]:
    """Each figure's drawing function (of a matplotlib Axes), by file stem."""
    return {
        "interactions_per_user": lambda ax: _long_tail(ax, data["per_user"], "users"),
        "interactions_per_object": lambda ax: _long_tail(ax, data["per_object"], "objects"),
        "rating_distribution": lambda ax: _ratings(ax, data["ratings"]),
        "daily_trend_by_type": lambda ax: _daily_trend(ax, data["daily"]),
        "hour_of_day": lambda ax: _hours(ax, data["hours"]),
        "watch_ratio_views": lambda ax: _watch_histogram(ax, data["ratios"]),
        "top_objects": lambda ax: _top_objects(ax, report["top_objects"]),
        "new_vs_existing_users": lambda ax: _new_vs_existing(ax, report["new_vs_existing"]),
    }


def write_figures(figures: dict[str, bytes], folder: Path) -> list[Path]:
    paths = []
    for name, png in figures.items():
        with replaced_atomically(folder / f"{name}.png") as temporary:
            temporary.write_bytes(png)
        paths.append(folder / f"{name}.png")
    return paths


def _long_tail(ax: Axes, counts: pd.Series, what: str) -> None:
    values = np.sort(counts.to_numpy())[::-1]
    ax.plot(np.arange(1, len(values) + 1), values, marker=".", linestyle="-")
    ax.set_yscale("log")
    ax.set_xlabel(f"{what}, busiest first")
    ax.set_ylabel("interactions (log)")
    ax.set_title(f"Interactions per {what[:-1]} (long tail)")


def _ratings(ax: Axes, counts: pd.Series | None) -> None:
    """`counts`: ratings per star 1-5, or None when the log has no rating type."""
    counts = counts if counts is not None else pd.Series(0, index=range(1, 6))
    ax.bar(counts.index, counts.to_numpy(), color="#d9a03f")
    ax.set_xlabel("stars")
    ax.set_ylabel("ratings")
    ax.set_title("Rating distribution" if counts.sum() else "Rating distribution (no ratings in this log)")


def _daily_trend(ax: Axes, daily: pd.Series) -> None:
    """`daily`: events per (day, type)."""
    for kind, series in daily.unstack(fill_value=0).items():
        ax.plot(series.index, series.to_numpy(), marker=".", label=kind)
    ax.legend(fontsize=7)
    ax.set_ylabel("interactions")
    ax.set_title("Daily interactions by type")
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def _hours(ax: Axes, hours: np.ndarray) -> None:
    ax.bar(np.arange(24), hours / max(hours.sum(), 1), color="#5b7fbf")
    ax.set_xlabel("hour of day (UTC)")
    ax.set_ylabel("share of interactions")
    ax.set_title("Hour-of-day profile")


def _watch_histogram(ax: Axes, ratios: pd.Series) -> None:
    """`ratios`: how many views have each distinct watch ratio."""
    ax.hist(
        ratios.index.to_numpy(np.float64),
        bins=HISTOGRAM_BINS,
        weights=ratios.to_numpy(),
        color="#6aa56a",
        edgecolor="white",
    )
    ax.set_xlabel("watch time / duration")
    ax.set_ylabel("view events")
    ax.set_title("Watch ratio of views")


def _top_objects(ax: Axes, top: list[list[Any]]) -> None:
    labels = [str(o) for o, _ in top][::-1]
    ax.barh(labels, [s for _, s in top][::-1], color="#a05fb0")
    ax.set_xlabel("summed engagement score")
    ax.set_title("Top objects by engagement")
    ax.tick_params(axis="y", labelsize=7)


def _new_vs_existing(ax: Axes, groups: dict[str, dict[str, float | int | None]]) -> None:
    """Mean watch-time ratio and objects per user, new against existing users; a group without
    users gets no bars, and the title says so instead of an empty half of the figure."""
    names = [g for g in ("new", "existing") if groups[g]["num_users"]]
    positions = np.arange(len(names))
    ratio = [groups[g]["avg_watch_time_ratio"] or 0 for g in names]
    objects = [groups[g]["n_interacted_objects"] or 0 for g in names]
    ax.bar(positions - 0.2, ratio, width=0.4, color="#e07b39", label="avg watch-time ratio")
    ax.set_ylabel("avg watch-time ratio")
    twin = ax.twinx()
    twin.bar(positions + 0.2, objects, width=0.4, color="#3e7cb1", label="objects interacted with")
    twin.set_ylabel("objects interacted with (mean)")
    ax.set_xticks(positions, [f"{g} ({groups[g]['num_users']} users)" for g in names])
    ax.set_xlim(-0.6, max(len(names), 1) - 0.4)
    ax.legend(
        handles=[*ax.get_legend_handles_labels()[0], *twin.get_legend_handles_labels()[0]], fontsize=7, loc="upper left"
    )
    missing = [g for g in ("new", "existing") if not groups[g]["num_users"]]
    ax.set_title("New vs existing users" + (f": no {' or '.join(missing)} users in this span" if missing else ""))


def _plain(value: object) -> str | int | float | None:
    return value if isinstance(value, str) else _number(value)


def _number(value: Any) -> float | int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    return float(value)
