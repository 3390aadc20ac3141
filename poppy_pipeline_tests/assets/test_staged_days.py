"""The daily assets stage each day and put the window in place at the end: the same bytes as the core's
tables written directly, nothing changed and nothing left behind by a failed run, inputs read one day
when asked for."""

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from upath import UPath

from poppy_pipeline.behaviour.model import draw_traits
from poppy_pipeline.behaviour.oracle import recorded_day
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.behaviour.window_membership import checked_windows
from poppy_pipeline.behaviour.window_stream import WrittenWindows
from poppy_pipeline.common import tables
from poppy_pipeline.dagster_support import staged_days
from poppy_pipeline.dagster_support.io_managers import _CsvFiles
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource
from poppy_pipeline.dagster_support.staged_days import STAGED_SUFFIX, DayFiles
from poppy_pipeline.definitions import defs
from poppy_pipeline.defs import sliding_window_features as window_features
from poppy_pipeline.defs.celestial_objects import celestial_objects
from poppy_pipeline.defs.session_actions import session_actions
from poppy_pipeline.defs.simulated_interactions import simulated_interactions
from poppy_pipeline.defs.sliding_window_features import SETTINGS_ATTR, SlidingWindowConfig, sliding_window_features
from poppy_pipeline.defs.users import users
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.span_patterns import SpanPatterns
from poppy_pipeline_tests.assets.test_io_managers import daily_table, declared_tables, managers, range_tags  # noqa: F401
from poppy_pipeline_tests.conftest import WINDOW

DAYS = [str(day) for day in WINDOW[-3:]]
DAILY = ("simulated_interactions", "session_actions", "sliding_window_features")
ALL = [celestial_objects, users, simulated_interactions, session_actions, sliding_window_features]


def materialize(seed: int = 42) -> dg.ExecuteInProcessResult:
    resources = {
        **defs.resources,
        "simulation": SimulationResource(seed=seed),
        "action_source": ActionSourceResource(path=None),
    }
    return dg.materialize(ALL, resources=resources, tags=range_tags(DAYS[0], DAYS[-1]), raise_on_error=False)


