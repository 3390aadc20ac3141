"""A failed run never overwrites good outputs, asset group by asset group: the run is published whole or not at all.

One good run of every asset over two days is published once for the module (through
`run_publication.materialize`, the executor's publication in process). Each test copies that
folder, runs a group again with other settings (so that its files would change) and breaks it
after some of the group's files were staged; every published file must keep its bytes, and the
staging must really have held other bytes (else the test could not fail).
"""

import dataclasses
import errno
import hashlib
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from poppy_pipeline.common.publication import STAGING_FOLDER, RunStaging
from poppy_pipeline.dagster_support.run_publication import materialize
from poppy_pipeline.dagster_support.run_report import run_outcome
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline.defs import browser_bundle as bundle_defs
from poppy_pipeline.defs import fidelity_report as fidelity_defs
from poppy_pipeline.defs import interaction_report as report_defs
from poppy_pipeline.defs import sliding_window_features as window_defs
from poppy_pipeline.simulation.span_patterns import SpanPatterns
from poppy_pipeline_tests.common.test_safe_pickle import Forged
from poppy_pipeline_tests.conftest import WINDOW

DAYS = [str(day) for day in WINDOW[-2:]]
RANGE = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}
LENIENT = {"min_auc": 0.0, "min_oracle_ratio": 0.0, "max_calibration_error": 1e9, "challenge_shipped": False}
ASSETS = {asset.key.to_user_string(): asset for asset in defs.assets or [] if isinstance(asset, dg.AssetsDefinition)}


def resources(seed: int = 42) -> dict:
    return {
        **defs.resources,
        "simulation": SimulationResource(seed=seed, num_users=60),
        "action_source": ActionSourceResource(path=None),
    }


