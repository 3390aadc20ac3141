"""The `database` source and `engine_exports` through `dagster.materialize` (SQLite files)."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource, run_span
from poppy_pipeline.definitions import defs
from poppy_pipeline.engagement.engine_exports import LAYER_2_COLUMNS, LAYER_2_FILE, EngineExportError, write_layer_2
from poppy_pipeline.sources import database
from poppy_pipeline_tests.support.backend_tables import fill, interaction_rows

FEBRUARY = {"dagster/asset_partition_range_start": "2024-02-01", "dagster/asset_partition_range_end": "2024-02-29"}
SUMMARIES = [
    "celestial_objects",
    "users",
    "simulated_interactions",
    "engagement_scores",
    "trending_objects",
    "engine_exports",
]


def materialize_from(
    source: InteractionSourceResource, extra_checks=(), tags=FEBRUARY, extra_names=(), **resources
) -> dg.ExecuteInProcessResult:
    names = [*SUMMARIES, *extra_names]
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in names]
    return dg.materialize(
        [*assets, *(defs.asset_checks or []), *extra_checks],
        resources={**defs.resources, "interaction_source": source, **resources},
        tags=tags,
        raise_on_error=False,
    )


def sqlite_source(path: Path, rows: pd.DataFrame, **config) -> InteractionSourceResource:
    fill(f"sqlite:///{path}", rows)
    return InteractionSourceResource(format="database", database_url=f"sqlite:///{path}", **config)


def bad_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Three bad rows with new IDs: an unknown type, a missing object, a rating on a view."""
    bad = rows.iloc[:3].copy()
    bad["Interaction_ID"] = [90_001, 90_002, 90_003]
    bad["Interaction_Type"] = ["Share", "View", "View"]
    bad["Object_Reference_ID"] = [1, 10_000, 1]
    bad["Interaction_Rating"] = pd.array([None, None, 4], dtype="Int64")
    return bad


def test_a_month_from_the_database_to_the_engine(data_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("POPPY_ENGINE_EXPORT_DIR", raising=False)
    rows = interaction_rows(1_000, "2024-02-01", 29, seed=11)
    result = materialize_from(sqlite_source(tmp_path / "poppy.db", pd.concat([rows, bad_rows(rows)])))
    assert result.success
    metadata = result.asset_materializations_for_node("simulated_interactions")[0].metadata
    assert metadata["source"].value == "database"
    assert metadata["rows_read"].value == 1_003 and metadata["quarantined_rows"].value == 3
    assert "holds 1002 rows in 2024-02-01..2024-02-29" in metadata["database_decision"].value
    days = sorted((data_dir / "simulated_interactions").glob("*.csv"))
    assert len(days) == 29 and sum(len(tables.read_csv(d)) for d in days) == 1_000
    rejected = tables.read_csv(data_dir / "quarantine" / "simulated_interactions" / "Interactions.csv")
    assert rejected["reason"].str.startswith("Interactions Interaction_ID=9000").all() and len(rejected) == 3
    published = data_dir / "engine_exports" / LAYER_2_FILE
    assert published.read_bytes() == (data_dir / "trending_objects.csv").read_bytes()
    assert published.read_text().splitlines()[0] == ",".join(LAYER_2_COLUMNS)
    objects = tables.read_csv(data_dir / "celestial_objects.csv")
    assert objects.groupby("Object_Type").size().to_dict() == {"Moon": 20, "Planet": 20, "Star": 40}


def test_too_few_rows_fail_the_run_by_default(data_dir: Path, tmp_path: Path):
    result = materialize_from(sqlite_source(tmp_path / "poppy.db", interaction_rows(120, "2024-02-01", 29)))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "holds 120 rows in 2024-02-01..2024-02-29, fewer than min_real_interactions 300" in message
    assert "when_too_few: simulate" in message
    assert not (data_dir / "simulated_interactions").exists()


def test_a_window_without_a_valid_row_writes_no_day(data_dir: Path, tmp_path: Path):
    rows = interaction_rows(400, "2024-02-01", 29, seed=4).assign(Object_Reference_ID=10_000)  # no such object
    result = materialize_from(sqlite_source(tmp_path / "poppy.db", rows))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    # The decision counted 400 rows, so the catalog and the users (the tables' own) were written; the
    # rows are read and checked once, by simulated_interactions, which writes nothing.
    assert failure.step_key == "simulated_interactions"
    message = failure.event_specific_data.error.message
    assert "Interactions: no valid rows in 2024-02-01..2024-02-29 (400 rows: 0 valid outside the window," in message
    assert "Object_Reference_ID '10000' is not the ID of a" in message
    assert not (data_dir / "simulated_interactions").exists()


def test_the_window_is_read_once_per_run(data_dir: Path, tmp_path: Path, monkeypatch):
    reads = []
    read_days = database._read_days  # what every read of the window's rows goes through

    def counted(session, days, zone, each_day):
        reads.append(list(days))
        return read_days(session, days, zone, each_day)

    monkeypatch.setattr(database, "_read_days", counted)
    rows = interaction_rows(600, "2024-02-01", 29, seed=6)
    assert materialize_from(sqlite_source(tmp_path / "poppy.db", rows)).success
    assert len(reads) == 1 and reads[0][0] == "2024-02-01" and reads[0][-1] == "2024-02-29"


def test_too_few_rows_simulate_when_asked(data_dir: Path, tmp_path: Path):
    # A window inside the simulation's growth period, where simulated users exist.
    november = {"dagster/asset_partition_range_start": "2026-11-01", "dagster/asset_partition_range_end": "2026-11-21"}
    rows = interaction_rows(120, "2026-11-01", 21)
    result = materialize_from(sqlite_source(tmp_path / "poppy.db", rows, when_too_few="simulate"), tags=november)
    assert result.success
    for asset in ("users", "simulated_interactions"):
        metadata = result.asset_materializations_for_node(asset)[0].metadata
        assert metadata["source"].value == "simulation"
        assert "simulating instead" in metadata["database_decision"].value
    simulated = tables.read_csv(data_dir / "simulated_interactions" / "2026-11-10.csv")
    assert simulated["Session_ID"].notna().all()  # the simulation's rows, not the table's
    assert tables.read_csv(data_dir / "users.csv")["Profile"].notna().all()
    # The catalog still comes from the app's tables.
    assert len(tables.read_csv(data_dir / "celestial_objects.csv")) == 80


@dg.asset_check(asset="trending_objects", blocking=True)
def trending_objects_refused() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="a blocking check of trending_objects fails")


