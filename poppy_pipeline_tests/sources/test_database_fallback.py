"""Too few database rows, `when_too_few: simulate`: the simulation fitted to an earlier fit of the same database."""

import json
from pathlib import Path

import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.fidelity.fit import FIT_FILE, fit_log
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources.fallback import fallback_simulation
from poppy_pipeline_tests.assets.test_database_assets import materialize_from, sqlite_source
from poppy_pipeline_tests.conftest import WINDOW, make_model, simulate_window
from poppy_pipeline_tests.support.backend_tables import interaction_rows

pytestmark = pytest.mark.slow  # seconds per test: left out of make test-fast

SOURCE = "table Interactions of SQLite file poppy.db"
OCTOBER = {"dagster/asset_partition_range_start": "2026-10-01", "dagster/asset_partition_range_end": "2026-10-30"}
NOVEMBER = {"dagster/asset_partition_range_start": "2026-11-01", "dagster/asset_partition_range_end": "2026-11-21"}


@pytest.fixture(scope="module")
def small_fit() -> dict:
    """A fit of a world far from the defaults: 30 users, 40 interactions a day."""
    settings = SimulationSettings(num_users=30, interactions_per_day=40, founding_user_share=1.0)
    model, objects, _ = make_model(settings)
    events = simulate_window(model)
    fit = fit_log(events, objects, [day.isoformat() for day in WINDOW])
    fit["window"] |= {"source": "database", "log": SOURCE}
    return fit


def write_fit(folder: Path, fit: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FIT_FILE).write_text(json.dumps(fit))
    return folder / FIT_FILE


def test_without_a_fit_the_configured_settings(tmp_path: Path):
    configured = SimulationSettings()
    chosen = fallback_simulation(configured, tmp_path / FIT_FILE, SOURCE, "2026-11-01", 300)
    assert chosen.settings == configured and not chosen.fitted
    assert chosen.description == "simulated (fewer than 300 real rows): default settings (no simulation_fit.json yet)"


def test_a_fit_of_the_same_source_gives_its_settings(tmp_path: Path, small_fit: dict):
    configured = SimulationSettings(seed=7)
    chosen = fallback_simulation(configured, write_fit(tmp_path, small_fit), SOURCE, "2026-12-01", 300)
    assert chosen.fitted
    assert chosen.settings.num_users == small_fit["parameters"]["num_users"]["value"] != configured.num_users
    assert chosen.settings.seed == 7  # the run's seed, not the fit's
    assert chosen.settings.signup_end == "2026-12-01"  # every user exists in the run's window
    window = small_fit["window"]
    span = f"{window['first_day']}..{window['last_day']}"
    assert (
        chosen.description
        == f"simulated (fewer than 300 real rows): fitted settings from simulation_fit.json of {span}"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"log": "table Interactions of SQLite file other.db"},
            "was fitted to table Interactions of SQLite file other",
        ),
        ({"log": "simulation"}, "was fitted to simulation, not to " + SOURCE),
        ({"log": None}, "was fitted to database, not to"),  # a fit from before the source was recorded
    ],
)
def test_a_fit_of_another_source_is_named_and_not_used(tmp_path: Path, small_fit: dict, change: dict, reason: str):
    fit = small_fit | {"window": small_fit["window"] | change}
    chosen = fallback_simulation(SimulationSettings(), write_fit(tmp_path, fit), SOURCE, "2026-11-01", 300)
    assert chosen.settings == SimulationSettings() and not chosen.fitted
    assert "default settings" in chosen.description and reason in chosen.description


@pytest.mark.parametrize("text", ["{not json", json.dumps({"window": {"log": SOURCE}}), "[]"])
def test_an_unreadable_fit_is_named_and_not_used(tmp_path: Path, small_fit: dict, text: str):
    tmp_path.joinpath(FIT_FILE).write_text(text)
    chosen = fallback_simulation(SimulationSettings(), tmp_path / FIT_FILE, SOURCE, "2026-11-01", 300)
    assert chosen.settings == SimulationSettings()
    assert f"default settings ({tmp_path / FIT_FILE} is unreadable" in chosen.description


def test_a_fit_with_an_impossible_value_is_not_used(tmp_path: Path, small_fit: dict):
    parameters = small_fit["parameters"] | {"repeat_share": {"value": 1.5, "method": "edited"}}
    path = write_fit(tmp_path, small_fit | {"parameters": parameters})
    chosen = fallback_simulation(SimulationSettings(), path, SOURCE, "2026-11-01", 300)
    assert chosen.settings == SimulationSettings() and "repeat_share" in chosen.description


def test_too_few_rows_simulate_with_the_fit_of_an_earlier_real_run(data_dir: Path, tmp_path: Path):
    # October: 900 real rows by 39 users (about 30 a day, a fifth clicks); November holds none.
    source = sqlite_source(tmp_path / "poppy.db", interaction_rows(900, "2026-10-01", 30), when_too_few="simulate")
    assert materialize_from(source, tags=OCTOBER, extra_names=["simulation_fit"]).success
    fit = json.loads((data_dir / FIT_FILE).read_text())
    assert fit["window"]["log"] == f"table Interactions of SQLite file {tmp_path / 'poppy.db'}"

    again = InteractionSourceResource(format="database", database_url=source.database_url, when_too_few="simulate")
    fitted_run = materialize_from(again, tags=NOVEMBER, extra_names=["simulation_fit"])
    assert fitted_run.success
    for asset in ("celestial_objects", "users", "simulated_interactions"):
        said = fitted_run.asset_materializations_for_node(asset)[0].metadata["simulation_settings"].value
        assert (
            said == f"simulated (fewer than 300 real rows): fitted settings from {FIT_FILE} of 2026-10-01..2026-10-30"
        )
    users = tables.read_csv(data_dir / "users.csv")
    events = pd.concat(tables.read_csv(f) for f in (data_dir / "simulated_interactions").glob("*.csv"))
    fitted_volume, fitted_clicks = len(events) / 21, (events["Interaction_Type"] == "Click").mean()
    # The simulating run kept the real rows' fit (a fit of the simulation would replace it).
    assert json.loads((data_dir / FIT_FILE).read_text()) == fit

    (data_dir / FIT_FILE).unlink()
    default_run = materialize_from(again, tags=NOVEMBER)
    metadata = default_run.asset_materializations_for_node("users")[0].metadata
    assert metadata["simulation_settings"].value.endswith("default settings (no simulation_fit.json yet)")
    events = pd.concat(tables.read_csv(f) for f in (data_dir / "simulated_interactions").glob("*.csv"))
    default_volume, default_clicks = len(events) / 21, (events["Interaction_Type"] == "Click").mean()
    defaults = SimulationSettings()
    # Each in the fitted direction: fewer users, far less traffic, clicks near the log's fifth.
    assert len(users) < len(tables.read_csv(data_dir / "users.csv")) == defaults.num_users
    assert fitted_volume < default_volume / 3
    assert abs(fitted_clicks - 0.2) < abs(default_clicks - 0.2)