def hashes(folder: Path) -> dict[str, str]:
    """Every published file (the hidden lock and staging aside) with its SHA-256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    }


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("published") / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POPPY_DATA_DIR", str(folder))
        patch.setenv("POPPY_OBJECTS_DIR", str(folder.parent / "no_objects"))
        patch.delenv("POPPY_ENGINE_EXPORT_DIR", raising=False)
        with dg.instance_for_test() as instance:
            result = materialize(
                list(ASSETS.values()),
                resources(),
                run_config={"ops": {"click_model": {"config": LENIENT}}},
                tags=RANGE,
                instance=instance,
            )
            assert result.success
            outcome = run_outcome(instance, instance.get_run_by_id(result.run_id))
    # Readers saw the run's own staged files (fidelity_report needs this run's simulation_fit), and
    # the run's publication event lists what it changed.
    assert {"users.csv", "simulation_fit.json", "browser_bundle", f"simulated_interactions/{DAYS[0]}.csv"} <= set(
        outcome.published
    )
    assert not (folder / STAGING_FOLDER).exists()
    return folder


@pytest.fixture
def copy(good_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "outputs"
    shutil.copytree(good_run, folder)
    monkeypatch.setenv("POPPY_DATA_DIR", str(folder))
    monkeypatch.setenv("POPPY_OBJECTS_DIR", str(tmp_path / "no_objects"))
    monkeypatch.delenv("POPPY_ENGINE_EXPORT_DIR", raising=False)
    return folder


def failing_run(
    folder: Path, selected: list[str], monkeypatch: pytest.MonkeyPatch, seed: int = 42, ops: dict | None = None
) -> tuple[dg.ExecuteInProcessResult, dict[str, bytes]]:
    """The run of `selected` (which must fail), and what it had staged when it was discarded."""
    staged: dict[str, bytes] = {}
    discard = RunStaging.discard

    def snapshot_then_discard(self: RunStaging, keep_rejected: bool = True):
        for root in self.staging_roots():
            staging = self.folder(root)
            staged.update({str(self.published(p)): p.read_bytes() for p in staging.rglob("*") if p.is_file()})
        return discard(self, keep_rejected)

    monkeypatch.setattr(RunStaging, "discard", snapshot_then_discard)
    result = materialize(
        list(ASSETS.values()),
        resources(seed),
        run_config={"ops": ops or {}},
        tags=RANGE,
        selection=[ASSETS[name] for name in selected],
    )
    assert not result.success
    assert not (folder / STAGING_FOLDER).exists()  # discarded (no rejected rows to keep)
    return result, staged


def changed_if_published(staged: dict[str, bytes], folder: Path, names: list[str]) -> None:
    """The failed run had made other bytes for each of `names`: publishing them would have changed the file."""
    for name in names:
        final = str(folder / name)
        assert final in staged, f"{name} was not staged"
        assert staged[final] != (folder / name).read_bytes(), f"{name} was staged with the published bytes"


def failed_step(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message.strip()
    return failure.step_key, message.split("Failure: ", 1)[-1]


def breaks(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, error: Exception) -> None:
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(owner, name, broken)


def test_simulation_a_failed_integrity_check_keeps_the_users_catalog_and_days(copy: Path, monkeypatch):
    before = hashes(copy)
    real_integrity: Callable = SpanPatterns.integrity

    def broken(self, *args, **kwargs):
        result = real_integrity(self, *args, **kwargs)
        result.passed, result.details = False, {**result.details, "duplicate_interaction_ids": 1}
        return result

    monkeypatch.setattr(SpanPatterns, "integrity", broken)
    result, staged = failing_run(copy, ["celestial_objects", "users", "simulated_interactions"], monkeypatch, seed=7)
    assert failed_step(result)[0] == "simulated_interactions"
    changed_if_published(staged, copy, ["users.csv"])  # its days were discarded by the failed step itself
    assert hashes(copy) == before


def test_behaviour_a_failed_window_check_keeps_the_session_days(copy: Path, monkeypatch):
    before = hashes(copy)
    real_write = window_defs.write_windows

    def misplaced(*args, **kwargs):
        written = real_write(*args, **kwargs)
        return dataclasses.replace(written, problems={**written.problems, "actions_outside_session": 1})

    monkeypatch.setattr(window_defs, "write_windows", misplaced)
    result, staged = failing_run(copy, ["session_actions", "sliding_window_features"], monkeypatch, seed=7)
    assert failed_step(result)[0] == "sliding_window_features"
    changed_if_published(staged, copy, [f"session_actions/{DAYS[-1]}.csv"])
    assert hashes(copy) == before


def test_engagement_a_failed_report_keeps_the_scores_and_the_engine_file_elsewhere(
    copy: Path, tmp_path: Path, monkeypatch
):
    engine = tmp_path / "engine"  # the back end's folder, outside the outputs: staged beside its file
    engine.mkdir()
    (engine / "Layer_2_Top_Trending_Per_Type.csv").write_text("the engine's current list\n")
    monkeypatch.setenv("POPPY_ENGINE_EXPORT_DIR", str(engine))
    before = hashes(copy)
    breaks(monkeypatch, report_defs, "draw_figures", RuntimeError("figures broke"))
    one_day = {"start": DAYS[-1], "end": DAYS[-1]}  # another span: other scores
    ops = {name: {"config": one_day} for name in ("engagement_scores", "trending_objects")}
    result, staged = failing_run(
        copy, ["engagement_scores", "trending_objects", "engine_exports", "interaction_report"], monkeypatch, ops=ops
    )
    assert failed_step(result)[0] == "interaction_report"
    changed_if_published(staged, copy, ["engagement_scores.csv", "trending_objects.csv"])
    assert str(engine / "Layer_2_Top_Trending_Per_Type.csv") in staged
    assert hashes(copy) == before
    assert (engine / "Layer_2_Top_Trending_Per_Type.csv").read_text() == "the engine's current list\n"
    assert sorted(p.name for p in engine.iterdir()) == ["Layer_2_Top_Trending_Per_Type.csv"]  # no staging left


def test_model_a_full_disk_during_the_bundle_keeps_the_model_the_onnx_file_and_the_bundle_together(
    copy: Path, monkeypatch
):
    before = hashes(copy)
    breaks(monkeypatch, bundle_defs, "build_browser_bundle", OSError(errno.ENOSPC, "No space left on device"))
    ops = {"click_model": {"config": {**LENIENT, "held_out_share": 0.4}}}  # another split: another model
    result, staged = failing_run(copy, ["click_model", "click_model_onnx", "browser_bundle"], monkeypatch, ops=ops)
    step, message = failed_step(result)
    assert step == "browser_bundle"
    assert message == (
        f"Could not write {copy / 'browser_bundle'}: no space left on the device; nothing of this run was published,"
        f" {copy} keeps its previous outputs; free space there (or set POPPY_DATA_DIR to another disk) and run again."
    )
    changed_if_published(staged, copy, ["click_model.pkl", "click_model_onnx.onnx", "click_model_report.json"])
    assert hashes(copy) == before
    assert (copy / "browser_bundle" / "click_model.onnx").read_bytes() == (copy / "click_model_onnx.onnx").read_bytes()


def test_fidelity_a_failed_report_keeps_the_fit(copy: Path, monkeypatch):
    before = hashes(copy)
    breaks(monkeypatch, fidelity_defs, "draw_overlays", RuntimeError("overlays broke"))
    one_day = {"config": {"start": DAYS[-1], "end": DAYS[-1]}}
    result, staged = failing_run(
        copy, ["simulation_fit", "fidelity_report"], monkeypatch, ops={"simulation_fit": one_day}
    )
    assert failed_step(result)[0] == "fidelity_report"
    changed_if_published(staged, copy, ["simulation_fit.json"])
    assert hashes(copy) == before


def test_a_forged_model_pickle_is_refused_by_the_export_and_runs_nothing(copy: Path, tmp_path: Path, monkeypatch):
    marker = tmp_path / "ran"
    payload = pickle.dumps(Forged(marker))
    (copy / "click_model.pkl").write_bytes(payload)  # with a matching checksum: the forger can write both
    (copy / "click_model.pkl.sha256").write_text(f"{hashlib.sha256(payload).hexdigest()}  click_model.pkl\n")
    before = hashes(copy)
    result, _ = failing_run(copy, ["click_model_onnx", "browser_bundle"], monkeypatch)
    step, message = failed_step(result)
    assert step == "click_model_onnx"
    assert message == (
        f"{copy / 'click_model.pkl'} names posix.system, which the pipeline never writes and which could run code"
        " when loaded, so it is not loaded: delete it and materialize click_model again."
    )
    assert not marker.exists()
    assert hashes(copy) == before


def test_a_successful_run_publishes_what_it_staged_and_nothing_is_left_behind(copy: Path, monkeypatch):
    before = hashes(copy)
    result = materialize(list(ASSETS.values()), resources(seed=7), tags=RANGE, selection=[ASSETS["users"]])
    assert result.success
    after = hashes(copy)
    assert after["users.csv"] != before["users.csv"]
    assert {name for name in after if after[name] != before.get(name)} == {"users.csv"}
    assert not (copy / STAGING_FOLDER).exists()
