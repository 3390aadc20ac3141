"""users: profiles, devices, heavy-tailed activity, preferences, rating bias, sign-ups."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation import population
from poppy_pipeline.simulation.pattern_results import top_decile_share
from poppy_pipeline.simulation.population import USER_COLUMNS, generate_users
from poppy_pipeline.simulation.profiles import PROFILE_NAMES
from poppy_pipeline.simulation.settings import SimulationSettings

LARGE = SimulationSettings(num_users=20_000)


def test_columns_ids_and_types():
    users = generate_users(SimulationSettings())
    assert list(users.columns) == USER_COLUMNS
    assert users["User_ID"].tolist() == list(range(1, 101))
    assert set(users["Profile"]) <= set(PROFILE_NAMES)
    assert set(users["Device"]) <= {"desktop", "mobile"}
    assert set(users["Preferred_Type"].dropna()) <= {"Star", "Planet", "Moon"}


def test_population_shape_at_scale():
    users = generate_users(LARGE)
    assert set(users["Profile"]) == set(PROFILE_NAMES)
    assert (users.loc[users["Profile"] == "mobile_user", "Device"] == "mobile").all()
    assert abs(users["Preferred_Type"].notna().mean() - 0.30) < 0.02
    assert abs(users["Activity_Weight"].mean() - 1.0) < 0.05
    assert top_decile_share(users["Activity_Weight"], len(users)) > 0.30  # heavy tail
    assert abs(users["Rating_Bias"].std() - LARGE.rating_bias_sd) < 0.02
    assert abs(users["Rating_Bias"].abs().mean() - 0.5) < 0.02  # seed 000: "by ~0.5 points"
    assert abs(np.corrcoef(users["Rating_Bias"], np.log(users["Activity_Weight"]))[0, 1]) < 0.03


def test_every_signed_up_prefix_is_heavy_tailed():
    # The users signed up by any day are a prefix of the table; even 20 of them show the tail.
    for seed in range(1, 21):
        weights = generate_users(SimulationSettings(seed=seed))["Activity_Weight"]
        for n in range(20, 101):
            assert top_decile_share(weights[:n], n) >= 0.30, (seed, n)  # i.i.d. draws: down to 0.22


def test_signups_follow_id_order_and_spread_over_the_growth_period():
    users = generate_users(LARGE)
    signups = pd.to_datetime(users["Signup_Date"])
    assert signups.is_monotonic_increasing
    growth = (signups >= pd.Timestamp(LARGE.signup_start)) & (signups <= pd.Timestamp(LARGE.signup_end))
    assert abs(growth.mean() - (1 - LARGE.founding_user_share)) < 0.02
    # Any 30-day window of the growth period has new users, at the default size too.
    default = pd.to_datetime(generate_users(SimulationSettings())["Signup_Date"])
    window_end = pd.Timestamp(date(2026, 11, 21))
    assert ((default > window_end - pd.Timedelta(days=30)) & (default <= window_end)).sum() >= 1


def test_deterministic_per_seed():
    assert generate_users(SimulationSettings(seed=5)).equals(generate_users(SimulationSettings(seed=5)))
    assert not np.array_equal(
        generate_users(SimulationSettings(seed=5))["Activity_Weight"],
        generate_users(SimulationSettings(seed=6))["Activity_Weight"],
    )


def _van_der_corput_reference(seed: int, name: str, n: int, base: int) -> np.ndarray:
    """The sequence as first written: digit by digit until every index is used up."""
    index, radical, scale = np.arange(n, dtype=np.int64), np.zeros(n), 1.0 / base
    while index.any():
        radical += scale * (index % base)
        index //= base
        scale /= base
    return np.clip((radical + stream(seed, name).random()) % 1.0, 1e-12, 1 - 1e-12)


@pytest.mark.parametrize("base", [2, 3, 5])
@pytest.mark.parametrize("n", [0, 1, 2, 9, 10, 1_000, 999_983])
def test_spread_quantiles_equal_the_digit_by_digit_sequence(n: int, base: int):
    expected = _van_der_corput_reference(7, "users:activity", n, base)
    assert np.array_equal(population._spread_quantiles(7, "users:activity", n, base), expected)
