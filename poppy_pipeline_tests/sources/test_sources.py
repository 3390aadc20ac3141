"""Reading real logs: bad rows quarantined with line and column, nothing lost, clear errors."""

from pathlib import Path

import pandas as pd
import pytest

from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources.log_files import (
    SourceError,
    check_pings_interactions,
    check_pings_objects,
    check_pings_users,
    check_poppy_log,
    read_pings_interactions,
    read_poppy_log,
    users_from_poppy_log,
)
from poppy_pipeline_tests.support.seed002 import write_pings_folder

POPPY_HEADER = "Interaction_ID,User_ID,Object_Type,Object_ID,Interaction_Type,Interaction_Rating,Timestamp\n"


def test_poppy_log_rows_are_kept_or_quarantined_with_a_reason(tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text(
        POPPY_HEADER
        + "1,10,Moon,79,View,,2025-10-27 14:24:22.944331\n"  # seed 000's own format
        + "2,6,Planet,47,Rate,4,2025-11-17 18:42:21\n"
        + "3,6,Planet,47,View,,yesterday\n"  # line 4
        + "4,6,Planet,47,Poke,,2025-11-17 18:42:21\n"  # line 5
        + "5,6,Planet,47,Rate,6,2025-11-17 18:42:21\n"  # line 6
        + "6,6,Planet,47,View,3,2025-11-17 18:42:21\n"  # line 7
        + "7,6,Planet,999,View,,2025-11-17 18:42:21\n"  # line 8
        + "2,6,Planet,47,View,,2025-11-17 18:42:21\n"  # line 9
        + "9,x,Star,1,View,,2025-11-17 18:42:21\n"  # line 10
    )
    raw = read_poppy_log(path)
    objects = build_catalog(SimulationSettings(), None).objects
    users = users_from_poppy_log(raw)
    checked = check_poppy_log(path, raw, objects, users)
    assert checked.input_rows == 9 and len(checked.valid) + len(checked.rejected) == 9
    assert checked.valid["Interaction_ID"].tolist() == [1, 2]
    assert checked.valid["Interaction_Rating"].tolist()[1] == 4
    assert checked.rejected.columns.tolist() == [*POPPY_HEADER.strip().split(","), "reason"]
    assert checked.rejected["reason"].tolist() == [
        "line 4: Timestamp 'yesterday' is not an ISO 8601 date-time",
        "line 5: Interaction_Type 'Poke' is not one of View, Click, Favorite, Rate",
        "line 6: Interaction_Rating '6' is not a whole rating 1-5",
        "line 7: Interaction_Rating '3' is given on a non-Rate event",
        "line 8: Object_ID '999' is not the ID of a Planet in the catalog",
        "line 9: Interaction_ID '2' repeats line 3",
        "line 10: User_ID 'x' is not a positive integer",
    ]
    assert users["User_ID"].tolist() == [6, 10]
    assert str(users.set_index("User_ID").loc[10, "Signup_Date"]) == "2025-10-27"  # first seen


def test_pings_rows_are_checked_against_users_and_pings(tmp_path: Path):
    folder = write_pings_folder(tmp_path / "log", events=50)
    interactions = pd.read_csv(folder / "interactions.csv")
    interactions.loc[3, "watch_time_sec"] = -4
    interactions.loc[4, "event_type"] = "superlike"
    interactions.loc[5, "user_id"] = "u999"
    interactions.loc[6, "ping_id"] = "p999"
    interactions.loc[7, "event_timestamp"] = "2024-02-30 10:00:00"
    interactions.to_csv(folder / "interactions.csv", index=False)
    users, objects = check_pings_users(folder), check_pings_objects(folder)
    path, raw = read_pings_interactions(folder)
    checked = check_pings_interactions(path, raw, objects.valid, users.valid)
    assert len(checked.valid) == 45 and checked.input_rows == 50
    assert checked.rejected["reason"].tolist() == [
        "line 5: watch_time_sec '-4' is negative",
        "line 6: event_type 'superlike' is not one of impression, view, like, comment, share, follow_creator",
        "line 7: user_id 'u999' is not in users.csv",
        "line 8: ping_id 'p999' is not in pings.csv",
        "line 9: event_timestamp '2024-02-30 10:00:00' is not an ISO 8601 date-time",
    ]
    assert checked.valid["Interaction_ID"].tolist()[:3] == [2, 3, 4]  # line numbers
    assert set(checked.valid["Object_Type"]) == {"Ping"}


def test_duplicate_users_and_pings_are_quarantined(tmp_path: Path):
    folder = write_pings_folder(tmp_path / "log", events=10)
    users = pd.read_csv(folder / "users.csv")
    pd.concat([users, users.head(1)]).to_csv(folder / "users.csv", index=False)
    pings = pd.read_csv(folder / "pings.csv")
    pings.loc[len(pings)] = [pings.loc[0, "ping_id"], "u1", "x", "y", 10, "2024-01-01"]
    pings.to_csv(folder / "pings.csv", index=False)
    checked_users, checked_pings = check_pings_users(folder), check_pings_objects(folder)
    assert checked_users.rejected["reason"].tolist() == ["line 22: user_id 'u1' repeats line 2"]
    assert checked_pings.rejected["reason"].tolist() == ["line 42: ping_id 'p1' repeats line 2"]


def test_missing_file_and_missing_column_are_named(tmp_path: Path):
    folder = write_pings_folder(tmp_path / "log", events=10)
    (folder / "pings.csv").unlink()
    with pytest.raises(SourceError, match=r"pings\.csv: file not found"):
        check_pings_objects(folder)
    interactions = pd.read_csv(folder / "interactions.csv").drop(columns="watch_time_sec")
    interactions.to_csv(folder / "interactions.csv", index=False)
    with pytest.raises(SourceError, match=r"interactions\.csv line 1: missing column\(s\) watch_time_sec"):
        read_pings_interactions(folder)
    with pytest.raises(SourceError, match="not a folder"):
        check_pings_users(tmp_path / "nowhere")
