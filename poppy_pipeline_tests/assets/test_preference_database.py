"""The preference assets on the app's database (SQLite here; MariaDB and PostgreSQL in
`preferences/test_database_servers.py`): Like = 1, Rate = the rating, the catalog tables' categories,
and the back end's 500-row rule."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline.engagement.engine_exports import LAYER_3_FILE, LAYER_4_FILE
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW
from poppy_pipeline_tests.support.backend_world import backend_world, fill_world, write_world_files

ASSETS = [
    "celestial_objects",
    "users",
    "simulated_interactions",
    "user_preferences",
    "category_preferences_mf",
    "category_preferences_nn",
]
RANGE = {"dagster/asset_partition_range_start": str(WINDOW[0]), "dagster/asset_partition_range_end": str(WINDOW[-1])}
PUBLISHED = [
    "category_preferences_mf.csv",
    "category_preferences_nn.csv",
    f"engine/{LAYER_3_FILE}",
    f"engine/{LAYER_4_FILE}",
]


@pytest.fixture(scope="module")
def world() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return backend_world(SimulationSettings(seed=31), WINDOW[0], len(WINDOW))


def materialize(source: InteractionSourceResource, **resources) -> dg.ExecuteInProcessResult:
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in ASSETS]
    everything = {**defs.resources, "interaction_source": source, **resources}
    return dg.materialize([*assets, *(defs.asset_checks or [])], resources=everything, tags=RANGE, raise_on_error=False)


def run_from_database_and_from_files(
    url: str, world, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, tuple[bytes, bytes]]:
    """The world's rows (already at `url`) through the `database` source, then as a seed-000 log with the
    catalog tables as object files: each published file's bytes from both."""
    monkeypatch.setenv("POPPY_ENGINE_EXPORT_DIR", str(data_dir / "engine"))
    from_database = materialize(InteractionSourceResource(format="database", database_url=url))
    assert from_database.success
    report = json.loads((data_dir / "category_preferences_mf_report.json").read_text())
    assert report["data"] == "database" and report["judged_against"] == "held-out Likes (no truth)"
    assert report["events_outside_categories"] == 0  # every Star_SpType, Planet_Type, Parent_Planet_Name known
    files = tmp_path / "from_files"
    monkeypatch.setenv("POPPY_DATA_DIR", str(files))
    monkeypatch.setenv("POPPY_ENGINE_EXPORT_DIR", str(files / "engine"))
    objects, log = write_world_files(tmp_path / "world", *world)
    simulation = SimulationResource(objects_dir=str(objects))
    assert materialize(InteractionSourceResource(path=str(log), format="poppy"), simulation=simulation).success
    return {name: ((data_dir / name).read_bytes(), (files / name).read_bytes()) for name in PUBLISHED}


def test_the_database_and_the_same_rows_as_a_log_publish_the_same_files(
    world, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = f"sqlite:///{tmp_path / 'poppy.db'}"
    fill_world(url, *world)
    published = run_from_database_and_from_files(url, world, data_dir, tmp_path, monkeypatch)
    for name, (from_database, from_files) in published.items():
        assert from_database == from_files, name
    header = published[f"engine/{LAYER_3_FILE}"][0].splitlines()[0].decode()
    assert header.startswith("User_ID,A,B,F,G,K,M,O,Dwarf Planet,Gas Giant,Ice Giant,Terrestrial,Earth")


def few_likes(world, keep: int) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The world with only `keep` of its Likes and ratings (its views and clicks all kept)."""
    catalog, rows = world
    liking = rows["Interaction_Type"].isin(["Like", "Rate"])
    return catalog, pd.concat([rows[~liking], rows[liking].iloc[:keep]]).sort_values("Interaction_ID")


def test_fewer_than_500_likes_and_ratings_fail_by_default(world, data_dir: Path, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'few.db'}"
    fill_world(url, *few_likes(world, 450))
    result = materialize(InteractionSourceResource(format="database", database_url=url))
    assert not result.success
    failures = [e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert any("holds 450 rows" in m and "fewer than min_real_interactions 500" in m for m in failures), failures
    assert not (data_dir / "category_preferences_mf.csv").exists()


def test_fewer_than_500_likes_and_ratings_simulate_when_asked(
    world, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("POPPY_ENGINE_EXPORT_DIR", str(data_dir / "engine"))
    url = f"sqlite:///{tmp_path / 'few.db'}"
    fill_world(url, *few_likes(world, 450))
    source = InteractionSourceResource(format="database", database_url=url, when_too_few="simulate")
    result = materialize(source)
    assert result.success
    report = json.loads((data_dir / "category_preferences_nn_report.json").read_text())
    assert report["data"].startswith("simulated") and "holds 450 rows" in report["data"]
    assert report["judged_against"] == "the simulation's truth" and report["published"]
    assert pd.read_csv(data_dir / "engine" / LAYER_4_FILE).shape[1] == 22
