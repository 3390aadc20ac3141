"""One setting moves every output: the `outputs` resource's base_dir (run config), not half of them."""

from pathlib import Path

import dagster as dg
import pytest

from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline_tests.conftest import WINDOW

DAYS = WINDOW[-7:]
RANGE = {"dagster/asset_partition_range_start": str(DAYS[0]), "dagster/asset_partition_range_end": str(DAYS[-1])}
# The model's bars are not what this test is about: it must publish, so that the bundle is written.
LENIENT = {"min_auc": 0.0, "min_oracle_ratio": 0.0, "max_calibration_error": 1e9, "challenge_shipped": False}


def test_one_setting_moves_every_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from_environment = tmp_path / "from_environment"
    configured = tmp_path / "configured"
    monkeypatch.setenv("POPPY_DATA_DIR", str(from_environment))
    monkeypatch.delenv("POPPY_ENGINE_EXPORT_DIR", raising=False)
    objects = tmp_path / "objects"
    objects.mkdir()
    # 199 good stars and one bad row (0.5%, within the 1% bar): a quarantine file, and the run goes on.
    rows = "".join(f"{i},Star {i},G2V\n" for i in range(1, 200))
    (objects / "stars.csv").write_text("Star_ID,Name,Spectral_Class\n" + rows + "z,Bad,K\n")
    resources = {
        **defs.resources,
        "simulation": SimulationResource(objects_dir=str(objects)),
        "action_source": ActionSourceResource(path=None),
    }
    run_config = {
        "resources": {"outputs": {"config": {"base_dir": str(configured)}}},
        "ops": {"click_model": {"config": LENIENT}},
    }
    assets = [asset for asset in defs.assets or [] if isinstance(asset, dg.AssetsDefinition)]
    result = dg.materialize(assets, resources=resources, run_config=run_config, tags=RANGE)
    assert result.success
    assert not from_environment.exists()
    written = {str(path.relative_to(configured)) for path in configured.rglob("*") if path.is_file()}
    expected = [
        "celestial_objects.csv",  # tables (the CSV IO manager)
        "users.csv",
        f"simulated_interactions/{DAYS[0]}.csv",
        f"sliding_window_features/{DAYS[-1]}.csv",
        "engagement_scores.csv",
        "click_model.pkl",  # the pickle and ONNX IO managers
        "click_model_onnx.onnx",
        "interaction_report.json",  # reports
        "click_model_report.json",
        "simulation_fit.json",
        "fidelity_report.json",
        "engine_exports/Layer_2_Top_Trending_Per_Type.csv",  # the engine's file, by default
        "quarantine/celestial_objects/stars.csv",  # rejected rows
        "browser_bundle/demo.html",  # the browser bundle
    ]
    assert [name for name in expected if name not in written] == []
    assert any(name.startswith("figures/") and name.endswith(".png") for name in written)
