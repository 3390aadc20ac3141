"""A ratings log's habits (issue 29): drawn by a generator of the tests, fitted, regenerated, judged.

Each habit is one option of `support/rating_habits.py` (no repeats; same-second bursts; items'
Gini about 0.65; personal hours; a floor of 20 events per user); the fit must find it and the
regenerated log must show it within the log's own noise floor (its two halves), by our closeness
and detection AUC and by SDMetrics' quality score.
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poppy_pipeline.fidelity.closeness import split_by_user
from poppy_pipeline.fidelity.fit import fit_log, settings_from_fit
from poppy_pipeline.fidelity.habit_estimators import fit_days_activity, personal_hour_share
from poppy_pipeline.fidelity.regenerate import fidelity_report, simulate_from_fit
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.support.rating_habits import as_events, habits, ratings_log

pytestmark = pytest.mark.slow  # seconds per test: left out of make test-fast

START = "2024-02-01"
DAYS = 45
WINDOW = [str(date(2024, 2, 1) + timedelta(days=d)) for d in range(DAYS)]
SMALL = {"users": 220, "items": 600, "start": START, "days": DAYS}


def fitted(**options) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    events, objects = as_events(ratings_log(**(SMALL | options)))
    fit = fit_log(events, objects, WINDOW)
    return events, fit, simulate_from_fit(fit, WINDOW)


def value(fit: dict, name: str, default=None):
    return fit["parameters"].get(name, {"value": default})["value"]


@pytest.fixture(scope="module")
def every_habit():
    """The log with every habit, its fit, its regenerated log and the fidelity report."""
    events, fit, simulated = fitted()
    return events, fit, simulated, fidelity_report(events, simulated)


def test_a_log_with_every_habit_passes_both_checks_and_sdmetrics(every_habit):
    _, _, simulated, report = every_habit
    assert report["overall_closeness"] >= report["noise_floor_closeness"] - 0.05
    assert report["detection_auc"] <= 0.65
    field = report["sdmetrics"]
    assert field["quality"] >= field["noise_floor_quality"] - 0.02
    assert set(simulated["Object_Type"].astype(str)) == {"Star"}  # a one-type log: no phantom types


def test_no_repeats_are_recovered(every_habit):
    events, fit, simulated, _ = every_habit
    assert habits(events)["repeat_share"] == 0.0
    assert value(fit, "user_object_order") is True
    assert not simulated.duplicated(["User_ID", "Object_Type", "Object_ID"]).any()


def test_same_second_bursts_are_recovered(every_habit):
    events, fit, simulated, report = every_habit
    real, sim = habits(events), habits(simulated)
    assert value(fit, "session_gap_zero_share") == pytest.approx(real["same_second_share"], abs=0.01)
    assert sim["same_second_share"] == pytest.approx(real["same_second_share"], abs=0.05)
    assert sim["gap_p90_within_sittings"] == pytest.approx(real["gap_p90_within_sittings"], rel=0.25)
    gaps = report["statistics"]["gaps_sec"]
    assert gaps["closeness"] >= gaps["noise_floor"] - 0.05


def test_concentrated_popularity_is_recovered(every_habit):
    events, fit, simulated, report = every_habit
    assert habits(events)["item_gini"] >= 0.6
    assert value(fit, "object_popularity_sigma", 0) > 0  # log-normal: likelier than Zipf here
    assert habits(simulated)["item_gini"] == pytest.approx(habits(events)["item_gini"], abs=0.06)
    popularity = report["statistics"]["object_popularity"]
    assert popularity["closeness"] >= popularity["noise_floor"] - 0.1


def test_the_floor_and_the_tail_are_recovered(every_habit):
    events, fit, simulated, report = every_habit
    real, sim = habits(events), habits(simulated)
    assert value(fit, "min_events_per_user") == real["events_per_user_min"] == 20
    assert sim["events_per_user_min"] >= 20
    assert sim["events_per_user_max"] <= 2.5 * real["events_per_user_max"]  # a tail no heavier than the log's
    per_user = report["statistics"]["events_per_user"]
    assert per_user["closeness"] >= per_user["noise_floor"] - 0.1


def test_personal_hours_are_found_where_they_are_and_not_where_not():
    with_hours = personal_hour_share_of(personal_hour_share=0.8)
    without = personal_hour_share_of(personal_hour_share=0.0)
    assert with_hours > 0.3 > 0.1 > without


def personal_hour_share_of(**options) -> float:
    events, _ = as_events(ratings_log(**(SMALL | options)))
    ordered = events.sort_values(["User_ID", "Timestamp"])
    users = ordered["User_ID"].to_numpy()
    seconds = ordered["Timestamp"].to_numpy("datetime64[s]").astype(np.int64)
    starts = np.r_[True, (users[1:] != users[:-1]) | (np.diff(seconds) > 1800)]
    hours = (seconds[starts] % 86_400) // 3600
    profile = np.bincount(hours, minlength=24) / starts.sum()
    return personal_hour_share(users[starts] - 1, hours, profile)


def test_a_log_that_repeats_by_chance_keeps_the_ordinary_draws():
    """Repeats as drawing with replacement makes them: no order per user, repeat share kept."""
    events, fit, simulated = fitted(repeats=True)
    assert value(fit, "user_object_order", False) is False
    real = habits(events)["repeat_share"]
    assert habits(simulated)["repeat_share"] == pytest.approx(real, abs=0.05)


def test_days_activity_recovers_its_own_parameters():
    """Active days Beta-binomial, extra events per day negative binomial: drawn, then fitted back."""
    rng = np.random.default_rng(5)
    days, users = 60, 4000
    active = rng.beta(0.8, 12.0, users)
    active_days = rng.binomial(days, active)
    extra = rng.gamma(2.0, 4.0, users)
    events = active_days + rng.poisson(active_days * extra)
    seen = active_days > 0
    fit = fit_days_activity(active_days[seen], events[seen], days)
    assert fit.alpha == pytest.approx(0.8, rel=0.2)
    assert fit.beta == pytest.approx(12.0, rel=0.25)
    assert fit.shape * fit.scale == pytest.approx(8.0, rel=0.15)
    assert abs(fit.exponent) < 0.15
    assert seen.sum() / fit.observed_share == pytest.approx(users, rel=0.05)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    repeat_share=st.sampled_from([0.0, 0.1, 0.3]),
    alpha=st.floats(0.3, 3.0),
    scale=st.floats(0.5, 20.0),
    floor=st.sampled_from([0, 5, 20]),
)
def test_an_order_world_repeats_exactly_as_asked_and_keeps_its_floor(
    seed: int, repeat_share: float, alpha: float, scale: float, floor: int
):
    """Whatever the activity, a user never meets an object twice but by a revisit (so the repeat
    share is the revisits'), and no user acting in the span has fewer events than the floor."""
    window = [date(2024, 3, 1) + timedelta(days=d) for d in range(20)]
    world = SimulationSettings(
        seed=seed,
        num_users=60,
        num_stars=3000,  # more than any user's events: none has to repeat for want of objects
        num_planets=0,
        num_moons=0,
        founding_user_share=1.0,
        signup_start="2024-03-01",
        signup_end="2024-03-01",
        repeat_reference_days=20,
        repeat_share=repeat_share,
        user_object_order=True,
        active_day_alpha=alpha,
        active_day_beta=4.0,
        day_events_scale=scale,
        min_events_per_user=floor,
        session_gap_median_sec=20.0,
        session_gap_zero_share=0.5,
        personal_hour_share=0.6,
        interaction_type_weights={"View": 0.0, "Click": 0.0, "Favorite": 0.0, "Rate": 1.0},
    )
    objects = build_catalog(world, None).objects
    model = build_model(world, objects, generate_users(world))
    frames = [simulate_day(model, day) for day in window]
    log = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    if log.empty:
        return
    repeats = log.duplicated(["User_ID", "Object_Type", "Object_ID"]).mean()
    if repeat_share == 0:
        assert repeats == 0
    else:
        first_events = log["User_ID"].nunique() / len(log)  # a user's first event never revisits
        assert repeats == pytest.approx(repeat_share * (1 - first_events), abs=4 * np.sqrt(0.25 / len(log)) + 0.02)
    assert log.groupby("User_ID").size().min() >= max(floor, 1)
    assert set(log["Object_Type"].astype(str)) == {"Star"}
    # Days drawn in another order give the same bytes (each day knows the users' place in their order).
    again = build_model(world, objects, generate_users(world))
    assert simulate_day(again, window[-1]).equals(frames[-1])


def test_the_habits_are_off_in_the_default_world():
    model = build_model(
        SimulationSettings(), build_catalog(SimulationSettings(), None).objects, generate_users(SimulationSettings())
    )
    assert model.habits is None


def test_halves_of_the_log_are_the_floor_the_fit_is_held_to(every_habit):
    events, *_ = every_habit
    half_a, half_b = split_by_user(events)
    assert set(half_a["User_ID"]).isdisjoint(half_b["User_ID"])
    assert settings_from_fit(fit_log(half_a, as_events(ratings_log(**SMALL))[1], WINDOW)).user_object_order
