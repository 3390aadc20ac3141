"""IO managers: one file per partition, atomic fsynced writes, pickle (verified) and ONNX round trips."""

import hashlib
import json
import os
import pickle
from pathlib import Path

import dagster as dg
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper
from upath import UPath

from poppy_pipeline.common import paths, schemas
from poppy_pipeline.common.schemas import ID, NUMBER, TEXT, Column, TableSchema
from poppy_pipeline.dagster_support.io_managers import (
    _CsvFiles,
    _PickleFiles,
    csv_io_manager,
    onnx_io_manager,
    pickle_io_manager,
)
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.pickle_digests import PickleIntegrityError
from poppy_pipeline.dagster_support.staged_days import DayFiles

days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=0)
DAILY_COLUMNS = (Column("day", TEXT, "string"), Column("value", NUMBER, "float64", nullable=True))


@pytest.fixture(autouse=True)
def declared_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CSV IO manager stores declared tables only: these tests' own are declared here."""
    for name in ("daily_table", "daily_copy"):
        monkeypatch.setitem(schemas.SCHEMAS, name, TableSchema(name, DAILY_COLUMNS))
    staged = (Column("day", ID, "int64"), Column("value", NUMBER, "float64", nullable=True))
    monkeypatch.setitem(schemas.SCHEMAS, "daily", TableSchema("daily", staged))


@dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="csv_io_manager")
def daily_table(context: dg.AssetExecutionContext) -> dict[str, pd.DataFrame]:
    return {key: pd.DataFrame({"day": [key, key], "value": [1, None]}) for key in context.partition_keys}


@dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="csv_io_manager")
def daily_copy(daily_table: DayFiles) -> dict[str, pd.DataFrame]:
    return dict(daily_table)


@dg.asset(io_manager_key="pickle_io_manager")
def fitted_thing() -> dict:
    return {"weights": [1.5, 2.5]}


@dg.asset(io_manager_key="onnx_io_manager")
def tiny_model() -> onnx.ModelProto:
    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@dg.asset
def model_size(tiny_model: bytes, fitted_thing: dict) -> int:
    assert fitted_thing == {"weights": [1.5, 2.5]}
    return len(tiny_model)


def managers(base: Path) -> dict:
    return {
        "outputs": OutputsResource(base_dir=str(base)),
        "csv_io_manager": csv_io_manager,
        "pickle_io_manager": pickle_io_manager,
        "onnx_io_manager": onnx_io_manager,
    }


def range_tags(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def test_one_run_writes_one_file_per_partition(tmp_path: Path):
    result = dg.materialize(
        [daily_table, daily_copy], resources=managers(tmp_path), tags=range_tags("2026-03-01", "2026-03-03")
    )
    assert result.success
    for asset in ("daily_table", "daily_copy"):
        files = sorted(p.name for p in (tmp_path / asset).iterdir())
        assert files == ["2026-03-01.csv", "2026-03-02.csv", "2026-03-03.csv"]
    assert (tmp_path / "daily_copy" / "2026-03-02.csv").read_text() == "day,value\n2026-03-02,1\n2026-03-02,\n"
    materialization = result.asset_materializations_for_node("daily_table")[0]
    assert materialization.metadata["dagster/row_count"].value == 6
    assert "| day | value |" in materialization.metadata["preview"].value


def test_single_partition_loads_as_a_dict_too(tmp_path: Path):
    assert dg.materialize([daily_table], resources=managers(tmp_path), partition_key="2026-03-01").success
    result = dg.materialize(
        [daily_table, daily_copy], resources=managers(tmp_path), partition_key="2026-03-01", selection=[daily_copy]
    )
    assert result.success
    assert (tmp_path / "daily_copy" / "2026-03-01.csv").exists()


def test_pickle_and_onnx_round_trip(tmp_path: Path):
    result = dg.materialize([fitted_thing, tiny_model, model_size], resources=managers(tmp_path))
    assert result.success
    assert (tmp_path / "fitted_thing.pkl").exists()
    onnx.checker.check_model(onnx.load(tmp_path / "tiny_model.onnx"))
    size = result.output_for_node("model_size")
    metadata = result.asset_materializations_for_node("tiny_model")[0].metadata
    assert metadata["size_bytes"].value == size == (tmp_path / "tiny_model.onnx").stat().st_size


def test_partitioned_asset_must_return_a_dict(tmp_path: Path):
    @dg.asset(partitions_def=days, io_manager_key="csv_io_manager", name="daily_table")
    def not_a_dict() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    with pytest.raises(dg.DagsterInvariantViolationError, match="one value per partition"):
        dg.materialize([not_a_dict], resources=managers(tmp_path), partition_key="2026-03-01")


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path: Path):
    target = UPath(tmp_path / "table.csv")
    target.write_text("good\n")
    files = _CsvFiles(base_path=UPath(tmp_path))

    def crash_halfway(sink: str) -> None:
        Path(sink).write_text("half a fi")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(target, crash_halfway)
    assert target.read_text() == "good\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_a_pickle_is_verified_against_its_recorded_sha256(tmp_path: Path):
    assert dg.materialize([fitted_thing], resources=managers(tmp_path)).success
    payload = (tmp_path / "fitted_thing.pkl").read_bytes()
    record = (tmp_path / "fitted_thing.pkl.sha256").read_text()
    assert record == f"{hashlib.sha256(payload).hexdigest()}  fitted_thing.pkl\n"  # as `sha256sum -c` reads it
    files = _PickleFiles(base_path=UPath(tmp_path))
    assert files.load_from_path(None, UPath(tmp_path / "fitted_thing.pkl")) == {"weights": [1.5, 2.5]}


