"""`simulation_fit`: recover known settings, fit foreign logs, and a run config that runs."""

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from poppy_pipeline.behaviour.model import BehaviourSettings
from poppy_pipeline.behaviour.session_measures import session_problems, session_shape_problems
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.common import tables
from poppy_pipeline.common.user_sample import in_user_sample, user_sample_share
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline.fidelity.fit import fit_log, scaled_to_population, settings_from_fit
from poppy_pipeline.fidelity.regenerate import simulate_from_fit
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.repeats import expected_repeat_share
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.assets.test_real_logs import FEBRUARY, SOURCES_AND_SUMMARIES
from poppy_pipeline_tests.support.movielens import as_events, movielens_like, write_movielens

DAYS = [str(date(2024, 2, 1) + timedelta(days=d)) for d in range(28)]
KNOWN = SimulationSettings(
    num_users=400,
    founding_user_share=1.0,
    signup_start="2024-02-01",
    signup_end="2024-02-01",
    activity_sigma=1.3,
    interactions_per_day=2000,
    object_popularity_exponent=0.8,
    rating_bias_sd=0.5,
    preferred_type_share=0.7,
    preferred_type_user_share=0.4,
    weekday_weights=(0.1, 0.1, 0.1, 0.1, 0.15, 0.2, 0.25),
    interaction_type_weights={"View": 0.4, "Click": 0.3, "Favorite": 0.1, "Rate": 0.2},
    watch_ratio_alpha=3.0,
    watch_ratio_beta=1.5,
)


def simulate(settings: SimulationSettings, days: list[str] = DAYS):
    objects = build_catalog(settings, None).objects
    users = generate_users(settings)
    model = build_model(settings, objects, users)
    events = pd.concat([simulate_day(model, date.fromisoformat(d)) for d in days], ignore_index=True)
    return events, objects, users, model


def value(fit: dict, name: str):
    return fit["parameters"][name]["value"]


@pytest.fixture(scope="module")
def known_log():
    return simulate(KNOWN)


@pytest.fixture(scope="module")
def recovered(known_log):
    events, objects, users, model = known_log
    return fit_log(events, objects, DAYS, population=len(users)), model


def test_parameter_recovery(recovered):
    fit, model = recovered
    assert value(fit, "activity_sigma") == pytest.approx(KNOWN.activity_sigma, abs=0.15)
    assert value(fit, "num_users") == pytest.approx(KNOWN.num_users, rel=0.05)
    assert value(fit, "interactions_per_day") == pytest.approx(KNOWN.interactions_per_day, rel=0.08)
    assert value(fit, "object_popularity_exponent") == pytest.approx(KNOWN.object_popularity_exponent, abs=0.1)
    assert value(fit, "rating_bias_sd") == pytest.approx(KNOWN.rating_bias_sd, abs=0.12)
    assert value(fit, "preferred_type_share") == pytest.approx(KNOWN.preferred_type_share, abs=0.05)
    assert value(fit, "preferred_type_user_share") == pytest.approx(KNOWN.preferred_type_user_share, abs=0.08)
    assert value(fit, "watch_ratio_alpha") == pytest.approx(KNOWN.watch_ratio_alpha, rel=0.2)
    assert value(fit, "watch_ratio_beta") == pytest.approx(KNOWN.watch_ratio_beta, rel=0.2)
    for name, share in KNOWN.interaction_type_weights.items():
        assert value(fit, "interaction_type_weights")[name] == pytest.approx(share, abs=0.015)
    assert np.abs(np.subtract(value(fit, "weekday_weights"), KNOWN.weekday_weights)).max() < 0.02
    assert 0.5 * np.abs(np.subtract(value(fit, "hour_weights"), KNOWN.hour_weights)).sum() < 0.06
    expected = expected_repeat_share(model, date.fromisoformat(DAYS[-1]), len(DAYS))
    assert value(fit, "repeat_share") == pytest.approx(expected, abs=0.03)
    assert value(fit, "interactions_per_session") == pytest.approx(KNOWN.interactions_per_session, rel=0.25)


def test_long_sittings_are_recovered_and_cut_into_browsing_sessions():
    """Sittings of ~20 events 40 s apart outlast a browsing session: each Session_ID still fits
    in 300 s, the user's events run on across them, and the fit gets the gaps back."""
    settings = replace(KNOWN, interactions_per_session=20.0, session_gap_median_sec=40.0, session_gap_sigma=0.7)
    events, objects, users, _ = simulate(settings, DAYS[:7])
    spans = events.groupby("Session_ID")["Timestamp"].agg(lambda t: (t.max() - t.min()).total_seconds())
    assert spans.max() < 300
    order = events.sort_values(["User_ID", "Timestamp"], kind="stable")
    gaps = order.groupby("User_ID")["Timestamp"].diff().dt.total_seconds().fillna(np.inf)
    assert gaps[gaps <= 1800].median() == pytest.approx(40, rel=0.05)
    sittings = (gaps > 1800).cumsum()  # a new one after 30 min without an event
    assert order.groupby(sittings)["Timestamp"].agg(lambda t: (t.max() - t.min()).total_seconds()).max() > 600
    day = events[events["Timestamp"] < pd.Timestamp(DAYS[1])]
    browsing = simulate_sessions(BehaviourSettings(), settings.seed, users, day, date.fromisoformat(DAYS[0]))
    assert not any(session_problems(browsing.actions, day).values())
    assert not any(session_shape_problems(browsing.actions).values())
    fit = fit_log(events, objects, DAYS[:7], population=len(users))
    assert value(fit, "session_gap_median_sec") == pytest.approx(40, rel=0.1)
    assert value(fit, "session_gap_sigma") == pytest.approx(0.7, abs=0.1)


