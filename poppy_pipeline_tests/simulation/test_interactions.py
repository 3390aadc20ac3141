"""simulated_interactions core: deterministic to the byte, and every claimed pattern holds."""

import io
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.common.columns import INTERACTION_COLUMNS
from poppy_pipeline.simulation import patterns
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.pattern_results import REPEAT_SHARE_TOLERANCE, TYPE_MIX_TOLERANCE
from poppy_pipeline.simulation.rating_tilt import tilted_distributions, user_rating_distributions
from poppy_pipeline.simulation.repeats import expected_repeat_share, feasible_repeat_shares
from poppy_pipeline.simulation.sampling import searchsorted_right
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW, WINDOW_END, expected_interactions, make_model, simulate_window

# Ten times the default population and traffic: large enough for the spec's tolerances to be stable.
STABLE = SimulationSettings(num_users=1_000, interactions_per_day=10 * 10_000 / 30)


@pytest.fixture(scope="module")
def stable_world():
    model, objects, users = make_model(STABLE)
    return model, objects, users, simulate_window(model)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    tables.write_csv(frame, buffer)
    return buffer.getvalue()


def test_same_seed_gives_identical_bytes_in_any_order():
    day_a, day_b = date(2026, 11, 20), date(2026, 11, 21)
    first, _, _ = make_model(SimulationSettings())
    second, _, _ = make_model(SimulationSettings())
    forward = [csv_bytes(simulate_day(first, d)) for d in (day_a, day_b)]
    backward = [csv_bytes(simulate_day(second, d)) for d in (day_b, day_a)][::-1]
    assert forward == backward


def test_days_and_seeds_differ():
    model, _, _ = make_model(SimulationSettings())
    other, _, _ = make_model(SimulationSettings(seed=43))
    day = date(2026, 11, 21)
    assert csv_bytes(simulate_day(model, day)) != csv_bytes(simulate_day(model, day - timedelta(days=1)))
    assert csv_bytes(simulate_day(model, day)) != csv_bytes(simulate_day(other, day))


def test_full_population_volume_matches_seed_000():
    # Seed 000: 10,000 interactions in 30 days by 100 users, reached once all have signed up.
    model, _, _ = make_model(SimulationSettings())
    after_growth = [date(2027, 10, 1) + timedelta(days=d) for d in range(30)]
    assert 9_000 <= len(simulate_window(model, after_growth)) <= 11_000


@pytest.mark.parametrize("seed", [42, 7, 11])
@pytest.mark.parametrize(
    "first", [date(2025, 10, 1), date(2025, 11, 1), date(2026, 3, 1), date(2026, 6, 1), date(2026, 11, 7)]
)
def test_every_span_from_signup_start_carries_the_seeds_volume(seed, first):
    # Seed 000: 10,000 interactions in 30 days by its 100 users, in any span, while users still sign up.
    model, _, users = make_model(SimulationSettings(seed=seed))
    days = [first + timedelta(days=d) for d in range(30)]
    expected = expected_interactions(users, days)
    assert expected == pytest.approx(10_000)
    assert model.expected_span_events(days) == pytest.approx(expected)
    assert abs(len(simulate_window(model, days)) - expected) < 4 * expected**0.5


def test_before_signup_start_the_traffic_ramps_up_with_the_founders():
    model, _, users = make_model(SimulationSettings())
    founding = [date(2025, 3, 1) + timedelta(days=d) for d in range(30)]
    expected = expected_interactions(users, founding)
    assert 1_000 < expected < 9_000  # some founders have signed up, not all
    assert model.expected_span_events(founding) == pytest.approx(expected)
    assert abs(len(simulate_window(model, founding)) - expected) < 4 * expected**0.5


def test_a_user_s_rate_is_their_activity_share_among_the_users_signed_up():
    model, _, _ = make_model(SimulationSettings())
    day = date(2026, 11, 21)
    signed_up = model.signed_up(day)
    rates = model.daily_rates(signed_up)
    assert rates.sum() == pytest.approx(10_000 / 30)
    np.testing.assert_allclose(rates / rates.sum(), model.activity[signed_up] / model.activity[signed_up].sum())