def test_engine_file_is_published_only_after_trending_objects_blocking_checks_pass(data_dir: Path, tmp_path: Path):
    rows = interaction_rows(600, "2024-02-01", 29, seed=2)
    result = materialize_from(sqlite_source(tmp_path / "poppy.db", rows), extra_checks=[trending_objects_refused])
    assert not result.success
    assert result.asset_materializations_for_node("trending_objects")
    assert not result.asset_materializations_for_node("engine_exports")
    assert not (data_dir / "engine_exports" / LAYER_2_FILE).exists()


def test_the_export_folder_is_configurable_and_a_bad_table_never_replaces_a_good_file(tmp_path: Path, monkeypatch):
    good = pd.DataFrame(
        {
            "Object_Type": ["Star", "Moon"],
            "Object_ID": [3, 1],
            "total_interactions": [5, 2],
            "num_views": [3, 1],
            "num_clicks": [1, 0],
            "num_favorites": [1, 1],
            "trending_score": [100.0, 35.5],
        }
    )
    folder = tmp_path / "Output_Data"
    path = write_layer_2(good, folder)
    assert path == folder / "Layer_2_Top_Trending_Per_Type.csv"
    assert path.read_text() == (
        "Object_Type,Object_ID,total_interactions,num_views,num_clicks,num_favorites,trending_score\n"
        "Star,3,5,3,1,1,100\nMoon,1,2,1,0,1,35.5\n"
    )
    before = path.read_bytes()
    for broken, problem in (
        (good.rename(columns={"num_clicks": "num_likes"}), "the engine binds"),
        (good.assign(trending_score=[100.0, 140.0]), "trending_score is outside 0-100"),
        (good.assign(num_views=[3, None]), "num_views has empty values"),
    ):
        with pytest.raises(EngineExportError, match=problem):
            write_layer_2(broken, folder)
        assert path.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left behind
    monkeypatch.setenv("POPPY_ENGINE_EXPORT_DIR", str(tmp_path / "elsewhere"))
    from poppy_pipeline.engagement.engine_exports import engine_export_dir

    assert engine_export_dir(tmp_path / "outputs") == tmp_path / "elsewhere"
    monkeypatch.delenv("POPPY_ENGINE_EXPORT_DIR")
    assert engine_export_dir(tmp_path / "outputs") == tmp_path / "outputs" / "engine_exports"


def test_the_decision_window_is_the_window_the_summaries_read():
    assert run_span(FEBRUARY) == ("2024-02-01", "2024-02-29")
    # A scheduled day: the trailing 30 days ending on it, as trending_objects reads them.
    assert run_span({"dagster/partition": "2026-11-21"}) == ("2026-10-23", "2026-11-21")
