"""A fit is written only when the simulation can run it: the settings' own rules, an active share of
at least 1%, and a bounded number of users."""

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.fidelity.fit import fit_log
from poppy_pipeline.fidelity.fit_validation import MIN_ACTIVE_SHARE, FitError, checked_fit
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.settings import SimulationSettings

OBJECTS = build_catalog(SimulationSettings(), None).objects
DAYS = [str(day.date()) for day in pd.date_range("2026-11-01", "2026-11-30")]


def log_of(events_per_user: dict[int, int], seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.repeat(list(events_per_user), list(events_per_user.values()))
    picks = rng.integers(0, len(OBJECTS), len(users))
    stamps = pd.Timestamp(DAYS[0]) + pd.to_timedelta(rng.integers(0, 30 * 86_400, len(users)), unit="s")
    return pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, len(users) + 1),
            "User_ID": users,
            "Object_Type": OBJECTS["Object_Type"].to_numpy()[picks],
            "Object_ID": OBJECTS["Object_ID"].to_numpy()[picks],
            "Interaction_Type": "View",
            "Interaction_Rating": pd.array([pd.NA] * len(users), dtype="Int64"),
            "Timestamp": stamps.as_unit("s"),
            "Watch_Time_Sec": pd.array([pd.NA] * len(users), dtype="Int64"),
        }
    )


def test_many_users_with_one_event_make_an_impossible_fit_refused_by_name():
    """80 regular users and 2,600 with one event: the active share is estimated at 0."""
    events = log_of({**dict.fromkeys(range(1, 81), 200), **dict.fromkeys(range(81, 2_681), 1)})
    fit = fit_log(events, OBJECTS, DAYS)
    assert fit["measured"]["active_share"] < MIN_ACTIVE_SHARE and fit["parameters"]["num_users"]["value"] > 10**9
    with pytest.raises(FitError, match=r"^num_users: the estimated share of users active in the window is 0\.0"):
        checked_fit(fit)


def test_a_plausible_fit_passes_and_the_user_budget_is_configurable():
    fit = fit_log(log_of(dict.fromkeys(range(1, 41), 30)), OBJECTS, DAYS)
    assert checked_fit(fit) is fit
    users = fit["parameters"]["num_users"]["value"]
    with pytest.raises(FitError, match=f"more than max_simulated_users {users - 1:,}"):
        checked_fit(fit, max_users=users - 1)
    with pytest.raises(FitError, match="scale_users 1000"):
        checked_fit(fit, scale_users=1000, max_users=10_000)


def test_a_fitted_value_the_settings_refuse_is_named():
    fit = fit_log(log_of(dict.fromkeys(range(1, 41), 30)), OBJECTS, DAYS)
    fit["parameters"]["repeat_share"]["value"] = 1.5
    with pytest.raises(FitError, match=r"simulation.repeat_share must be a probability in \[0, 1\], got 1.5"):
        checked_fit(fit)
