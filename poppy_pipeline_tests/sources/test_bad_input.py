"""Issue 11's findings, one by one: bad values quarantined with the right line and column,
offsets converted to UTC, every row accounted for, and a failed run that leaves the previous
good run's files as they were."""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.common.run_lock import LOCK_NAME
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources.action_logs import read_action_log
from poppy_pipeline.sources.daily_rows import split_by_day
from poppy_pipeline.sources.log_files import SourceError, check_poppy_log, read_poppy_log, users_from_poppy_log
from poppy_pipeline.sources.rows import utc_timestamps
from poppy_pipeline_tests.assets.test_behaviour_assets import ALL, DAYS, materialize
from poppy_pipeline_tests.assets.test_real_logs import FEBRUARY, materialize_from
from poppy_pipeline_tests.support.seed002 import write_pings_folder

pytestmark = pytest.mark.slow  # seconds per test: left out of make test-fast

HEADER = "Interaction_ID,User_ID,Object_Type,Object_ID,Interaction_Type,Interaction_Rating,Timestamp\n"


def check(tmp_path: Path, body: str, zone: str = "UTC"):
    path = tmp_path / "log.csv"
    path.write_text(HEADER + body)
    rows = read_poppy_log(path)
    objects = build_catalog(SimulationSettings(), None).objects
    return check_poppy_log(path, rows, objects, users_from_poppy_log(rows, zone), zone)


def test_ratings_must_be_whole_and_1_to_5(tmp_path: Path):
    checked = check(
        tmp_path,
        "1,6,Planet,47,Rate,4.5,2025-11-17 18:42:21\n"
        "2,6,Planet,47,Rate,4.0,2025-11-17 18:42:22\n"
        "3,6,Planet,47,Rate,0,2025-11-17 18:42:23\n"
        "4,6,Planet,47,Rate,1e308,2025-11-17 18:42:24\n"
        "5,6,Planet,47,Rate,,2025-11-17 18:42:25\n"
        "6,6,Planet,47,View, ,2025-11-17 18:42:26\n",  # a blank rating is no rating
    )
    assert checked.valid["Interaction_ID"].tolist() == [2, 6]
    assert checked.valid["Interaction_Rating"].tolist()[0] == 4
    assert checked.rejected["reason"].tolist() == [
        "line 2: Interaction_Rating '4.5' is not a whole rating 1-5",
        "line 4: Interaction_Rating '0' is not a whole rating 1-5",
        "line 5: Interaction_Rating '1e308' is not a whole rating 1-5",
        "line 6: Interaction_Rating '' is not a whole rating 1-5",
    ]


def test_reasons_name_the_right_column_and_the_earlier_line(tmp_path: Path):
    checked = check(
        tmp_path,
        "1,6,Comet,47,View,,2025-11-17 18:42:21\n"
        "2,6,Planet,47,View,,2025-11-17 18:42:22\n"
        "3,6,Planet,47,View,,2025-11-17 18:42:23\n"
        "2,6,Planet,47,View,,2025-11-17 18:42:24\n"
        " 3 ,6,Planet,47,View,,2025-11-17 18:42:25\n"
        "9,6,Planet,47,View,,\n",
    )
    assert checked.rejected["reason"].tolist() == [
        "line 2: Object_Type 'Comet' is not one of Star, Planet, Moon",
        "line 5: Interaction_ID '2' repeats line 3",
        "line 6: Interaction_ID ' 3 ' repeats line 4",
        "line 7: Timestamp '' is not an ISO 8601 date-time",
    ]


def test_offsets_are_converted_to_utc_and_naive_times_read_in_the_source_zone(tmp_path: Path):
    values = pd.Series(
        [
            "2025-11-01 00:43:42+01:00",
            "2025-11-01T00:43:42Z",
            "2025-10-31 19:43:42-0500",
            "2025-11-01 00:43:42",  # naive: the zone's
            "2025-03-30 02:30:00",  # skipped by the clocks in Paris
            "2025-10-26 02:30:00",  # repeated in Paris: the first (summer time) occurrence
        ]
    )
    paris, skipped = utc_timestamps(values, "Europe/Paris")
    expected = ["2025-10-31 23:43:42", "2025-11-01 00:43:42", "2025-11-01 00:43:42", "2025-10-31 23:43:42"]
    assert paris[:4].tolist() == [pd.Timestamp(v) for v in expected]
    assert paris.isna().tolist()[4] and skipped.tolist() == [False] * 4 + [True, False]
    assert paris[5] == pd.Timestamp("2025-10-26 00:30:00")
    utc, _ = utc_timestamps(values, "UTC")
    assert utc[3] == pd.Timestamp("2025-11-01 00:43:42") and paris.dt.tz is None


