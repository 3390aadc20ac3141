"""click_model and click_model_onnx through `dagster.materialize`, into a temporary data folder.

One week of the behaviour branch is materialized once for the module, and the model assets on it
once at the default bars (a week passes them: the gate judges intervals, not point estimates);
each other test copies those folders. Damage is injected by replacing the fit (feature columns
shuffled) or a tolerance, and every test checks what was, or was not, written.
"""

import json
import logging
import pickle
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import onnx
import pandas as pd
import pytest
from upath import UPath

from poppy_pipeline.behaviour.features import FEATURE_NAMES, WINDOW_COLUMNS, WindowSpec
from poppy_pipeline.click_model import onnx_export
from poppy_pipeline.click_model import training as core
from poppy_pipeline.dagster_support.day_span import load_span
from poppy_pipeline.dagster_support.io_managers import _CsvFiles
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline.defs.browser_bundle import CONTENTS_CHECK, browser_bundle
from poppy_pipeline.defs.celestial_objects import celestial_objects
from poppy_pipeline.defs.click_model import (
    CHAMPION_CHECK,
    MAX_WINDOWS,
    MODEL_CHECKS,
    TARGET_SPECS,
    _window_spec,
    click_model,
)
from poppy_pipeline.defs.click_model_onnx import ONNX_CHECKS, PARITY_CHECK, click_model_onnx
from poppy_pipeline.defs.schedules import weekly_model_job, weekly_model_schedule
from poppy_pipeline.defs.session_actions import session_actions
from poppy_pipeline.defs.simulated_interactions import simulated_interactions
from poppy_pipeline.defs.sliding_window_features import SETTINGS_ATTR, sliding_window_features
from poppy_pipeline.defs.users import users
from poppy_pipeline_tests.conftest import WINDOW

UPSTREAM = [celestial_objects, users, simulated_interactions, session_actions, sliding_window_features]
MODEL = [click_model, click_model_onnx, browser_bundle]
DAYS = WINDOW[-7:]
RANGE = {"dagster/asset_partition_range_start": str(DAYS[0]), "dagster/asset_partition_range_end": str(DAYS[-1])}
LENIENT = {"ops": {"click_model": {"config": {"min_auc": 0.0, "min_oracle_ratio": 0.0, "max_calibration_error": 1e9}}}}
RESOURCES = {**defs.resources, "action_source": ActionSourceResource(path=None)}


def materialize(assets, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, resources=RESOURCES, **kwargs)


