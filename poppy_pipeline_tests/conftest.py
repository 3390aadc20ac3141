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
# Whole folders `make test-fast` leaves out: the commands as processes, the assets through Dagster.
FOLDER_MARKERS = {"system": pytest.mark.commands, "assets": pytest.mark.assets}


# The modules that share the one cluster (a session fixture): under xdist they run in one worker.
CLUSTER_MODULES = {"poppy_pipeline_tests/system/test_cluster.py", "poppy_pipeline_tests/system/test_ui_browser.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that start servers (`servers`) and those of `system/` and `assets/`; under
    pytest-xdist, put the cluster's modules first, so their minutes run beside the rest of the suite
    (run alone, they come last: `cluster_support.py`)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        folder = item.nodeid.split("/")[1] if item.nodeid.count("/") > 1 else ""
        if fixtures & SERVER_FIXTURES or folder == "service":
            item.add_marker(pytest.mark.servers)
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: _scope(item.nodeid) not in ("cluster", "make_ui"))


def _scope(nodeid: str) -> str:
    """A test's unit of work under `make test`: its module (whose fixtures are then made once, and
    whose tests may build on each other), or "cluster" for the modules sharing the cluster; the UI
    tests against `make ui` (no cluster) are a unit of their own, beside it."""
    module = nodeid.split("::")[0]
    if module not in CLUSTER_MODULES:
        return module
    return "make_ui" if "[make_ui]" in nodeid or "::test_make_ui_" in nodeid else "cluster"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`make test`'s two workers get whole units (`_scope`). (pytest-xdist 3.8's own `loadgroup`
    cannot tag tests on pytest 9, and `loadfile` would run the two cluster modules apart.)"""
    from xdist.scheduler import LoadScopeScheduling

    # In the order collected (the cluster's and `make ui`'s units first, the longest), not xdist's
    # default of the units with the most tests first, which left the cluster's minutes for last.
    config.option.loadscopereorder = False

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return ModuleScheduling(config, log)
