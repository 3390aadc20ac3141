"""Real logs instead of the simulation, end to end, with nothing downstream changed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline_tests.support.seed002 import add_future_users, seed002_figures, write_pings_folder

FEBRUARY = {"dagster/asset_partition_range_start": "2024-02-01", "dagster/asset_partition_range_end": "2024-02-29"}
SOURCES_AND_SUMMARIES = [
    "celestial_objects",
    "users",
    "simulated_interactions",
    "engagement_scores",
    "trending_objects",
    "interaction_report",
]


def materialize_from(source: InteractionSourceResource, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    assets = [
        a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in SOURCES_AND_SUMMARIES
    ]
    checks = list(defs.asset_checks or [])
    return dg.materialize(
        [*assets, *checks], resources={**defs.resources, "interaction_source": source}, tags=tags, raise_on_error=False
    )


# As in seed 002's own log: users who signed up after the last event, with events before it.
LATE_SIGNUPS = 3


@pytest.fixture
def pings_run(data_dir: Path, tmp_path: Path):
    folder = write_pings_folder(tmp_path / "seed002_log", late_signups=LATE_SIGNUPS)
    result = materialize_from(InteractionSourceResource(path=str(folder), format="pings"), FEBRUARY)
    assert result.success
    return folder, result


def test_report_reproduces_seed_002_figures(pings_run, data_dir: Path):
    folder, _ = pings_run
    report = json.loads((data_dir / "interaction_report.json").read_text())
    expected = seed002_figures(folder)

    described = expected["describe"]
    # Read day by day, the report's mean and std add in another order (float rounding); the
    # count, extremes and quantiles come from exact counts of each distinct ratio.
    assert report["watch_ratio_views"] == {
        "count": int(described["count"]),
        "mean": pytest.approx(described["mean"], rel=1e-12),
        "std": pytest.approx(described["std"], rel=1e-12),
        "min": described["min"],
        "p25": described["25%"],
        "p50": described["50%"],
        "p75": described["75%"],
        "p90": described["90%"],
        "max": described["max"],
    }
    counts, edges = expected["histogram"]
    assert report["watch_ratio_histogram"] == [[edges[i], edges[i + 1], int(counts[i])] for i in range(10)]

    top = expected["top_pings"]
    assert [ping for ping, _ in report["top_objects"]] == top["ping_id"].tolist()
    np.testing.assert_allclose([s for _, s in report["top_objects"]], top["engagement_score"], rtol=1e-12)
    # As seed 002 prints them (six decimals), to the last digit.
    assert [f"{s:.6f}" for _, s in report["top_objects"]] == [f"{s:.6f}" for s in top["engagement_score"]]

    comparison = expected["comparison"]
    for label, is_new in (("new", True), ("existing", False)):
        assert report["new_vs_existing"][label] == {
            "avg_watch_time_ratio": pytest.approx(comparison.loc[is_new, "avg_watch_time_ratio"], rel=1e-12),
            "n_interacted_objects": comparison.loc[is_new, "n_interacted_pings"],
            "num_users": int(comparison.loc[is_new, "num_users"]),
        }
    # The fixture's new users include those who signed up after the last event (seed 002's case).
    assert report["new_vs_existing"]["new"]["num_users"] > LATE_SIGNUPS


def early_events(folder: Path) -> pd.DataFrame:
    """The log's events dated before their user's sign-up, straight from the CSV files."""
    users = pd.read_csv(folder / "users.csv", parse_dates=["signup_date"])
    log = pd.read_csv(folder / "interactions.csv", parse_dates=["event_timestamp"]).merge(users, on="user_id")
    return log[log["event_timestamp"] < log["signup_date"]]


def test_events_before_signup_are_counted_and_kept(data_dir: Path, tmp_path: Path):
    folder = write_pings_folder(tmp_path / "log", late_signups=LATE_SIGNUPS)
    expected = seed002_figures(folder)["comparison"]  # before the future users exist
    future = add_future_users(folder, 4)
    result = materialize_from(InteractionSourceResource(path=str(folder), format="pings"), FEBRUARY)
    assert result.success
    report = json.loads((data_dir / "interaction_report.json").read_text())

    early = early_events(folder)
    assert len(early) > 0 and early["user_id"].nunique() >= LATE_SIGNUPS
    quality = report["data_quality"]
    assert quality["users_with_events_before_signup"] == early["user_id"].nunique()
    assert quality["events_before_signup"] == len(early)
    assert sorted(quality["user_ids"]) == sorted(early["user_id"].unique())
    metadata = result.asset_materializations_for_node("interaction_report")[0].metadata
    assert metadata["users_with_events_before_signup"].value == early["user_id"].nunique()
    assert metadata["events_before_signup"].value == len(early)

    # Kept in every figure: all events are in the window, early ones included.
    assert report["window"]["events"] == 400
    # Users who have not signed up yet and have no events are not "new users"; seed 002's table
    # of the same log without them is reproduced to the last digit.
    assert not set(future) & set(early["user_id"])
    for label, is_new in (("new", True), ("existing", False)):
        assert report["new_vs_existing"][label] == {
            "avg_watch_time_ratio": expected.loc[is_new, "avg_watch_time_ratio"],
            "n_interacted_objects": expected.loc[is_new, "n_interacted_pings"],
            "num_users": int(expected.loc[is_new, "num_users"]),
        }


def test_engagement_scores_match_seed_002_pairs(pings_run, data_dir: Path):
    folder, _ = pings_run
    eng = seed002_figures(folder)["eng"].set_index(["user_id", "ping_id"])
    scores = tables.read_csv(data_dir / "engagement_scores.csv").set_index(["User_ID", "Object_ID"])
    assert len(scores) == len(eng)
    scores = scores.loc[eng.index]
    np.testing.assert_allclose(scores["engagement_score"], eng["engagement_score"], rtol=1e-12)
    assert (scores["watch_time_sec"].to_numpy() == eng["watch_time_sec"].to_numpy()).all()


def test_outputs_of_a_real_log(pings_run, data_dir: Path):
    _, result = pings_run
    trending = tables.read_csv(data_dir / "trending_objects.csv")
    assert trending.columns.tolist() == [
        "Object_Type", "Object_ID", "total_interactions", "num_views", "num_clicks", "num_favorites", "trending_score",
    ]  # fmt: skip
    assert set(trending["Object_Type"]) == {"Ping"} and trending["trending_score"].max() == 100
    assert len(list((data_dir / "figures").glob("*.png"))) == 8
    days = sorted(p.name for p in (data_dir / "simulated_interactions").glob("*.csv"))
    assert days[0] == "2024-02-01.csv" and len(days) == 29
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("simulated_interactions", "quarantine_share")].passed
    assert checks[("simulated_interactions", "integrity")].passed
    assert checks[("interaction_report", "type_mix")].metadata["applies"].value == "simulation only"
    figures = result.asset_materializations_for_node("interaction_report")[0].metadata["figures"].value
    assert figures.count("data:image/png;base64,") == 8


def test_too_many_bad_rows_stop_the_summaries(data_dir: Path, tmp_path: Path):
    folder = write_pings_folder(tmp_path / "log")
    interactions = pd.read_csv(folder / "interactions.csv")
    interactions.loc[:19, "event_type"] = "superlike"  # 5% of 400 rows
    interactions.to_csv(folder / "interactions.csv", index=False)
    result = materialize_from(InteractionSourceResource(path=str(folder), format="pings"), FEBRUARY)
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    failed = checks[("simulated_interactions", "quarantine_share")]
    assert not failed.passed and failed.metadata["quarantined_rows"].value == 20
    assert not result.asset_materializations_for_node("engagement_scores")  # blocked
    rejected = tables.read_csv(data_dir / "quarantine" / "simulated_interactions" / "interactions.csv")
    assert len(rejected) == 20 and rejected.columns[-1] == "reason"
    valid_days = list((data_dir / "simulated_interactions").iterdir())
    assert sum(len(tables.read_csv(p)) for p in valid_days) == 380  # valid + quarantined = input


def test_poppy_log_end_to_end(data_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(0)
    n = 500
    kinds = rng.choice(["View", "Click", "Favorite", "Rate"], n)
    log = pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, n + 1),
            "User_ID": rng.integers(1, 30, n),
            "Object_Type": "Star",
            "Object_ID": rng.integers(1, 201, n),
            "Interaction_Type": kinds,
            "Interaction_Rating": np.where(kinds == "Rate", rng.integers(1, 6, n).astype(str), ""),
            "Timestamp": (
                pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 28 * 86400, n), unit="s")
            ).astype(str),
        }
    )
    path = tmp_path / "Simulated_User_Interactions.csv"
    log.to_csv(path, index=False)
    result = materialize_from(InteractionSourceResource(path=str(path), format="poppy"), FEBRUARY)
    assert result.success
    scores = tables.read_csv(data_dir / "engagement_scores.csv")
    assert scores["n_events"].sum() == n
    report = json.loads((data_dir / "interaction_report.json").read_text())
    assert report["watch_ratio_views"]["count"] == int((kinds == "View").sum())
    assert report["top_objects"][0][0].startswith("Star:")


def test_make_run_style_cli_on_a_pings_log(tmp_path: Path):
    folder = write_pings_folder(tmp_path / "log", events=120)
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POPPY_DATA_DIR": str(tmp_path / "out"),
        "POPPY_SOURCE_PATH": str(folder),
        "POPPY_SOURCE_FORMAT": "pings",
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [
        dagster,
        "asset",
        "materialize",
        "-m",
        "poppy_pipeline.definitions",
        "--select",
        ",".join(SOURCES_AND_SUMMARIES),
    ]
    result = subprocess.run(
        [*command, "--partition-range", "2024-02-01...2024-02-29"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "out" / "interaction_report.json").exists()
    assert len(tables.read_csv(tmp_path / "out" / "trending_objects.csv")) > 0