def test_silent_users_are_estimated_without_a_users_file(known_log):
    events, objects, _, _ = known_log
    truncated = fit_log(events, objects, DAYS)  # only the active users are known
    assert value(truncated, "num_users") == pytest.approx(KNOWN.num_users, rel=0.05)
    assert "zero-truncated" in truncated["parameters"]["activity_sigma"]["method"]


def test_fit_of_a_foreign_generator():
    """A MovieLens-like log (negative-binomial users, no repeats, sittings): what it shows, the fit says."""
    frame = movielens_like(users=300, movies=600)
    events, objects = as_events(frame)
    days = sorted(events["Timestamp"].dt.strftime("%Y-%m-%d").unique())
    fit = fit_log(events, objects, days)
    assert value(fit, "interaction_type_weights")["Rate"] == 1.0
    assert value(fit, "repeat_share") == 0.0
    shares = frame["rating"].value_counts(normalize=True).sort_index().to_numpy()
    assert np.allclose(value(fit, "rating_weights"), shares, atol=1e-5)
    assert value(fit, "num_stars") == 600 and value(fit, "num_planets") == value(fit, "num_moons") == 0  # no phantoms
    assert "watch_ratio_alpha, watch_ratio_beta" in fit["not_informed"]
    assert value(fit, "preferred_type_user_share") == 0.0  # one object type: nothing to prefer
    # Nights (00-06 UTC) are about a fifth of this generator's sittings, not the default 12%.
    assert 0.17 < sum(value(fit, "hour_weights")[:6]) < 0.27
    settings = settings_from_fit(fit)  # the fit is a valid simulation
    assert settings.num_users >= frame["user"].nunique()


def test_asset_writes_json_and_a_run_config_that_the_resource_accepts(data_dir: Path, tmp_path: Path):
    data, mapping = write_movielens(tmp_path / "ml", users=60, movies=150)
    source = InteractionSourceResource(path=str(data), format="csv", mapping=str(mapping))
    result = materialize_selected([*SOURCES_AND_SUMMARIES[:3], "simulation_fit"], {"interaction_source": source})
    assert result.success
    config = yaml.safe_load((data_dir / "simulation_fit.yaml").read_text())
    assert config["resources"]["interaction_source"]["config"] == {"path": ""}
    simulation = SimulationResource(**config["resources"]["simulation"]["config"])
    settings = simulation.settings()
    assert settings.interaction_type_weights["Rate"] == 1.0
    # The run config simulates the log's window, users first.
    again = materialize_selected(SOURCES_AND_SUMMARIES[:3], {"simulation": simulation})
    assert again.success
    days = sorted((data_dir / "simulated_interactions").glob("*.csv"))  # the same window: every day rewritten
    simulated = pd.concat([tables.read_csv(day) for day in days])
    assert set(simulated["Interaction_Type"]) == {"Rate"}


def materialize_selected(
    names: list[str], resources: dict, run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in names]
    resources = {**defs.resources, **resources}
    return dg.materialize(assets, resources=resources, tags=FEBRUARY, run_config=run_config, raise_on_error=False)


def test_scaling_users_keeps_per_user_statistics(recovered):
    fit, _ = recovered
    week = DAYS[:7]
    base = simulate_from_fit(fit, week)
    scaled = simulate_from_fit(fit, week, scale_users=3.0)
    assert settings_from_fit(fit, scale_users=3.0).num_users == 3 * value(fit, "num_users")
    assert len(scaled) == pytest.approx(3 * len(base), rel=0.1)
    per_user = base.groupby("User_ID").size().mean()
    assert scaled.groupby("User_ID").size().mean() == pytest.approx(per_user, rel=0.1)


def test_a_fit_on_a_user_sample_is_scaled_back_to_the_whole_log(known_log, recovered):
    """simulation_fit's max_users: half the users, fitted and scaled, give the whole log's volume."""
    events, objects, users, _ = known_log
    share = user_sample_share(len(users), len(users) // 2)
    kept = in_user_sample(events["User_ID"], share)
    population = int(in_user_sample(users["User_ID"], share).sum())
    assert 0.4 < population / len(users) < 0.6
    fit = scaled_to_population(fit_log(events[kept], objects, DAYS, population=population), share)
    full, _ = recovered
    assert fit["sample"]["user_share"] == share == 0.5
    for name in ("num_users", "interactions_per_day"):
        assert value(fit, name) == pytest.approx(value(full, name), rel=0.15), name
    assert value(fit, "repeat_share") == pytest.approx(value(full, "repeat_share"), abs=0.03)
    assert scaled_to_population(full, 1.0) is full
