"""The simulation refuses, before allocating anything, settings whose arrays would exceed the memory
budget: one sentence naming the setting, with the estimate."""

import pytest

from poppy_pipeline.simulation.memory_budget import MEMORY_BUDGET_ENV, memory_estimate
from poppy_pipeline.simulation.setting_declarations import SettingsError
from poppy_pipeline.simulation.settings import SimulationSettings


def test_a_trillion_users_are_refused_with_the_estimate(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(MEMORY_BUDGET_ENV, raising=False)
    with pytest.raises(SettingsError) as raised:  # a MemoryError of 7 TiB before, after allocating
        SimulationSettings(num_users=1_000_000_000_000)
    message = str(raised.value)
    assert message.startswith("simulation.num_users 1,000,000,000,000 would need about ")
    assert "TiB of memory" in message and "more than the memory budget of" in message and "\n" not in message


def test_the_budget_is_configurable_and_the_defaults_fit(monkeypatch: pytest.MonkeyPatch):
    default = sum(memory_estimate(SimulationSettings()).values())
    assert default < 2**20  # the default run: well under a megabyte of planned arrays
    monkeypatch.setenv(MEMORY_BUDGET_ENV, "0.001")  # about 1 MiB
    SimulationSettings()
    with pytest.raises(SettingsError, match=r"simulation.interactions_per_day 10,000,000.0 would need about"):
        SimulationSettings(interactions_per_day=10_000_000.0)
    monkeypatch.setenv(MEMORY_BUDGET_ENV, "lots")
    with pytest.raises(SettingsError, match=f"{MEMORY_BUDGET_ENV} must be a number of GiB, got 'lots'"):
        SimulationSettings()
