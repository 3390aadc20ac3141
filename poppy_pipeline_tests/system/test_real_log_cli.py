"""Seed 002's own layout through `make run`, as a user runs it (issue 23, case 7)."""

import os
import subprocess
from pathlib import Path

import pandas as pd

from poppy_pipeline.engagement.engine_exports import LAYER_2_FILE, LAYER_3_FILE, LAYER_4_FILE
from poppy_pipeline_tests.support.seed002 import write_pings_folder

REPO = Path(__file__).resolve().parents[2]


def test_make_run_on_seed_002s_layout_exits_0(tmp_path: Path):
    folder = write_pings_folder(tmp_path / "seed002", late_signups=3)
    outputs = tmp_path / "outputs"
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "POPPY_DATA_DIR": str(outputs),
        "POPPY_OBJECTS_DIR": str(tmp_path / "no_objects"),
        "POPPY_SOURCE_FORMAT": "pings",
        "POPPY_SOURCE_PATH": str(folder),
    }
    command = ["make", "--no-print-directory", "run", "START=2024-02-01", "END=2024-02-29"]
    result = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert ": SUCCESS." in result.stdout
    trending = pd.read_csv(outputs / "trending_objects.csv", dtype=str, keep_default_na=False)
    assert set(trending["Object_ID"]) <= set(pd.read_csv(folder / "pings.csv", dtype=str)["ping_id"])
    # The engine binds integer IDs: its file does not apply to `p6`, and is left as it was (absent).
    assert not (outputs / "engine_exports" / LAYER_2_FILE).exists()
    assert "engine_exports not applicable" in result.stderr
    # Nor do the engine's categories (Layers 3 and 4): not applicable, their files absent, the run green.
    for asset, engine_file in (("category_preferences_mf", LAYER_3_FILE), ("category_preferences_nn", LAYER_4_FILE)):
        assert f"{asset} not applicable: no event of 2024-02-01..2024-02-29" in result.stderr
        assert not (outputs / "engine_exports" / engine_file).exists()
