"""The simulation a run uses instead of too few real rows: fitted, when it can be, to the same source.

A run of the `database` source whose span of days holds fewer than `min_real_interactions` rows
simulates instead (`when_too_few: simulate`). When `simulation_fit.json` from an earlier run
is in the outputs folder and was fitted to the same source (the same database table, read
for real, not simulated), the simulation uses its settings; otherwise the configured ones, and
the description says why. Fitting to the few rows themselves is not attempted: on a few
hundred rows the estimators drift (Zipf popularity, session length; docs/database.md has figures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from poppy_pipeline.fidelity.fit import FIT_FILE, simulation_values
from poppy_pipeline.simulation.settings import SimulationSettings


@dataclass(frozen=True)
class FallbackSimulation:
    """The settings a simulating run uses, and a sentence saying which they are (log and metadata)."""

    settings: SimulationSettings
    description: str
    fitted: bool


def fallback_simulation(
    configured: SimulationSettings, fit_path: Path, source: str, first_day: str, min_rows: int
) -> FallbackSimulation:
    """`configured`, or the settings of the fit at `fit_path` when it was fitted to `source`.

    The fitted run keeps the configured seed, and every user exists from `first_day` (the run's
    window), so any window can be simulated from a fit of another window of the same source.
    """
    prefix = f"simulated (fewer than {min_rows} real rows):"
    if not fit_path.exists():
        return FallbackSimulation(configured, f"{prefix} default settings (no {FIT_FILE} yet)", False)
    try:
        fit = json.loads(fit_path.read_text())
        window, fitted_to = fit["window"], fit["window"].get("log")
        if fitted_to != source:
            why = f"fitted to {fitted_to or window.get('source', 'an unnamed source')}, not to {source}"
            return FallbackSimulation(configured, f"{prefix} default settings ({fit_path} was {why})", False)
        values = simulation_values(fit, configured.seed) | {"signup_start": first_day, "signup_end": first_day}
        settings = SimulationSettings(**values)
    except (OSError, ValueError, KeyError, TypeError) as error:  # SettingsError is a ValueError
        return FallbackSimulation(configured, f"{prefix} default settings ({fit_path} is unreadable: {error})", False)
    span = f"{window['first_day']}..{window['last_day']}"
    return FallbackSimulation(settings, f"{prefix} fitted settings from {FIT_FILE} of {span}", True)