def test_a_changed_pickle_is_refused_not_unpickled(tmp_path: Path):
    assert dg.materialize([fitted_thing], resources=managers(tmp_path)).success
    target = tmp_path / "fitted_thing.pkl"
    target.write_bytes(pickle.dumps({"weights": [9.9, 2.5]}))  # a valid pickle, but not the one written
    result = dg.materialize(
        [fitted_thing, tiny_model, model_size],
        resources=managers(tmp_path),
        selection=[tiny_model, model_size],
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "fitted_thing.pkl: its SHA-256" in message and "not unpickled" in message
    (tmp_path / "fitted_thing.pkl.sha256").unlink()
    with pytest.raises(PickleIntegrityError, match="no recorded SHA-256"):
        _PickleFiles(base_path=UPath(tmp_path)).load_from_path(None, UPath(target))


def test_files_reach_the_disk_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = paths.fsync, os.replace
    monkeypatch.setattr(paths, "fsync", lambda path: (events.append(("fsync", str(path))), real_fsync(path)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(a))), real_replace(a, b)))
    target = tmp_path / "report.json"
    paths.write_json({"a": 1}, target)
    _CsvFiles(base_path=UPath(tmp_path)).atomic_write(
        UPath(tmp_path / "t.csv"), lambda sink: Path(sink).write_text("x\n")
    )
    for written in range(2):
        (fsync_file, temporary), (replace, renamed), (fsync_folder, folder) = events[3 * written : 3 * written + 3]
        assert (fsync_file, replace, fsync_folder) == ("fsync", "replace", "fsync")
        assert temporary == renamed and temporary.endswith(".tmp") and folder == str(tmp_path)
    assert json.loads(target.read_text()) == {"a": 1} and (tmp_path / "t.csv").read_text() == "x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "t.csv"]


@dg.asset(io_manager_key="pickle_io_manager")
def uses_fitted_thing(fitted_thing: dict) -> dict:
    return fitted_thing


@pytest.mark.parametrize(
    ("assets", "partition_key", "sentence"),
    [
        (
            [daily_table, daily_copy],
            "2026-03-02",
            "daily_table is not materialized for 2026-03-02: materialize daily_table for 2026-03-02 first.",
        ),
        ([fitted_thing, uses_fitted_thing], None, "materialize fitted_thing first."),
    ],
)
def test_a_missing_upstream_fails_with_one_sentence(tmp_path: Path, assets, partition_key, sentence):
    """Not Dagster's DagsterExecutionLoadInputError stack trace: a Failure naming the asset and day."""
    result = dg.materialize(
        assets, resources=managers(tmp_path), partition_key=partition_key, selection=assets[-1:], raise_on_error=False
    )
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    assert error.cls_name == "Failure"
    assert error.message.strip().endswith(sentence)
    assert "\n" not in error.message.strip()