def test_a_log_with_mixed_offsets_is_split_by_utc_day(tmp_path: Path):
    checked = check(
        tmp_path,
        "1,6,Planet,47,View,,2025-11-01 00:30:00+01:00\n"  # 2025-10-31 23:30 UTC
        "2,6,Planet,47,View,,2025-11-01 00:30:00Z\n"
        "3,6,Planet,47,View,,2025-11-01 00:30:00\n"  # Paris: 2025-10-31 23:30 UTC
        "4,6,Planet,47,View,,2025-03-30 02:30:00\n",  # does not exist in Paris
        zone="Europe/Paris",
    )
    assert checked.rejected["reason"].tolist() == [
        "line 5: Timestamp '2025-03-30 02:30:00' does not exist in Europe/Paris (the clocks skipped it)"
    ]
    rows = split_by_day(checked, ["2025-10-31", "2025-11-01"])
    assert rows.days["2025-10-31"]["Interaction_ID"].tolist() == [1, 3]
    assert rows.days["2025-11-01"]["Interaction_ID"].tolist() == [2]
    assert rows.counts() == {
        "input_rows": 4,
        "valid_rows_in_window": 3,
        "rows_outside_window": 0,
        "quarantined_rows": 1,
    }


def test_action_logs_read_time_zones_the_same_way(tmp_path: Path):
    path = tmp_path / "actions.csv"
    path.write_text(
        "Session_ID,User_ID,Timestamp,Action,Scroll_Amount\n"
        "1,1,2026-11-21 10:00:00.250+01:00,scroll_down,100\n"
        "1,1,2026-11-21 10:00:01,scroll_down,1e12\n"
        "1,1,2026-11-21 10:00:02,scroll_up, \n"
    )
    log = read_action_log(path, "Europe/Paris")
    assert log.valid["Timestamp"].tolist() == [
        pd.Timestamp("2026-11-21 09:00:00.250"),
        pd.Timestamp("2026-11-21 09:00:02"),
    ]
    assert log.valid["Scroll_Amount"].tolist() == [100.0, 0.0]
    assert log.rejected["reason"].tolist() == ["line 3: Scroll_Amount '1e12' is more than 1,000,000 px"]


def test_an_unknown_time_zone_is_one_sentence():
    with pytest.raises(SourceError, match=r"source_timezone .*'Mars/Olympus' is not a time zone"):
        InteractionSourceResource(path="x.csv", source_timezone="Mars/Olympus").zone()