def daily_files(folder: Path) -> dict[str, bytes]:
    """Every file of the daily assets (the catalog and users of another seed are rewritten, as they should be)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for asset in DAILY
        for path in sorted((folder / asset).rglob("*"))
        if path.is_file()
    }


def staged_litter(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.endswith(STAGED_SUFFIX) or path.name.endswith(".tmp")]


def csv_bytes(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    path = tmp_path / "expected.csv"
    tables.write_csv(frame, str(path))
    return path.read_bytes()


def test_staged_days_hold_the_core_tables_bytes(data_dir: Path, tmp_path: Path):
    assert materialize().success
    simulation = SimulationResource(seed=42)
    objects = tables.read_csv(data_dir / "celestial_objects.csv")
    people = tables.read_csv(data_dir / "users.csv")
    model = build_model(simulation.settings(), objects, people)
    traits = draw_traits(simulation.seed, people)
    spec = SlidingWindowConfig().spec()
    for key in DAYS:
        day = date.fromisoformat(key)
        interactions = simulate_day(model, day)
        assert (data_dir / "simulated_interactions" / f"{key}.csv").read_bytes() == csv_bytes(interactions, tmp_path)
        interactions = tables.read_csv(data_dir / "simulated_interactions" / f"{key}.csv")
        actions = simulate_sessions(simulation.behaviour(), simulation.seed, people, interactions, day).actions
        assert (data_dir / "session_actions" / f"{key}.csv").read_bytes() == csv_bytes(actions, tmp_path)
        actions = tables.read_csv(data_dir / "session_actions" / f"{key}.csv")
        recorded = recorded_day(simulation.behaviour(), simulation.seed, traits, interactions, day)
        windows = checked_windows(actions, spec, recorded).frame
        assert (data_dir / "sliding_window_features" / f"{key}.csv").read_bytes() == csv_bytes(windows, tmp_path)
        attrs = json.loads((data_dir / "sliding_window_features" / f"{key}.csv.attrs.json").read_text())
        assert attrs == {SETTINGS_ATTR: spec.settings()}
    assert not staged_litter(data_dir)


def test_a_failed_integrity_keeps_the_previous_days_and_leaves_nothing_staged(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    assert materialize(seed=42).success
    before = daily_files(data_dir)
    assert sum(name.startswith("simulated_interactions/") for name in before) == len(DAYS)

    real_integrity = SpanPatterns.integrity

    def broken(self, *args, **kwargs):
        result = real_integrity(self, *args, **kwargs)
        result.passed, result.details = False, {**result.details, "duplicate_interaction_ids": 1}
        return result

    monkeypatch.setattr(SpanPatterns, "integrity", broken)
    result = materialize(seed=7)  # other days, which must not replace the good ones
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "simulated_interactions"
    assert daily_files(data_dir) == before
    assert not staged_litter(data_dir)


def test_a_failed_blocking_window_check_keeps_the_previous_windows(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    assert materialize(seed=42).success
    before = daily_files(data_dir)
    real_write_windows = window_features.write_windows  # the simulated days' windows, written part by part

    def misplaced(*args, **kwargs) -> WrittenWindows:
        written = real_write_windows(*args, **kwargs)
        return dataclasses.replace(written, problems={**written.problems, "actions_outside_session": 1})

    monkeypatch.setattr(window_features, "write_windows", misplaced)
    result = materialize(seed=7)
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["windows_within_sessions"].passed
    changed = {name for name, data in daily_files(data_dir).items() if before.get(name) != data}
    assert changed and all(not name.startswith("sliding_window_features/") for name in changed)
    assert not staged_litter(data_dir)


def test_a_failed_put_in_place_removes_what_it_staged(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert materialize(seed=42).success
    before = daily_files(data_dir)

    def full_disk(self, day, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_CsvFiles, "put_in_place", full_disk)
    assert not materialize(seed=7).success
    assert daily_files(data_dir) == before
    assert not staged_litter(data_dir)


def test_a_failed_background_flush_keeps_the_previous_days(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    assert materialize(seed=42).success
    before = daily_files(data_dir)
    flushed: list[str] = []

    def failing_flush(path: Path) -> None:
        flushed.append(path.name)
        if len(flushed) == 2:  # simulated_interactions' second day
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(staged_days, "fsync", failing_flush)
    assert not materialize(seed=7).success
    assert len(flushed) == len(DAYS) and all(name.endswith(STAGED_SUFFIX) for name in flushed)
    assert daily_files(data_dir) == before
    assert not staged_litter(data_dir)


@dg.asset(partitions_def=daily_table.partitions_def, backfill_policy=dg.BackfillPolicy.single_run())
def middle_day_rows(context: dg.AssetExecutionContext, daily_table: DayFiles) -> None:
    assert isinstance(daily_table, DayFiles) and list(daily_table) == context.partition_keys
    context.add_output_metadata({"rows": len(daily_table[context.partition_keys[1]])})


def test_a_partitioned_input_reads_only_the_days_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tags = range_tags("2026-03-01", "2026-03-03")
    assert dg.materialize([daily_table], resources=managers(tmp_path), tags=tags).success
    read: list[str] = []
    load = _CsvFiles.load_from_path

    def counted(self, context, path):
        read.append(path.stem)
        return load(self, context, path)

    monkeypatch.setattr(_CsvFiles, "load_from_path", counted)
    result = dg.materialize(
        [daily_table, middle_day_rows], resources=managers(tmp_path), tags=tags, selection=[middle_day_rows]
    )
    assert result.success
    assert read == ["2026-03-02"]


def test_days_staged_for_object_storage_go_through_a_local_folder_of_their_own():
    manager = _CsvFiles(base_path=UPath("memory://poppy-staging-test/outputs"))
    frame = pd.DataFrame({"day": [1, 2], "value": [1.5, 2.5]})
    frame.attrs = {"made_with": {"window": 120}}
    with manager.staging("daily") as staging:
        day = staging.stage("2026-03-01", frame)
    assert day.private_folder and day.staged.exists()
    path = manager.partition_path("daily", "2026-03-01")
    manager.put_in_place(day, path)
    staged_days.discard_staged({"2026-03-01": day})
    assert not day.staged.parent.exists()
    loaded = manager.load_path(path)
    pd.testing.assert_frame_equal(loaded, frame)
    assert loaded.attrs == frame.attrs


def test_an_error_while_staging_discards_the_staged_days(tmp_path: Path):
    manager = _CsvFiles(base_path=UPath(tmp_path))
    with pytest.raises(RuntimeError), manager.staging("daily") as staging:
        staging.stage("2026-03-01", pd.DataFrame({"value": [1]}))
        assert len(staged_litter(tmp_path)) == 1
        raise RuntimeError("the window's check failed")
    assert not staged_litter(tmp_path)


def test_work_done_while_a_day_is_written_overlaps_and_its_error_discards_the_day(tmp_path: Path):
    manager = _CsvFiles(base_path=UPath(tmp_path))
    frame = pd.DataFrame({"value": range(300_000)})  # several pieces for the threaded writer
    seen: list[str] = []

    def counted() -> None:
        seen.append(threading.current_thread().name)

    with manager.staging("daily") as staging:
        day = staging.stage("2026-03-01", frame, meanwhile=counted)
    assert seen == [threading.current_thread().name]  # in the caller's thread, the write in another
    assert day.staged.read_bytes() == csv_bytes(frame, tmp_path)

    def failing() -> None:
        raise ValueError("a pattern measure failed")

    with pytest.raises(ValueError, match="pattern measure"), manager.staging("daily") as staging:
        staging.stage("2026-03-02", frame, meanwhile=failing)
    assert [path.name for path in staged_litter(tmp_path)] == [day.staged.name]  # only the first day's


def test_a_day_staged_by_a_killed_process_is_removed_when_the_day_is_staged_again(tmp_path: Path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, live_pid = int(ended.stdout), os.getppid()
    unreaped = subprocess.Popen([sys.executable, "-c", "pass"])  # ends, and stays a zombie until waited for
    folder = tmp_path / "daily"
    folder.mkdir()
    host = staged_days._HOST
    killed = folder / f".2026-03-01.{host}.{dead_pid}.{'a' * 32}{STAGED_SUFFIX}"
    running = folder / f".2026-03-01.{host}.{live_pid}.{'b' * 32}{STAGED_SUFFIX}"
    elsewhere = folder / f".2026-03-01.another-machine.{dead_pid}.{'c' * 32}{STAGED_SUFFIX}"
    other_day = folder / f".2026-03-02.{host}.{dead_pid}.{'d' * 32}{STAGED_SUFFIX}"
    zombie = folder / f".2026-03-01.{host}.{unreaped.pid}.{'e' * 32}{STAGED_SUFFIX}"
    for path in (killed, running, elsewhere, other_day, zombie):
        path.write_text("half a day")
    while Path(f"/proc/{unreaped.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    manager = _CsvFiles(base_path=UPath(tmp_path))
    with manager.staging("daily") as staging:
        day = staging.stage("2026-03-01", pd.DataFrame({"value": [1]}))
    unreaped.wait()
    assert not killed.exists() and not zombie.exists()  # their processes are gone: nobody else will
    assert running.exists() and elsewhere.exists() and other_day.exists()
    assert day.staged.exists() and day.staged.name.startswith(f".2026-03-01.{host}.{os.getpid()}.")
