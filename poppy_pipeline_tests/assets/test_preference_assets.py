"""Layers 3 and 4 through `dagster.materialize`: the engine's files, read as the engine reads them."""

import csv
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.common.columns import INTERACTION_COLUMNS
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline.engagement.engine_exports import LAYER_3_FILE, LAYER_4_FILE
from poppy_pipeline.preferences.models import fit_popularity
from poppy_pipeline_tests.conftest import WINDOW

ASSETS = [
    "celestial_objects",
    "users",
    "simulated_interactions",
    "user_preferences",
    "category_preferences_mf",
    "category_preferences_nn",
]
RANGE = {"dagster/asset_partition_range_start": str(WINDOW[0]), "dagster/asset_partition_range_end": str(WINDOW[-1])}
# The fields the engine's Layer3_User_Matrix_Object (and Layer 4's) bind, in the service's files' order.
ENGINE_FIELDS = [
    "User_ID", "A", "B", "F", "G", "K", "M", "O", "Dwarf Planet", "Gas Giant", "Ice Giant", "Terrestrial",
    "Earth", "Eris", "Haumea", "Jupiter", "Makemake", "Mars", "Neptune", "Pluto", "Saturn", "Uranus",
]  # fmt: skip
FILES = {"category_preferences_mf": LAYER_3_FILE, "category_preferences_nn": LAYER_4_FILE}


def materialize(names=ASSETS, **kwargs) -> dg.ExecuteInProcessResult:
    """`names` materialized; the assets upstream of them and not named are read from their files."""
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in ASSETS]
    resources = {**defs.resources, **kwargs.pop("resources", {})}
    return dg.materialize(assets, selection=names, resources=resources, tags=RANGE, **kwargs)


@pytest.fixture
def engine_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = data_dir.parent / "Output_Data"
    monkeypatch.setenv("POPPY_ENGINE_EXPORT_DIR", str(folder))
    return folder


@pytest.fixture
def window_run(data_dir: Path, engine_dir: Path) -> dg.ExecuteInProcessResult:
    result = materialize()
    assert result.success
    return result


def span_users(data_dir: Path) -> set[str]:
    days = sorted((data_dir / "simulated_interactions").glob("*.csv"))
    return {str(u) for day in days for u in tables.read_csv(day)["User_ID"]}


def test_the_engine_reads_both_files_by_its_field_names(window_run, data_dir: Path, engine_dir: Path):
    for name in FILES.values():
        with open(engine_dir / name, newline="") as handle:
            reader = csv.DictReader(handle)
            assert reader.fieldnames == ENGINE_FIELDS
            rows = list(reader)
        for row in rows:  # every field present and a number in 0-10, as the booster's v/10 needs
            values = [float(row[field]) for field in ENGINE_FIELDS[1:]]
            assert all(0.0 <= v <= 10.0 for v in values), row
        ids = [row["User_ID"] for row in rows]
        assert len(ids) == len(set(ids)) and set(ids) == span_users(data_dir)  # every user of the span, once


def test_reports_figures_checks_and_metadata(window_run, data_dir: Path):
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in window_run.get_asset_check_evaluations()}
    for asset in FILES:
        assert checks[(asset, "beats_popularity")].passed
        report = json.loads((data_dir / f"{asset}_report.json").read_text())
        assert report["published"] and report["judged_against"] == "the simulation's truth"
        evaluation = report["evaluation"]
        assert set(evaluation) == {asset, "popularity", "service SGD MF (Layer 3 today)",
                                   "service one-hot network (Layer 4 today)"}  # fmt: skip
        assert evaluation[asset]["ndcg_at_3"] > evaluation["popularity"]["ndcg_at_3"]
        assert (data_dir / "figures" / f"{asset}_vs_truth.png").read_bytes()[:4] == b"\x89PNG"
        metadata = window_run.asset_materializations_for_node(asset)[0].metadata
        assert next(iter(metadata)) == "figures"  # figures first
        assert "| model |" in metadata["evaluation"].value
    truth = tables.read_csv(data_dir / "user_preferences.csv")
    assert truth.columns.tolist() == ENGINE_FIELDS and len(truth) == 100


def test_the_truth_is_never_read_by_a_model(window_run, data_dir: Path, engine_dir: Path):
    """Another truth changes the judging, not the published values."""
    published = {name: (engine_dir / name).read_bytes() for name in FILES.values()}
    truth = tables.read_csv(data_dir / "user_preferences.csv")
    rng = np.random.default_rng(1)
    shuffled = truth.assign(**{c: rng.permutation(truth[c].to_numpy()) for c in ENGINE_FIELDS[1:]})
    tables.write_csv(shuffled, data_dir / "user_preferences.csv")
    result = materialize(["category_preferences_mf", "category_preferences_nn"], raise_on_error=False)
    assert not result.success  # against a shuffled truth, neither beats popularity: nothing published...
    assert {name: (engine_dir / name).read_bytes() for name in FILES.values()} == published
    report = json.loads((data_dir / "category_preferences_mf_report.json").read_text())
    assert not report["published"]


def test_a_model_that_loses_to_popularity_is_not_published(
    window_run, data_dir: Path, engine_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    before = (engine_dir / LAYER_3_FILE).read_bytes(), (data_dir / "category_preferences_mf.csv").read_bytes()

    def contrarian(slices, exposure, seed=0):  # the population's taste, upside down
        popular = fit_popularity(slices, exposure, seed)
        return lambda counts: -popular(counts)

    monkeypatch.setattr("poppy_pipeline.defs.category_preferences_mf.fit_hierarchical", contrarian)
    result = materialize(["category_preferences_mf"], raise_on_error=False)
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "beats_popularity")
    assert not check.passed and "does not beat popularity" in check.description
    after = (engine_dir / LAYER_3_FILE).read_bytes(), (data_dir / "category_preferences_mf.csv").read_bytes()
    assert after == before


def test_a_real_log_is_judged_on_held_out_likes(window_run, data_dir: Path, engine_dir: Path, tmp_path: Path):
    """The simulated days as a seed-000 log: no truth, the held-out Like AUC decides."""
    days = sorted((data_dir / "simulated_interactions").glob("*.csv"))
    log = pd.concat([tables.read_csv(day)[INTERACTION_COLUMNS] for day in days])
    path = tmp_path / "log.csv"
    tables.write_csv(log, path)
    source = InteractionSourceResource(path=str(path), format="poppy")
    result = materialize(resources={"interaction_source": source})
    assert result.success
    assert tables.read_csv(data_dir / "user_preferences.csv").empty
    report = json.loads((data_dir / "category_preferences_mf_report.json").read_text())
    assert report["judged_against"] == "held-out Likes (no truth)" and report["data"] == "poppy"
    ours, popular = (report["evaluation"][m]["held_out_like_auc"] for m in ("category_preferences_mf", "popularity"))
    assert ours > popular
    assert (data_dir / "figures" / "category_preferences_mf_values.png").exists()
    assert pd.read_csv(engine_dir / LAYER_3_FILE)["User_ID"].astype(str).tolist() == sorted(
        span_users(data_dir), key=int
    )
