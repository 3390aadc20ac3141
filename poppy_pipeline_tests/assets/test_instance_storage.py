"""The project-local instance (config/dagster.yaml): Dagster's SQLite files, stored without fsync."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from poppy_pipeline.dagster_support.instance_storage import LocalSqliteStorage

REPO = Path(__file__).resolve().parents[2]
SYNCHRONOUS_OFF, SYNCHRONOUS_FULL = 0, 2


def _synchronous(path: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("PRAGMA synchronous").scalar()
    finally:
        engine.dispose()


@dg.asset
def tiny() -> int:
    return 1


def test_the_project_instance_stores_runs_in_dagsters_files_without_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "config" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.get_ref().storage_data.rehydrate(LocalSqliteStorage), LocalSqliteStorage)
        result = dg.materialize([tiny], instance=instance, resources={"io_manager": dg.mem_io_manager})
        assert result.success
        # Stored where Dagster's default SQLite storage keeps them, and readable back.
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(dg.AssetKey("tiny")) is not None
    run_log = home / "history" / "runs" / f"{result.run_id}.db"
    assert run_log.exists() and (home / "history" / "runs.db").exists()
    assert _synchronous(run_log) == SYNCHRONOUS_OFF
    assert _synchronous(home / "history" / "runs" / "index.db") == SYNCHRONOUS_OFF
    # Any other SQLite file in the process keeps SQLite's default.
    assert _synchronous(tmp_path / "elsewhere.db") == SYNCHRONOUS_FULL
