"""The simulation assets through `dagster.materialize`, into a temporary data folder."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.definitions import defs
from poppy_pipeline.defs.celestial_objects import celestial_objects
from poppy_pipeline.defs.engagement_scores import engagement_scores
from poppy_pipeline.defs.interaction_report import PATTERN_CHECKS, interaction_report
from poppy_pipeline.defs.simulated_interactions import simulated_interactions
from poppy_pipeline.defs.users import users
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline_tests.conftest import WINDOW, expected_interactions

SIMULATION = [celestial_objects, users, simulated_interactions]
RANGE = {"dagster/asset_partition_range_start": str(WINDOW[0]), "dagster/asset_partition_range_end": str(WINDOW[-1])}


def materialize(assets, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, resources=defs.resources, **kwargs)


@pytest.fixture
def window_run(data_dir: Path) -> dg.ExecuteInProcessResult:
    result = materialize(SIMULATION, tags=RANGE)
    assert result.success
    return result


def test_thirty_days_in_one_run_with_every_check_passing(window_run, data_dir: Path):
    files = sorted((data_dir / "simulated_interactions").iterdir())
    assert [f.name for f in files] == [f"{day}.csv" for day in WINDOW]
    assert (data_dir / "celestial_objects.csv").exists() and (data_dir / "users.csv").exists()
    # The day's checks: one result per day, naming it, each passed.
    evaluations = {
        (e.check_name, e.partition): e
        for e in window_run.get_asset_check_evaluations()
        if e.asset_key.path == ["simulated_interactions"]
    }
    days = [str(day) for day in WINDOW]
    assert sorted(evaluations) == sorted((name, day) for name in ("integrity", "quarantine_share") for day in days)
    assert not [key for key, e in evaluations.items() if not e.passed]
    assert {e.metadata["events"].value for (name, _), e in evaluations.items() if name == "integrity"} != {0}
    window = pd.concat([tables.read_csv(f) for f in files])
    integrity_events = sum(e.metadata["events"].value for (name, _), e in evaluations.items() if name == "integrity")
    assert integrity_events == len(window)
    expected = expected_interactions(tables.read_csv(data_dir / "users.csv"), WINDOW)
    assert abs(len(window) - expected) < 4 * expected**0.5


def test_seed_000s_claims_are_checks_of_the_report_over_its_span(window_run, data_dir: Path):
    """The patterns are about a span: interaction_report measures them on the days it reads."""
    result = materialize([*SIMULATION, engagement_scores, interaction_report], tags=RANGE)
    evaluations = {
        e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key.path == ["interaction_report"]
    }
    assert set(evaluations) == set(PATTERN_CHECKS)
    assert {e.partition for e in evaluations.values()} == {None}
    failed = {name: e.metadata for name, e in evaluations.items() if not e.passed}
    assert not failed
    assert evaluations["repeat_share"].metadata["measured"].value == pytest.approx(0.40, abs=0.05)
    assert evaluations["type_mix"].metadata["span"].value.startswith(f"{WINDOW[0]}..{WINDOW[-1]} (30 days")


def test_materializations_carry_row_counts_paths_and_previews(window_run, data_dir: Path):
    events = window_run.asset_materializations_for_node("simulated_interactions")
    assert len(events) == 30  # one per partition
    metadata = events[0].metadata
    written = sum(len(tables.read_csv(f)) for f in (data_dir / "simulated_interactions").iterdir())
    assert metadata["dagster/row_count"].value == written
    assert Path(metadata["path"].value) == data_dir / "simulated_interactions"
    assert "Interaction_ID" in metadata["preview"].value
    assert metadata["days"].value == 30
    users_metadata = window_run.asset_materializations_for_node("users")[0].metadata
    assert users_metadata["dagster/row_count"].value == 100


def test_rerun_gives_byte_identical_files(window_run, data_dir: Path):
    before = {p: p.read_bytes() for p in data_dir.rglob("*.csv")}
    assert materialize(SIMULATION, tags=RANGE).success
    assert before == {p: p.read_bytes() for p in data_dir.rglob("*.csv")}


def test_a_day_alone_equals_the_same_day_of_a_window(window_run, data_dir: Path, tmp_path: Path, monkeypatch):
    day = str(WINDOW[10])
    expected = (data_dir / "simulated_interactions" / f"{day}.csv").read_bytes()
    monkeypatch.setenv("POPPY_DATA_DIR", str(tmp_path / "alone"))
    assert materialize(SIMULATION, partition_key=day).success
    assert (tmp_path / "alone" / "simulated_interactions" / f"{day}.csv").read_bytes() == expected


def test_run_config_changes_the_simulation(data_dir: Path):
    config = {"resources": {"simulation": {"config": {"seed": 9, "num_users": 40}}}}
    assert materialize([celestial_objects, users], run_config=config).success
    assert len(tables.read_csv(data_dir / "users.csv")) == 40


def test_invalid_setting_fails_the_run_naming_it(data_dir: Path):
    config = {"resources": {"simulation": {"config": {"num_users": -1}}}}
    with pytest.raises(Exception, match=r"simulation\.num_users"):
        materialize([users], run_config=config)


def test_object_files_are_read_and_bad_rows_quarantined(data_dir: Path, tmp_path: Path, monkeypatch):
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "stars.csv").write_text("Star_ID,Name,Spectral_Class\n1,Sirius,A1V\n2,Vega,A0V\n2,Dup,G2V\nz,Bad,K\n")
    monkeypatch.setenv("POPPY_OBJECTS_DIR", str(objects))
    # The resource reads POPPY_OBJECTS_DIR when it is created, as at definitions load.
    from poppy_pipeline.dagster_support.simulation_resource import SimulationResource

    result = dg.materialize(
        [celestial_objects], resources={**defs.resources, "simulation": SimulationResource()}, raise_on_error=False
    )
    # Half the rows rejected is far above the 1% tolerated: the blocking check fails.
    [check] = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == ("quarantine_share", False)
    assert check.metadata["quarantined_share"].value == 0.5
    stars = tables.read_csv(data_dir / "celestial_objects.csv").query("Object_Type == 'Star'")
    assert stars["Name"].tolist() == ["Sirius", "Vega"]
    rejected = tables.read_csv(data_dir / "quarantine" / "celestial_objects" / "stars.csv")
    assert rejected.columns.tolist() == ["Star_ID", "Name", "Spectral_Class", "reason"]
    assert len(rejected) == 2
    metadata = result.asset_materializations_for_node("celestial_objects")[0].metadata
    assert metadata["quarantined_rows"].value == 2


@dg.asset(partitions_def=simulated_interactions.partitions_def, backfill_policy=dg.BackfillPolicy.single_run())
def downstream_of_interactions(simulated_interactions: dict[str, pd.DataFrame]) -> None:
    """Stands in for engagement_scores: must not run on data that failed integrity."""


def test_failed_integrity_fails_the_step_before_writing_and_blocks_downstream_assets(
    window_run, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """The checks measure the days in hand; a broken day (a generator bug) is never written."""
    day_file = data_dir / "simulated_interactions" / f"{WINDOW[-1]}.csv"
    good = day_file.read_bytes()

    def broken_day(model, day):
        frame = simulate_day(model, day)
        frame.loc[0, "Object_ID"] = 99_999
        return frame

    monkeypatch.setattr("poppy_pipeline.defs.simulated_interactions.simulate_day", broken_day)
    result = materialize([*SIMULATION, downstream_of_interactions], tags=RANGE, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "simulated_interactions"
    message = failure.step_failure_data.error.message
    assert f"simulated_interactions {WINDOW[0]}..{WINDOW[-1]}: integrity fails, nothing written" in message
    assert "'unknown_objects': 30" in message  # one per day
    assert f"'{WINDOW[-1]}': {{'unknown_objects': 1," in message
    assert day_file.read_bytes() == good
    assert not result.asset_materializations_for_node("downstream_of_interactions")


def test_every_asset_hands_its_value_to_its_io_manager():
    """A `-> MaterializeResult` annotation on an asset with check_specs types its output Nothing,
    and Dagster then skips the IO manager: such assets state `dagster_type` instead."""
    graph = defs.resolve_asset_graph()
    nothing = [
        f"{key.to_user_string()}.{output.name}"
        for key in graph.get_all_asset_keys()
        for output in graph.get(key).assets_def.op.output_defs
        if output.dagster_type.is_nothing
    ]
    assert nothing == []
