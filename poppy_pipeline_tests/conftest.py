"""Shared fixtures: every test writes into its own temporary data folder."""

import os
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

# The suite's real logs (seed 002's pings, the app's database) are from February 2024, before the
# default partitions start: set before any module builds the partitions (its UI tests set their own).
os.environ.setdefault("POPPY_PARTITIONS_START", "2024-01-01")

from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import SimulationModel, build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings

# The `cluster` fixture (Postgres, RabbitMQ, daemon, Celery workers, webserver), once per session.
pytest_plugins = ["poppy_pipeline_tests.support.cluster_support"]

# A fixed 30-day window inside the default growth period, so results do not move with the clock.
WINDOW_END = date(2026, 11, 21)
DEFAULT_SIGNUP_START = date.fromisoformat(SimulationSettings().signup_start)
WINDOW = [WINDOW_END - timedelta(days=d) for d in range(29, -1, -1)]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "outputs"
    monkeypatch.setenv("POPPY_DATA_DIR", str(folder))
    monkeypatch.setenv("POPPY_OBJECTS_DIR", str(tmp_path / "no_objects"))
    return folder


def make_model(settings: SimulationSettings) -> tuple[SimulationModel, pd.DataFrame, pd.DataFrame]:
    objects = build_catalog(settings, None).objects
    users = generate_users(settings)
    return build_model(settings, objects, users), objects, users


def simulate_window(model: SimulationModel, days: list[date] = WINDOW) -> pd.DataFrame:
    return pd.concat([simulate_day(model, day) for day in days], ignore_index=True)


def expected_interactions(
    users: pd.DataFrame,
    days: list[date],
    per_day: float = 10_000 / 30,
    signup_start: date = DEFAULT_SIGNUP_START,
) -> float:
    """Traffic a span should have: `per_day` from `signup_start` on, shared among the users signed up;
    before it, each founder (signed up before `signup_start`) at the rate they have on that day."""
    signups = pd.to_datetime(users["Signup_Date"])
    weights = users["Activity_Weight"]
    founders = weights[signups < pd.Timestamp(signup_start)].sum()
    return sum(per_day * min(1.0, weights[signups <= pd.Timestamp(day)].sum() / founders) for day in days)


# Tests that start a database server; with the cluster's and the browser's, `make test-fast` leaves them out.
SERVER_FIXTURES = {"mariadb", "postgres"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that start servers (`servers`), and keep the cluster's and the UI's in one xdist
    worker: they share one cluster (a session fixture), started once in the worker that runs them."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.servers)
        if "cluster" in fixtures or item.get_closest_marker("cluster") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("cluster"))
