"""The preference assets on the app's database, on real MariaDB and PostgreSQL servers (the tests' own)."""

from pathlib import Path

import pytest

from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.assets.test_preference_database import run_from_database_and_from_files
from poppy_pipeline_tests.conftest import WINDOW
from poppy_pipeline_tests.support.backend_world import backend_world, fill_world
from poppy_pipeline_tests.support.mariadb_server import MariaDB, mariadb_server  # noqa: F401 (fixture)
from poppy_pipeline_tests.support.postgres_server import Postgres, postgres_server  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def world():
    return backend_world(SimulationSettings(seed=37), WINDOW[0], len(WINDOW))


def test_mariadb_publishes_what_the_same_rows_as_a_log_do(
    world, mariadb: MariaDB, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fill_world(mariadb.fresh_database("preferences"), *world)
    published = run_from_database_and_from_files(
        mariadb.url(database="preferences"), world, data_dir, tmp_path, monkeypatch
    )
    for name, (from_database, from_files) in published.items():
        assert from_database == from_files, name


def test_postgres_publishes_what_the_same_rows_as_a_log_do(
    world, postgres: Postgres, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fill_world(postgres.fresh_database("preferences"), *world)  # mixed-case names, quoted as PostgreSQL needs
    published = run_from_database_and_from_files(postgres.url("preferences"), world, data_dir, tmp_path, monkeypatch)
    for name, (from_database, from_files) in published.items():
        assert from_database == from_files, name
