"""Invalid settings fail with a message that names the setting."""

import dataclasses

import pytest

from poppy_pipeline.behaviour.model import BehaviourSettings
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.simulation.setting_declarations import SettingsError
from poppy_pipeline.simulation.settings import DEFAULT_INTERACTION_TYPE_WEIGHTS, SimulationSettings


def test_defaults_are_valid_and_match_seed_000():
    settings = SimulationSettings()
    assert (settings.num_users, settings.num_stars, settings.num_planets, settings.num_moons) == (100, 200, 100, 100)
    assert settings.interactions_per_day * 30 == pytest.approx(10_000)
    assert dict(settings.interaction_type_weights) == {"View": 0.5, "Click": 0.3, "Favorite": 0.15, "Rate": 0.05}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"num_users": -5}, "num_users"),
        ({"num_stars": -1}, "num_stars"),
        ({"num_stars": 0, "num_planets": 0, "num_moons": 0}, "num_stars"),
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


def _declared_fields(settings_class):
    return {f.name: f for f in dataclasses.fields(settings_class)}


@pytest.mark.parametrize("settings_class", [SimulationSettings, BehaviourSettings])
def test_every_setting_is_a_resource_field_with_its_default_and_description(settings_class, monkeypatch):
    monkeypatch.delenv("POPPY_SEED", raising=False)
    monkeypatch.delenv("POPPY_NUM_USERS", raising=False)
    resource_fields = SimulationResource.model_fields
    defaults = settings_class()
    resource = SimulationResource()
    for name, declared in _declared_fields(settings_class).items():
        assert name in resource_fields, name
        description = resource_fields[name].description
        assert description.startswith(declared.metadata["description"]), name
        value = getattr(resource, name)
        expected = getattr(defaults, name)
        assert value == (list(expected) if isinstance(expected, tuple) else expected), name


def test_the_resource_has_no_setting_the_core_does_not_declare():
    declared = set(_declared_fields(SimulationSettings)) | set(_declared_fields(BehaviourSettings))
    assert set(SimulationResource.model_fields) - declared == {"objects_dir"}


def test_dagster_shows_every_setting_with_description_and_default():
    schema = SimulationResource.to_config_schema().as_field().config_type
    read_from_environment = {"seed", "num_users", "objects_dir"}  # their default is known only at load time
    for name, config_field in schema.fields.items():
        assert config_field.description, name
        assert not config_field.is_required, name
        assert config_field.default_provided or name in read_from_environment, name
    assert schema.fields["hour_weights"].default_value == list(SimulationSettings().hour_weights)
    assert schema.fields["ad_warmup_sec"].default_value == BehaviourSettings().ad_warmup_sec


def test_resource_instances_do_not_share_mutable_defaults():
    first, second = SimulationResource(), SimulationResource()
    assert first.profile_weights == second.profile_weights and first.profile_weights is not second.profile_weights
