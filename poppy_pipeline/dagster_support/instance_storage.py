"""The project-local instance's storage: Dagster's SQLite files, without an fsync per event.

Dagster's SQLite event log opens a connection for every event it stores and closes it again;
with SQLite's default `synchronous=FULL` each commit and each close (a WAL checkpoint) waits for
the disk, 5-25 ms on this machine, and a default `make run` stores about 450 events through
some 1,900 connections: seconds of every run spent waiting. `LocalSqliteStorage` is Dagster's
`DagsterSqliteStorage` (the same files, in the same places under `$DAGSTER_HOME`) whose
connections to those files use `synchronous=OFF`: SQLite still writes every event and stays
consistent when a process crashes or is killed; only a power loss or an OS crash in the middle
of a run can lose or damage the run history (never the outputs, whose writes are fsynced). The
cluster profile keeps its run history in Postgres and is not affected.

`config/dagster.yaml` selects it:

    storage:
      custom:
        module: poppy_pipeline.dagster_support.instance_storage
        class: LocalSqliteStorage
        config: {base_dir: {env: DAGSTER_HOME}}
"""

from __future__ import annotations

import os
import sqlite3

from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, SqliteStorageConfig
from dagster._serdes import ConfigurableClassData
from sqlalchemy import event
from sqlalchemy.engine import Engine

_unsynced_roots: set[str] = set()


class LocalSqliteStorage(DagsterSqliteStorage):
    """`DagsterSqliteStorage` whose SQLite files under `base_dir` are written with `synchronous=OFF`."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        _unsynced_roots.add(os.path.join(os.path.realpath(base_dir), ""))
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(  # type: ignore[override]  # Dagster's own signature, which its base class's differs from
        cls, inst_data: ConfigurableClassData, config_value: SqliteStorageConfig
    ) -> LocalSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


@event.listens_for(Engine, "connect")
def _skip_fsync(dbapi_connection: object, _record: object) -> None:
    """Every new SQLite connection to a file under a `LocalSqliteStorage`'s folder: no fsync."""
    if not _unsynced_roots or not isinstance(dbapi_connection, sqlite3.Connection):
        return
    files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list") if row[1] == "main"]
    if files and files[0] and os.path.realpath(files[0]).startswith(tuple(_unsynced_roots)):
        dbapi_connection.execute("PRAGMA synchronous=OFF")
