"""What the Dagster UI reads: a summary's span, the check rows, the figures at the top of a page.

Through `dagster.materialize` into a Dagster instance of the test's own, as the UI's runs and
backfills record them: the span comes from the run's tags or its backfill's record; the day-level
checks leave one evaluated row per day (none left "planned", which the UI shows as Skipped); a
report's figures are its first metadata entries, each short enough for the UI to show inline and
pointing at a PNG the webserver serves from the run's logs.
"""

import re
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from poppy_pipeline.dagster_support.day_span import BACKFILL_TAG, backfill_days
from poppy_pipeline.dagster_support.partitions import daily_partitions
from poppy_pipeline.definitions import defs
from poppy_pipeline.defs.celestial_objects import celestial_objects
from poppy_pipeline.defs.engagement_scores import engagement_scores
from poppy_pipeline.defs.interaction_report import interaction_report
from poppy_pipeline.defs.simulated_interactions import simulated_interactions
from poppy_pipeline.defs.users import users

DAYS = ["2026-11-10", "2026-11-11", "2026-11-12"]
RANGE = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}
SIMULATION = [celestial_objects, users, simulated_interactions]


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "home").mkdir()
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        yield instance


def materialize(assets: list, instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, resources=defs.resources, instance=instance, tags=tags)


def summarize(instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    """engagement_scores alone (its inputs read from the files), as a summary's own run."""
    return dg.materialize(
        [*SIMULATION, engagement_scores],
        selection=["engagement_scores"],
        resources=defs.resources,
        instance=instance,
        tags=tags,
    )


def add_backfill(instance: dg.DagsterInstance, days: list[str], summaries: list[str]) -> str:
    """A backfill as the UI launches one: the daily asset's days and the summaries, no run config."""
    target = AssetGraphSubset(
        partitions_subsets_by_asset_key={
            dg.AssetKey("simulated_interactions"): daily_partitions.subset_with_partition_keys(days)
        },
        non_partitioned_asset_keys={dg.AssetKey(name) for name in summaries},
    )
    backfill_id = "ui0backf"
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id, time.time(), {}, instance, target, title=None, description=None, run_config=None
    )
    instance.add_backfill(backfill)
    return backfill_id


def span_of(result: dg.ExecuteInProcessResult, asset: str) -> str:
    return result.asset_materializations_for_node(asset)[0].metadata["span"].value


def test_a_backfills_summary_run_reads_the_days_the_backfill_targets(data_dir: Path, instance):
    """A UI backfill runs the summaries in a run of their own, without partition tags: they read the
    backfill's days, not the 30 days ending yesterday (which hold no data here)."""
    assert materialize(SIMULATION, instance, RANGE).success
    backfill_id = add_backfill(instance, DAYS, ["engagement_scores"])
    assert backfill_days(instance, backfill_id) == DAYS
    result = summarize(instance, {BACKFILL_TAG: backfill_id})
    assert span_of(result, "engagement_scores") == f"{DAYS[0]}..{DAYS[-1]}"


def test_a_span_is_the_runs_range_or_the_trailing_days_ending_on_its_partition(data_dir: Path, instance):
    assert materialize(SIMULATION, instance, RANGE).success
    assert span_of(summarize(instance, RANGE), "engagement_scores") == "2026-11-10..2026-11-12"
    one_day = summarize(instance, {"dagster/partition": DAYS[1]})
    assert span_of(one_day, "engagement_scores") == "2026-10-13..2026-11-11"  # 30 days ending on it


def test_a_backfill_of_unknown_id_or_of_no_daily_asset_names_no_days(instance):
    assert backfill_days(instance, "nosuchid") == []
    assert backfill_days(instance, add_backfill(instance, [], ["engagement_scores"])) == []


def test_every_day_of_a_range_run_has_its_own_passed_check_row(data_dir: Path, instance):
    """The rows the UI reads: each planned (check, day) row of the run ends evaluated, none Skipped."""
    result = materialize(SIMULATION, instance, RANGE)
    assert result.success
    for name in ("integrity", "quarantine_share"):
        key = dg.AssetCheckKey(dg.AssetKey("simulated_interactions"), name)
        rows = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
        assert sorted(row.partition for row in rows) == DAYS
        assert {row.status for row in rows} == {AssetCheckExecutionRecordStatus.SUCCEEDED}
        assert {row.run_id for row in rows} == {result.run_id}
        # The partition view shows a day's status only while it targets the day's latest materialization.
        infos = instance.event_log_storage.get_asset_check_partition_info([key])
        assert sorted(info.partition_key for info in infos) == DAYS
        assert all(info.is_current for info in infos)


def test_a_reports_figures_come_first_each_inline_and_served_from_the_runs_logs(data_dir: Path, instance):
    assets = [*SIMULATION, engagement_scores, interaction_report]
    result = dg.materialize(assets, resources=defs.resources, instance=instance, tags=RANGE)
    assert result.success
    metadata = result.asset_materializations_for_node("interaction_report")[0].metadata
    figures = sorted(path.stem for path in (data_dir / "figures").glob("*.png"))
    assert len(figures) == 8 and sorted(list(metadata)[:8]) == figures
    logs = instance.compute_log_manager
    for name in figures:
        markdown = metadata[name].value
        assert len(markdown) < 1000  # the UI shows Markdown inline below 1,000 characters
        url = f"/logs/{result.run_id}/figures/interaction_report/{name}/png"
        assert markdown == f"![{name.replace('_', ' ')}]({url})"
        # The webserver's /logs/<log key>/<extension> route serves this file.
        served = Path(logs.get_captured_local_path([result.run_id, "figures", "interaction_report", name], "png"))
        assert served.read_bytes() == (data_dir / "figures" / f"{name}.png").read_bytes()
    assert re.fullmatch(r"mean 0\.\d{1,4}, median 0\.\d{1,4}", metadata["watch_ratio_of_views"].value)  # readable
    assert Path(metadata["path"].value).name == "interaction_report.json"  # the rest is in the file
