"""The Dagster CLI, called the way CI and `make run` call it."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from poppy_pipeline import tables
from poppy_pipeline.catalog import build_catalog
from poppy_pipeline.interactions import build_model, simulate_day
from poppy_pipeline.population import generate_users
from poppy_pipeline.settings import SimulationSettings

DAGSTER = str(Path(sys.executable).with_name("dagster"))
REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POPPY_DATA_DIR": str(tmp_path / "outputs"),
        "POPPY_OBJECTS_DIR": str(tmp_path / "no_objects"),
        **env,
    }
    return subprocess.run([DAGSTER, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)


def test_definitions_validate(tmp_path: Path):
    result = run(["definitions", "validate", "-m", "poppy_pipeline.definitions"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_asset_materialize_one_partition_with_env_and_run_config(tmp_path: Path):
    day = "2026-11-21"
    result = run(
        [
            "asset", "materialize", "-m", "poppy_pipeline.definitions",
            "--select", "celestial_objects,users,simulated_interactions",
            "--partition", day,
            "--config-json", '{"resources": {"simulation": {"config": {"num_users": 60}}}}',
        ],
        tmp_path,
        POPPY_SEED="7",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = tmp_path / "outputs"
    # The environment's seed and the run config's size both took effect, and the file is the core's.
    settings = SimulationSettings(seed=7, num_users=60)
    model = build_model(settings, build_catalog(settings, None).objects, generate_users(settings))
    written = tables.read_csv(outputs / "simulated_interactions" / f"{day}.csv")
    expected = tables.table_to_frame(tables.frame_to_table(simulate_day(model, date.fromisoformat(day))))
    assert written.equals(expected)
    assert len(tables.read_csv(outputs / "users.csv")) == 60
    assert "Asset check 'integrity' on 'simulated_interactions' passed" in result.stderr


def test_partition_outside_the_calendar_is_refused(tmp_path: Path):
    result = run(
        [
            "asset",
            "materialize",
            "-m",
            "poppy_pipeline.definitions",
            "--select",
            "simulated_interactions",
            "--partition",
            "1999-01-01",
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert "1999-01-01" in result.stderr


@pytest.mark.parametrize("module", ["poppy_pipeline.outputs"])
def test_outputs_summary_names_the_folder(tmp_path: Path, module: str):
    (tmp_path / "outputs" / "simulated_interactions").mkdir(parents=True)
    (tmp_path / "outputs" / "simulated_interactions" / "2026-11-21.csv").write_text("a\n")
    (tmp_path / "outputs" / "users.csv").write_text("a\n")
    result = subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, "POPPY_DATA_DIR": str(tmp_path / "outputs")},
        capture_output=True,
        text=True,
    )
    assert str((tmp_path / "outputs").resolve()) in result.stdout
    assert "simulated_interactions/  1 files (2026-11-21.csv .. 2026-11-21.csv)" in result.stdout


def test_the_whole_graph_over_a_week_in_one_run(tmp_path: Path):
    """`make run`'s command on a week: every asset, the model's blocking checks, the browser bundle."""
    lenient = (
        '{"ops": {"click_model": {"config": {"min_auc": 0.5, "min_oracle_ratio": 0.5, "max_calibration_error": 1.0}}}}'
    )
    result = run(
        [
            "asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", "*",
            "--partition-range", "2026-11-15...2026-11-21", "--config-json", lenient,
        ],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = tmp_path / "outputs"
    assert len(list((outputs / "sliding_window_features").glob("*.csv"))) == 7
    assert (outputs / "browser_bundle" / "click_model.onnx").read_bytes() == (
        outputs / "click_model_onnx.onnx"
    ).read_bytes()
    for check in (
        "held_out_auc' on 'click_model",
        "onnx_parity' on 'click_model_onnx",
        "bundle_matches_manifest' on 'browser_bundle",
    ):
        assert f"Asset check '{check}" in result.stderr and f"{check}' passed" in result.stderr, check