def february_log(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["View", "Click", "Favorite", "Rate"], n)
    return pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, n + 1),
            "User_ID": rng.integers(1, 30, n),
            "Object_Type": rng.choice(["Star", "Planet", "Moon"], n),
            "Object_ID": rng.integers(1, 21, n),
            "Interaction_Type": kinds,
            "Interaction_Rating": np.where(kinds == "Rate", rng.integers(1, 6, n).astype(str), ""),
            "Timestamp": (
                pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 29 * 86400, n), unit="s")
            ).astype(str),
        }
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every output file's bytes; the run lock's holder record (who ran last) is not an output."""
    files = (p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME)
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def poppy(path: Path) -> InteractionSourceResource:
    return InteractionSourceResource(path=str(path), format="poppy", max_quarantine_share=0.5)


def test_every_row_is_accounted_for_and_offsets_reach_the_summaries(data_dir: Path, tmp_path: Path):
    log = february_log()
    log.loc[:49, "Timestamp"] = (pd.to_datetime(log.loc[:49, "Timestamp"]) + pd.Timedelta(hours=1)).dt.strftime(
        "%Y-%m-%dT%H:%M:%S+01:00"
    )
    log.loc[50:59, "Timestamp"] = "2024-03-15 10:00:00"  # outside the window
    log.loc[60:64, "Interaction_Type"] = "Poke"  # quarantined
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    result = materialize_from(poppy(path), FEBRUARY)
    assert result.success
    metadata = result.asset_materializations_for_node("simulated_interactions")[0].metadata
    counts = {
        k: metadata[k].value for k in ("input_rows", "valid_rows_in_window", "rows_outside_window", "quarantined_rows")
    }
    assert counts == {"input_rows": 300, "valid_rows_in_window": 285, "rows_outside_window": 10, "quarantined_rows": 5}
    days = {p.stem: tables.read_csv(p) for p in (data_dir / "simulated_interactions").glob("*.csv")}
    written = pd.concat(days.values())
    assert len(written) == 285 and all(
        (frame["Timestamp"].dt.strftime("%Y-%m-%d") == day).all() for day, frame in days.items()
    )
    first = written.set_index("Interaction_ID").loc[1, "Timestamp"]
    assert first == pd.Timestamp(log.loc[0, "Timestamp"]).tz_convert(None)  # naive UTC
    assert "+" not in (data_dir / "simulated_interactions" / f"{first.date()}.csv").read_text()
    assert tables.read_csv(data_dir / "engagement_scores.csv")["n_events"].sum() == 285


def test_a_log_without_rows_changes_nothing_of_the_last_good_run(data_dir: Path, tmp_path: Path):
    good = tmp_path / "good.csv"
    february_log().to_csv(good, index=False)
    assert materialize_from(poppy(good), FEBRUARY).success
    before = snapshot(data_dir)
    assert "trending_objects.csv" in before and len(before) > 30

    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    failed = materialize_from(poppy(empty), FEBRUARY)
    assert not failed.success
    failures = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    messages = {e.step_key: e.event_specific_data.error.message.strip() for e in failures}
    assert set(messages) == {"celestial_objects", "users"}  # the sources fail, the rest never runs
    assert "empty.csv: no row has a positive User_ID and a date-time, so there are no users" in messages["users"]
    assert not failed.asset_materializations_for_node("simulated_interactions")
    assert snapshot(data_dir) == before

    outside = tmp_path / "outside.csv"
    february_log().assign(Timestamp="2023-06-01 10:00:00").to_csv(outside, index=False)
    failed = materialize_from(poppy(outside), FEBRUARY)
    failures = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failures and all(
        "outside.csv: no valid rows in 2024-02-01..2024-02-29 (300 rows: 300 valid outside the window, 0 quarantined)"
        in e.event_specific_data.error.message
        for e in failures
    )
    assert snapshot(data_dir) == before


def test_an_action_log_without_rows_in_the_window_changes_nothing(data_dir: Path, tmp_path: Path):
    day = DAYS[-1]
    good = tmp_path / "actions.csv"
    rows = [f"s1,u1,{day}T10:00:{second:02d}Z,scroll_down,{100 + second}" for second in range(30)]
    good.write_text("Session_ID,User_ID,Timestamp,Action,Scroll_Amount\n" + "\n".join(rows) + "\n")
    assert materialize(ALL, action_source=ActionSourceResource(path=str(good)), partition_key=str(day)).success
    before = snapshot(data_dir)
    other_day = tmp_path / "other_day.csv"
    other_day.write_text(good.read_text().replace(str(day), "2020-01-01"))
    failed = materialize(
        ALL, action_source=ActionSourceResource(path=str(other_day)), partition_key=str(day), raise_on_error=False
    )
    failures = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert {e.step_key for e in failures} == {"celestial_objects", "users"}
    assert all(f"other_day.csv: no valid rows in {day}..{day}" in e.event_specific_data.error.message for e in failures)
    assert snapshot(data_dir) == before


def test_a_pings_folder_without_usable_users_is_one_sentence(tmp_path: Path):
    folder = write_pings_folder(tmp_path / "log", events=20)
    (folder / "users.csv").write_text("user_id,signup_date\nu1,someday\n")
    with pytest.raises(SourceError, match=r"users\.csv: no valid rows \(1 rows; first: line 2: signup_date 'someday'"):
        InteractionSourceResource(path=str(folder), format="pings").log_users()
