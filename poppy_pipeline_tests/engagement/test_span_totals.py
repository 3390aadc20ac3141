"""Window assets fed day by day give what one pass over the whole window gives."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.engagement.report import build_report, watch_ratio_histogram, watch_ratio_summary
from poppy_pipeline.engagement.report_totals import (
    ReportTotals,
    histogram_from_counts,
    object_scores,
    summary_from_counts,
)
from poppy_pipeline.engagement.scores import engagement_scores, trending_objects
from poppy_pipeline.engagement.span_totals import PairTotals, TrendingTotals
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources.log_files import PINGS, POPPY

WINDOWS = [(1, "2026-11-01", 7), (7, "2026-03-01", 12), (4242, "2025-12-01", 5)]


def simulated_days(seed: int, first: str, days: int) -> tuple[pd.DataFrame, pd.DataFrame, list[pd.DataFrame]]:
    """Catalog, users and each day's interactions of a small simulation."""
    settings = SimulationSettings(seed=seed, num_users=300, interactions_per_day=900)
    objects, users = build_catalog(settings, None).objects, generate_users(settings)
    model = build_model(settings, objects, users)
    start = date.fromisoformat(first)
    return objects, users, [simulate_day(model, start + timedelta(days=d)) for d in range(days)]


@pytest.fixture(scope="module", params=WINDOWS, ids=lambda w: f"seed{w[0]}-{w[1]}")
def window(request):
    return simulated_days(*request.param)


def test_pairs_day_by_day_equal_the_whole_window_bit_for_bit(window):
    objects, _, days = window
    totals = PairTotals(objects, POPPY.event_weights)
    for day in days:
        totals.add(day)
    whole = engagement_scores(pd.concat(days, ignore_index=True), objects, POPPY.event_weights)
    assert len(whole) > 1000
    pd.testing.assert_frame_equal(totals.frame(), whole, check_exact=True)
    assert totals.events == sum(map(len, days))


def test_trending_day_by_day_equals_the_whole_window(window):
    objects, _, days = window
    as_of = days[-1]["Timestamp"].max().normalize() + pd.Timedelta(days=1)
    totals = TrendingTotals(objects, POPPY.event_weights, POPPY.trending_roles, as_of, 7.0)
    for day in days:
        totals.add(day)
    whole = trending_objects(
        pd.concat(days, ignore_index=True), objects, POPPY.event_weights, POPPY.trending_roles, as_of, 7.0, 50
    )
    pd.testing.assert_frame_equal(totals.top(50), whole, check_exact=True)


def test_string_users_arriving_on_later_days_keep_the_pairs_sorted():
    """Users first seen on a later day sort between earlier ones (the keys are renumbered)."""
    objects = pd.DataFrame(
        {"Object_Type": ["Video"] * 3, "Object_ID": ["a", "b", "c"], "Name": list("abc"), "Category": ["x"] * 3}
    ).assign(Duration_Sec=[10.0, 20.0, np.nan])
    rng = np.random.default_rng(3)
    kinds = list(PINGS.event_weights)

    def day(n: int, users: list[str], offset: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "User_ID": rng.choice(users, n),
                "Object_Type": "Video",
                "Object_ID": rng.choice(["a", "b", "c"], n),
                "Interaction_Type": rng.choice(kinds, n),
                "Watch_Time_Sec": pd.array(rng.integers(0, 30, n), dtype="Int64"),
                "Timestamp": pd.Timestamp("2026-01-01") + pd.to_timedelta(offset * 86_400 + np.arange(n), unit="s"),
            }
        )

    days = [day(200, ["u5", "u9"], 0), day(300, ["u1", "u7", "u9", "u3"], 1), day(0, ["u1"], 2), day(100, ["u0"], 3)]
    totals = PairTotals(objects, PINGS.event_weights)
    for frame in days:
        totals.add(frame)
    whole = engagement_scores(pd.concat(days, ignore_index=True), objects, PINGS.event_weights)
    pd.testing.assert_frame_equal(totals.frame(), whole, check_exact=True)
    assert list(totals.frame()["User_ID"].unique()) == ["u0", "u1", "u3", "u5", "u7", "u9"]


def test_nothing_added_gives_the_empty_tables():
    objects, _, _ = simulated_days(1, "2026-11-01", 0)
    assert PairTotals(objects, POPPY.event_weights).frame().empty
    trending = TrendingTotals(objects, POPPY.event_weights, POPPY.trending_roles, pd.Timestamp("2026-11-02"), 7.0)
    assert trending.top(10).empty


def test_report_day_by_day_equals_the_whole_window(window):
    objects, users, days = window
    whole = pd.concat(days, ignore_index=True)
    engagement = engagement_scores(whole, objects, POPPY.event_weights)
    args = (POPPY.view_type, POPPY.engaging_types)
    totals = ReportTotals(objects, users, *args, POPPY.rated_type)
    for day in days:
        totals.add(day)
    expected = build_report(whole, objects, users, engagement, *args)
    assert expected["watch_ratio_views"]["count"] > 500
    # The pairs read back a block at a time, summed per object (what the asset reads).
    blocks = [engagement.iloc[first : first + 700] for first in range(0, len(engagement), 700)]
    assert nested_close(totals.report(object_scores(blocks)), expected)
    data = totals.figure_data()
    pd.testing.assert_series_equal(
        data["per_user"].sort_index(), whole["User_ID"].value_counts().sort_index(), check_names=False
    )
    assert sorted(data["per_object"]) == sorted(whole.groupby(["Object_Type", "Object_ID"], observed=True).size())
    assert data["hours"].tolist() == np.bincount(whole["Timestamp"].dt.hour, minlength=24).tolist()
    assert data["ratings"].tolist() == whole["Interaction_Rating"].value_counts().sort_index().tolist()
    assert data["daily"].sum() == len(whole)


def nested_close(got, expected) -> bool:
    """Equal, floats up to rounding (the day-by-day sums add in another order)."""
    if isinstance(expected, dict):
        return got.keys() == expected.keys() and all(nested_close(got[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return len(got) == len(expected) and all(map(nested_close, got, expected))
    if isinstance(expected, float):
        return type(got) is float and got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    return type(got) is type(expected) and got == expected


@pytest.mark.parametrize("seed", range(20))
def test_summary_and_histogram_from_counts_equal_describe_and_histogram(seed):
    """Quantiles, extremes and histogram are exact from the counts of distinct values."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(rng.random(int(rng.integers(1, 40))), int(rng.integers(1, 500)))
    sample[: len(sample) // 3] = np.round(sample[: len(sample) // 3], 1)  # ties on round values too
    values, counts = np.unique(sample, return_counts=True)
    expected = watch_ratio_summary(pd.Series(sample))
    got = summary_from_counts(values, counts)
    assert nested_close(got, expected)
    for exact in ("count", "min", "p25", "p50", "p75", "p90", "max"):
        assert got[exact] == expected[exact], exact
    assert histogram_from_counts(values, counts) == watch_ratio_histogram(pd.Series(sample))


def test_summary_of_no_views_is_empty():
    assert summary_from_counts(np.array([]), np.array([], dtype=np.int64)) == watch_ratio_summary(pd.Series([]))
    assert histogram_from_counts(np.array([]), np.array([])) == []
