"""Invalid settings fail with a message that names the setting."""

import pytest

from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.settings import DEFAULT_INTERACTION_TYPE_WEIGHTS, SettingsError, SimulationSettings


def test_defaults_are_valid_and_match_seed_000():
    settings = SimulationSettings()
    assert (settings.num_users, settings.num_stars, settings.num_planets, settings.num_moons) == (100, 200, 100, 100)
    assert settings.interactions_per_day * 30 == pytest.approx(10_000)
    assert dict(settings.interaction_type_weights) == {"View": 0.5, "Click": 0.3, "Favorite": 0.15, "Rate": 0.05}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"num_users": -5}, "num_users"),
        ({"num_stars": 0}, "num_stars"),
        ({"seed": -1}, "seed"),
        ({"interaction_type_weights": {**DEFAULT_INTERACTION_TYPE_WEIGHTS, "View": 0.6}}, "interaction_type_weights"),
        ({"interaction_type_weights": {"View": 0.5, "Click": 0.5}}, "interaction_type_weights"),
        ({"rating_weights": [0.2, 0.2, 0.2, 0.2, 0.1]}, "rating_weights"),
        ({"hour_weights": [1 / 12] * 12}, "hour_weights"),
        ({"profile_weights": {"rushed_reader": 1.0}}, "profile_weights"),
        ({"repeat_share": 1.5}, "repeat_share"),
        ({"interactions_per_day": -1.0}, "interactions_per_day"),
        ({"signup_start": "2026-13-01"}, "signup_start"),
        ({"signup_start": "2027-01-01", "signup_end": "2026-01-01"}, "signup_end"),
    ],
)
def test_invalid_setting_is_named(changes, named):
    with pytest.raises(SettingsError, match=rf"simulation\.{named}"):
        SimulationSettings(**changes)


def test_resource_validates_through_the_same_rules():
    with pytest.raises(SettingsError, match=r"simulation\.num_users must be at least 1, got -3"):
        SimulationResource(num_users=-3).settings()


def test_environment_sets_seed_and_users(monkeypatch):
    monkeypatch.setenv("POPPY_SEED", "7")
    monkeypatch.setenv("POPPY_NUM_USERS", "250")
    settings = SimulationResource().settings()
    assert (settings.seed, settings.num_users) == (7, 250)


def test_bad_environment_value_is_named(monkeypatch):
    monkeypatch.setenv("POPPY_NUM_USERS", "lots")
    with pytest.raises(SettingsError, match="POPPY_NUM_USERS"):
        SimulationResource()