def test_columns_and_row_invariants(stable_world):
    _model, objects, _users, window = stable_world
    assert list(window.columns) == INTERACTION_COLUMNS
    assert window["Interaction_ID"].is_unique
    is_view = window["Interaction_Type"] == "View"
    assert window["Watch_Time_Sec"].notna().eq(is_view).all()
    durations = window.merge(objects, on=["Object_Type", "Object_ID"])
    assert (
        durations["Watch_Time_Sec"].dropna() <= durations.loc[durations["Watch_Time_Sec"].notna(), "Duration_Sec"]
    ).all()
    sessions = window.groupby("Session_ID").agg(
        users=("User_ID", "nunique"), start=("Timestamp", "min"), end=("Timestamp", "max")
    )
    assert (sessions["users"] == 1).all()
    assert ((sessions["end"] - sessions["start"]).dt.total_seconds() <= 300).all()
    assert (
        window.groupby(window["Timestamp"].dt.date)["Interaction_ID"]
        .apply(lambda ids: (ids // 100_000_000).nunique() == 1)
        .all()
    )
    assert (
        window["Timestamp"].is_monotonic_increasing
        or window.groupby(window["Timestamp"].dt.date)["Timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    )


def test_type_mix(stable_world):
    _, _, _, window = stable_world
    result = patterns.type_mix(window, STABLE)
    assert result.passed, result.describe()
    assert result.value <= TYPE_MIX_TOLERANCE


def test_ratings_only_on_rate_and_skewed_high(stable_world):
    result = patterns.rating_distribution(stable_world[3])
    assert result.passed, result.describe()
    assert result.details["ratings_off_rate_or_missing"] == 0


def test_user_mean_rating_follows_rating_bias(stable_world):
    _, _, users, window = stable_world
    result = patterns.rating_bias_correlation(window, users)
    assert result.passed and result.value >= 0.5, result.describe()


def test_rating_bias_shifts_the_mean_by_itself(stable_world):
    # A user's expected rating is seed 000's mean plus their bias: the slope of mean rating on
    # bias is 1 (shifting and clipping at 5 gave about 0.8: a +0.5 user's 5s stayed 5s).
    _, _, users, window = stable_world
    rated = window[window["Interaction_Rating"].notna()]
    per_user = rated.groupby("User_ID")["Interaction_Rating"].mean().astype(float)
    bias = users.set_index("User_ID")["Rating_Bias"].reindex(per_user.index)
    inside = bias.abs() < 1.0  # targets well inside 1-5
    slope = np.polyfit(bias[inside], per_user[inside], 1)[0]
    assert 0.9 < slope < 1.1, slope


@pytest.mark.parametrize("share", [0.6, 0.85])
def test_preferring_users_put_the_configured_share_on_their_type(share):
    settings = SimulationSettings(num_users=1_000, interactions_per_day=3_333, preferred_type_share=share)
    model, _, users = make_model(settings)
    result = patterns.preferred_type_share(simulate_window(model, WINDOW[-10:]), users, settings)
    assert abs(result.value - share) <= 0.05, result.describe()


@pytest.mark.parametrize("target", [0.40, 0.55])
def test_repeat_share_over_the_default_30_days(target):
    settings = SimulationSettings(num_users=1_000, interactions_per_day=3_333, repeat_share=target)
    model, _, _ = make_model(settings)
    window = simulate_window(model)
    result = patterns.repeat_share(window, expected=target)
    assert abs(result.value - target) <= REPEAT_SHARE_TOLERANCE, result.describe()
    assert expected_repeat_share(model, WINDOW_END, 30) == pytest.approx(target, abs=1e-6)


def test_repeat_share_at_default_size(stable_world):
    _model, _, _, _ = stable_world
    default_model, _, _ = make_model(SimulationSettings())
    result = patterns.repeat_share(simulate_window(default_model), expected=0.40)
    assert result.passed, result.describe()


def test_users_and_objects_are_heavy_tailed(stable_world):
    _, objects, users, window = stable_world
    result = patterns.concentration(window, users, objects)
    assert result.details["top_decile_users_share"] >= 0.30, result.describe()
    assert result.details["top_decile_objects_share"] >= 0.30, result.describe()


def test_evening_peak_and_quiet_nights(stable_world):
    result = patterns.hour_profile(stable_world[3])
    assert result.details["share_18_24"] >= 0.35 and result.details["share_00_06"] < 0.20, result.describe()


def test_integrity_and_no_activity_before_signup(stable_world):
    _, objects, users, window = stable_world
    result = patterns.integrity(window, users, objects)
    assert result.passed, result.details


# The checks can fail: each measure rejects data that breaks its claim.


def test_integrity_catches_unknown_objects_users_and_duplicate_ids(stable_world):
    _, objects, users, window = stable_world
    broken = window.head(100).copy()
    broken.loc[0, "Object_ID"] = 10_000
    broken.loc[1, "User_ID"] = 99_999
    broken.loc[2, "Interaction_ID"] = broken.loc[3, "Interaction_ID"]
    result = patterns.integrity(broken, users, objects)
    assert not result.passed
    assert (
        result.details["unknown_objects"],
        result.details["unknown_users"],
        result.details["duplicate_interaction_ids"],
    ) == (1, 1, 1)


def test_measures_on_a_log_as_read_back_out_of_order_with_gaps():
    """Text types (not categorical), events out of time order, missing types, unknown users and
    objects, a repeated ID, one user acting before sign-up: every count by hand."""
    objects = pd.DataFrame({"Object_Type": ["Star", "Planet", "Moon"], "Object_ID": [1, 1, 1]})
    users = pd.DataFrame({"User_ID": [1, 2, 3], "Signup_Date": [date(2026, 1, 1), date(2026, 1, 1), date(2026, 3, 2)]})
    log = pd.DataFrame(
        {
            "Interaction_ID": [1, 2, 3, 4, 5, 6, 5, 7],
            "User_ID": [1, 1, 1, 2, 2, 2, 9, 3],
            "Object_Type": ["Star", "Star", "Planet", "Star", None, None, "Moon", "Moon"],
            "Object_ID": [1, 1, 1, 1, 1, 1, 7, 1],
            "Timestamp": pd.to_datetime(["2026-03-01 10:00", "2026-03-01 09:00"] + ["2026-03-01 11:00"] * 6),
        }
    )
    result = patterns.integrity(log, users, objects)
    details = {k: result.details[k] for k in ("unknown_objects", "unknown_users", "events_before_signup")}
    assert details == {"unknown_objects": 3, "unknown_users": 1, "events_before_signup": 1}
    assert result.details["duplicate_interaction_ids"] == 1
    # Repeats: the second (1, Star, 1) and the second (2, missing type, 1); order does not matter.
    assert patterns.repeat_share(log, expected=0.25).details == {"events": 8, "repeats": 2}
    assert patterns.repeat_share(log.iloc[::-1], expected=0.25).value == 2 / 8
    # Objects with a type: (Star, 1) ×3, (Planet, 1), (Moon, 7), (Moon, 1); the top one of 3 has 3 of 6.
    assert patterns.concentration(log, users, objects).details["top_decile_objects_share"] == 3 / 6


def test_type_mix_fails_on_other_weights(stable_world):
    skewed = SimulationSettings(interaction_type_weights={"View": 0.7, "Click": 0.1, "Favorite": 0.15, "Rate": 0.05})
    assert not patterns.type_mix(stable_world[3], skewed).passed


def test_flat_hours_fail_the_evening_peak():
    model, _, _ = make_model(SimulationSettings(hour_weights=[1 / 24] * 24, num_users=300, interactions_per_day=3_000))
    result = patterns.hour_profile(simulate_window(model, WINDOW[-5:]))
    assert not result.passed and abs(result.details["share_18_24"] - 0.25) < 0.02


def test_uniform_activity_fails_concentration():
    settings = SimulationSettings(
        activity_sigma=0.0, object_popularity_exponent=0.0, num_users=500, interactions_per_day=5_000
    )
    model, objects, users = make_model(settings)
    result = patterns.concentration(simulate_window(model, WINDOW[-5:]), users, objects)
    assert not result.passed


def test_repeat_share_fails_far_from_expectation(stable_world):
    assert not patterns.repeat_share(stable_world[3], expected=0.10).passed


def test_unreachable_repeat_share_is_reported():
    # The busiest users exhaust the catalog, so a low target is out of reach: the bounds say so.
    model, _, _ = make_model(SimulationSettings(repeat_share=0.05))
    lowest, highest = feasible_repeat_shares(model, WINDOW_END)
    assert 0.05 < lowest < 0.40 < highest


def test_no_users_signed_up_gives_an_empty_day():
    model, _, _ = make_model(SimulationSettings())
    empty = simulate_day(model, date(2020, 1, 1))
    assert list(empty.columns) == INTERACTION_COLUMNS and len(empty) == 0
    assert csv_bytes(empty).decode().strip() == ",".join(INTERACTION_COLUMNS)


def test_interaction_ids_continue_to_be_unique_across_days():
    model, _, _ = make_model(SimulationSettings())
    ids = simulate_window(model)["Interaction_ID"].to_numpy()
    assert len(np.unique(ids)) == len(ids)


def test_each_users_rating_distribution_is_the_one_solved_for_their_bias_alone():
    """Solved once per distinct bias, handed to every user with it: the same bits as alone."""
    settings = SimulationSettings()
    bias = np.array([0.5, -0.25, 0.5, np.nan, 3.0, -0.25, -3.0, 0.0])
    together = user_rating_distributions(settings, bias)
    assert together.shape == (len(bias), 5)
    for row, value in enumerate(bias):
        alone = tilted_distributions(settings, np.array([np.nan_to_num(value)]))[0]
        assert np.array_equal(together[row], alone), (row, value)
    means = together @ np.arange(1, 6)
    assert means[0] > means[7] > means[1] and means[4] > 4.5 and means[6] < 1.5


@pytest.mark.parametrize("top", [1.0, 3.0, 24.0])
def test_searchsorted_right_gives_numpy_s_answer(top):
    rng = np.random.default_rng(5)
    for size in (0, 1, 4, 133, 400):
        # Rounded values put some keys exactly on them and make ties; the last is often the top.
        values = np.sort(np.round(rng.random(size) * top, 3))
        keys = np.concatenate([rng.random(20_000) * top * 1.05, values, np.nextafter(values, np.inf)])
        assert np.array_equal(searchsorted_right(values, keys), np.searchsorted(values, keys, side="right"))
        grid = keys[:160].reshape(20, 8)  # any shape, like the favourites' (users, k)
        assert np.array_equal(searchsorted_right(values, grid), np.searchsorted(values, grid, side="right"))
    odd = np.array([-0.5, np.nan, 0.25])  # outside the table's domain: numpy's own search
    assert np.array_equal(searchsorted_right(np.array([0.1, 0.5]), odd), [0, 2, 1])