def checks_of(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def week_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("week") / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POPPY_DATA_DIR", str(folder))
        patch.setenv("POPPY_OBJECTS_DIR", str(folder.parent / "no_objects"))
        assert materialize(UPSTREAM, tags=RANGE).success
    return folder


@pytest.fixture(scope="module")
def model_run(week_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    """The model assets on that week at the default bars; (result, data folder)."""
    folder = tmp_path_factory.mktemp("model") / "outputs"
    shutil.copytree(week_folder, folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POPPY_DATA_DIR", str(folder))
        patch.setenv("POPPY_OBJECTS_DIR", str(folder.parent / "no_objects"))
        result = materialize([*UPSTREAM, *MODEL], selection=MODEL, tags=RANGE)
    return result, folder


FIT = core.fit_calibrated


def shuffled_columns_fit(features: np.ndarray, labels: np.ndarray):
    """The damage: feature columns in another order at training than at prediction."""
    order = np.random.default_rng(0).permutation(features.shape[1])
    return FIT(features[:, order], labels)


def published(folder: Path) -> dict[str, bytes]:
    """Every file the model assets publish, with its bytes."""
    files = [
        folder / "click_model.pkl",
        folder / "click_model_onnx.onnx",
        *sorted((folder / "browser_bundle").rglob("*")),
    ]
    return {str(path.relative_to(folder)): path.read_bytes() for path in files if path.is_file()}


def materialize_logged(assets, **kwargs) -> tuple[dg.ExecuteInProcessResult, str]:
    """The run's result and the text of its log lines at ERROR."""
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(assets, instance=instance, raise_on_error=False, **kwargs)
    lines = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level >= logging.ERROR]
    return result, "\n".join(lines)


def test_model_and_onnx_with_their_checks_in_one_run(model_run):
    result, folder = model_run
    assert result.success
    evaluations = checks_of(result)
    expected = {("click_model", s.name) for s in [*MODEL_CHECKS, *TARGET_SPECS]}
    expected |= {("click_model_onnx", s.name) for s in ONNX_CHECKS}
    assert set(evaluations) == expected | {("browser_bundle", CONTENTS_CHECK)}
    assert all(e.passed for e in evaluations.values()), {k: e.metadata for k, e in evaluations.items()}
    # Seed 001's targets, on the span the model trains on.
    share = evaluations[("click_model", "positive_share")].metadata
    assert share["interval"].value[0] <= share["measured"].value <= share["interval"].value[1]
    assert share["span"].value == f"{DAYS[0]}..{DAYS[-1]}"
    assert (folder / "click_model.pkl").exists() and (folder / "click_model_onnx.onnx").exists()
    for name in ("roc", "reliability", "coefficients"):
        assert (folder / "figures" / f"click_model_{name}.png").stat().st_size > 1000


def test_the_browser_bundle_carries_the_exported_model(model_run):
    result, folder = model_run
    bundle = folder / "browser_bundle"
    assert (bundle / "click_model.onnx").read_bytes() == (folder / "click_model_onnx.onnx").read_bytes()
    manifest = json.loads((bundle / "manifest.json").read_text())
    pages = {"demo.html", "feature_extractor.js", "interaction_predictor.js", "click_model.onnx"}
    assert pages <= set(manifest["files"])
    metadata = result.asset_materializations_for_node("browser_bundle")[0].metadata
    assert metadata["files"].value == len(manifest["files"])


def test_the_report_holds_the_honest_figures(model_run):
    result, folder = model_run
    report = json.loads((folder / "click_model_report.json").read_text())
    assert report["window"] == f"{DAYS[0]}..{DAYS[-1]}"
    assert len(report["cv_aucs"]) == 5 and report["cv_auc_std"] >= 0
    assert report["auc_ratio"] == pytest.approx(report["held_out_auc"] / report["oracle_auc"])
    assert report["brier_oracle"] < 0.1 and report["log_loss_oracle"] < report["log_loss_model"] + 0.2
    assert abs(report["mean_prediction"] - report["base_rate"]) < 0.5 * report["base_rate"]  # calibrated, not ~0.4
    # A week is far below the sample cap: every window is used.
    assert report["sample"] == {
        "max_windows": MAX_WINDOWS,
        "windows_in_window": report["windows"],
        "windows_sampled": report["windows"],
        "per_user_cap": None,
    }
    metadata = result.asset_materializations_for_node("click_model")[0].metadata
    assert metadata["held_out_auc"].value == pytest.approx(report["held_out_auc"], abs=5e-5)  # 4 digits
    # An instance without logs on this disk (the tests' ephemeral one): the figures in one gallery, first.
    assert next(iter(metadata)) == "figures" and "data:image/png;base64" in metadata["figures"].value
    assert "term" in metadata["top_coefficients"].value


def test_the_onnx_file_keeps_its_contract(model_run):
    _, folder = model_run
    payload = (folder / "click_model_onnx.onnx").read_bytes()
    model = onnx.load_from_string(payload)
    properties = {p.key: p.value for p in model.metadata_props}
    assert json.loads(properties["feature_names"]) == list(FEATURE_NAMES)
    assert (properties["window_seconds"], properties["step_seconds"], properties["horizon_seconds"]) == (
        "120.0",
        "10.0",
        "10.0",
    )
    assert properties["training_window"] == f"{DAYS[0]}..{DAYS[-1]}"
    trained = pickle.loads((folder / "click_model.pkl").read_bytes())
    assert isinstance(trained, core.TrainedModel) and trained.training_window == properties["training_window"]
    assert trained.onnx_bytes() == payload  # the same bytes again: reproducible
    features = np.random.default_rng(0).normal(size=(200, len(FEATURE_NAMES))).astype(np.float32)
    assert onnx_export.onnx_parity(payload, trained.pipeline, np.abs(features)).passed


def test_the_gate_reports_its_intervals(model_run):
    result, folder = model_run
    report = json.loads((folder / "click_model_report.json").read_text())
    for name in ("held_out_auc", "auc_ratio", "calibration_bias"):
        low, high = report[f"{name}_interval"]
        assert low <= report[name] <= high, name
    assert report["bootstrap"]["resamples"] >= 200 and report["bootstrap"]["unit"] == "user"
    assert report["champion"] == {"compared": False, "reason": "no model is shipped yet", "rejected": False}
    assert report["published"] is True
    evaluations = checks_of(result)
    ratio = evaluations[("click_model", "auc_vs_oracle")].metadata
    assert (
        ratio["interval"].value == pytest.approx(report["auc_ratio_interval"], rel=1e-3) and ratio["min"].value == 0.95
    )
    calibration = evaluations[("click_model", "calibration")].metadata
    assert calibration["interval"].value == pytest.approx(report["calibration_bias_interval"], rel=1e-3)
    assert evaluations[("click_model", CHAMPION_CHECK)].passed


def test_a_damaged_model_is_blocked_at_the_defaults(model_run, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    _, folder = model_run
    shutil.copytree(folder, data_dir)
    before = published(data_dir)
    monkeypatch.setattr(core, "fit_calibrated", shuffled_columns_fit)
    result, errors = materialize_logged([*UPSTREAM, *MODEL], selection=MODEL, tags=RANGE)
    evaluations = checks_of(result)
    failed = {name for (asset, name), e in evaluations.items() if not e.passed}
    assert {"held_out_auc", "auc_vs_oracle", CHAMPION_CHECK} <= failed
    assert not result.asset_materializations_for_node("click_model")
    assert not result.asset_materializations_for_node("click_model_onnx")
    assert published(data_dir) == before  # pickle, ONNX file and bundle: byte for byte
    assert "click_model not published, the previous file stays" in errors
    report = json.loads((data_dir / "click_model_report.json").read_text())
    assert report["published"] is False and report["champion"]["rejected"] is True


def test_a_worse_challenger_leaves_the_shipped_model(model_run, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Every absolute bar off: only the comparison with the shipped model stands in the way."""
    _, folder = model_run
    shutil.copytree(folder, data_dir)
    before = published(data_dir)
    monkeypatch.setattr(core, "fit_calibrated", shuffled_columns_fit)
    result, errors = materialize_logged([*UPSTREAM, *MODEL], selection=MODEL, tags=RANGE, run_config=LENIENT)
    evaluations = checks_of(result)
    assert {name for (_, name), e in evaluations.items() if not e.passed} == {CHAMPION_CHECK}
    champion = evaluations[("click_model", CHAMPION_CHECK)]
    assert champion.metadata["interval"].value[1] < 0
    assert published(data_dir) == before
    assert "worse than the shipped one" in errors


def test_the_same_model_again_is_not_rejected(model_run, data_dir: Path):
    _, folder = model_run
    shutil.copytree(folder, data_dir)
    onnx_before = (data_dir / "click_model_onnx.onnx").read_bytes()
    result = materialize([*UPSTREAM, *MODEL], selection=[click_model, click_model_onnx], tags=RANGE)
    assert result.success
    champion = checks_of(result)[("click_model", CHAMPION_CHECK)]
    assert champion.passed and champion.metadata["auc_difference"].value == 0
    assert (data_dir / "click_model_onnx.onnx").read_bytes() == onnx_before  # identical runs, identical bytes


def test_a_failed_onnx_check_keeps_the_published_file(model_run, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Another model (more users held out) whose parity check fails: the previous ONNX file stays."""
    _, folder = model_run
    shutil.copytree(folder, data_dir)
    before = published(data_dir)
    monkeypatch.setattr(onnx_export, "PARITY_ULPS", 1e-6)  # no float32 rounding tolerated: parity must fail
    other = {"ops": {"click_model": {"config": {"held_out_share": 0.4, "challenge_shipped": False}}}}
    result = materialize([*UPSTREAM, *MODEL], selection=MODEL, tags=RANGE, run_config=other, raise_on_error=False)
    evaluations = checks_of(result)
    assert evaluations[("click_model_onnx", PARITY_CHECK)].passed is False
    assert result.asset_materializations_for_node("click_model")  # its own checks passed: a new pickle
    assert pickle.loads((data_dir / "click_model.pkl").read_bytes()).onnx_bytes() != before["click_model_onnx.onnx"]
    assert not result.asset_materializations_for_node("click_model_onnx")
    assert (data_dir / "click_model_onnx.onnx").read_bytes() == before["click_model_onnx.onnx"]
    bundle = {name: data for name, data in published(data_dir).items() if name.startswith("browser_bundle")}
    assert bundle == {name: data for name, data in before.items() if name.startswith("browser_bundle")}


def test_a_failed_quality_check_stops_the_export(week_folder: Path, data_dir: Path):
    shutil.copytree(week_folder, data_dir)
    strict = {"ops": {"click_model": {"config": {"min_auc": 0.99}}}}
    result = materialize([*UPSTREAM, *MODEL], selection=MODEL, tags=RANGE, run_config=strict, raise_on_error=False)
    evaluations = checks_of(result)
    assert evaluations[("click_model", "held_out_auc")].passed is False
    assert evaluations[("click_model", "held_out_auc")].metadata["min"].value == 0.99
    assert not result.asset_materializations_for_node("click_model")
    assert not result.asset_materializations_for_node("click_model_onnx")
    assert not result.asset_materializations_for_node("browser_bundle")
    assert not (data_dir / "click_model.pkl").exists() and not (data_dir / "click_model_onnx.onnx").exists()
    assert not (data_dir / "browser_bundle").exists()


def test_a_capped_sample_thins_the_busiest_users(week_folder: Path, data_dir: Path, model_run):
    shutil.copytree(week_folder, data_dir)
    full = json.loads((model_run[1] / "click_model_report.json").read_text())
    cap = full["windows"] // 2
    capped = {"ops": {"click_model": {"config": {**LENIENT["ops"]["click_model"]["config"], "max_windows": cap}}}}
    result = materialize([*UPSTREAM, *MODEL], selection=[click_model], tags=RANGE, run_config=capped)
    assert result.success
    report = json.loads((data_dir / "click_model_report.json").read_text())
    sample = report["sample"]
    assert sample["windows_in_window"] == full["windows"] and report["windows"] == sample["windows_sampled"] <= cap
    assert sample["per_user_cap"] >= 1 and sample["max_windows"] == cap
    # Every user still counts: the held-out users are the same ones.
    assert report["held_out_users"] == full["held_out_users"]


def test_a_real_interaction_log_skips_the_model(data_dir: Path, tmp_path: Path):
    day = DAYS[-1]
    log = tmp_path / "interactions.csv"
    log.write_text(
        "Interaction_ID,User_ID,Object_Type,Object_ID,Interaction_Type,Interaction_Rating,Timestamp\n"
        + "".join(f"{i},{i % 3 + 1},Star,{i},View,,{day} 10:00:{i:02d}\n" for i in range(1, 20))
    )
    resources = {**RESOURCES, "interaction_source": InteractionSourceResource(path=str(log), format="poppy")}
    result = dg.materialize([*UPSTREAM, *MODEL], resources=resources, partition_key=str(day))
    assert result.success
    assert not result.asset_materializations_for_node("click_model")
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert {"click_model", "click_model_onnx", "browser_bundle"} <= skipped


def test_weekly_schedule_and_single_run_backfills():
    assert weekly_model_schedule.cron_schedule == "0 3 * * 1"
    assert weekly_model_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert weekly_model_schedule.job_name == weekly_model_job.name
    job = defs.resolve_job_def(weekly_model_job.name)
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "click_model",
        "click_model_onnx",
        "browser_bundle",
    }
    for asset in MODEL:
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()


def test_the_window_settings_travel_with_the_windows(tmp_path: Path):
    """The settings each day was made with are stored with it; days made with others are refused."""
    store = _CsvFiles(base_path=UPath(tmp_path))
    context = dg.build_asset_context()
    sixty = WindowSpec(60_000, 10_000, 10_000, 5)

    def made(day: str, spec: WindowSpec | None) -> None:
        # Every declared column (the store reads a table with its declared schema); the settings are the point.
        windows = pd.DataFrame({name: [0.5, 0.5] for name in WINDOW_COLUMNS}).assign(
            Session_ID=[1, 2],
            User_ID=[1, 2],
            Window_End=np.array(["2026-11-01", "2026-11-01"], "datetime64[ms]"),
            Label=[0, 1],
        )
        if spec is not None:
            windows.attrs[SETTINGS_ATTR] = spec.settings()
        store.dump_to_path(None, windows, UPath(tmp_path) / "sliding_window_features" / f"{day}.csv")

    def read(days: list[str]) -> WindowSpec:
        return _window_spec(load_span(context, store, "sliding_window_features", days), days)

    made("2026-11-01", sixty)
    made("2026-11-02", sixty)
    made("2026-11-05", WindowSpec())
    made("2026-10-01", None)
    assert read(["2026-11-01", "2026-11-02"]) == sixty
    assert read(["2026-11-05"]) == WindowSpec()
    with pytest.raises(dg.Failure, match=r"different settings in 2026-11-01\.\.2026-11-05 \(.*60\.0.*120\.0"):
        read(["2026-11-01", "2026-11-02", "2026-11-05"])
    with pytest.raises(dg.Failure, match=r"2026-10-01\.\.2026-10-01 carries no window settings"):
        read(["2026-10-01"])
    with pytest.raises(dg.Failure, match=r"none recorded on 2026-10-01\.\.2026-10-01 \(1 day\)"):
        read(["2026-10-01", "2026-11-01"])
    made("2026-11-05", None)  # rewritten without settings: the old ones do not linger
    with pytest.raises(dg.Failure, match="carries no window settings"):
        read(["2026-11-05"])
