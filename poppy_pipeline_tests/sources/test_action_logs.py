"""Real action logs: valid rows in session_actions' columns, the rest quarantined with a reason."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour.model import ACTION_COLUMNS
from poppy_pipeline.behaviour.windows import extract_windows
from poppy_pipeline.sources.action_logs import ActionLogError, read_action_log, split_actions_by_day

HEADER = "Session_ID,User_ID,Timestamp,Action,Scroll_Amount,Page\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "actions.csv"
    path.write_text(header + body)
    return path


def test_valid_rows_become_session_actions(tmp_path: Path):
    log = read_action_log(
        write(
            tmp_path,
            "7,3,2026-11-21T10:00:00.123456Z,focus_window,,/a\n"
            "7,3,2026-11-21 10:00:01.5,scroll_up,-120,/a\n"
            "8,4,2026-11-22T00:30:00+01:00,hover,,/b\n",
        )
    )
    assert log.rejected.empty and log.input_rows == 3
    valid = log.valid
    assert valid.columns.tolist() == ACTION_COLUMNS
    assert valid["Session_ID"].dtype == np.int64 and valid["User_ID"].tolist() == [3, 3, 4]
    stamps = valid["Timestamp"].to_numpy().astype("datetime64[ms]")
    expected = np.array(["2026-11-21T10:00:00.123", "2026-11-21T10:00:01.500", "2026-11-21T23:30:00"], "datetime64[ms]")
    assert (stamps == expected).all()  # to the millisecond, in UTC
    assert valid["Scroll_Amount"].tolist() == [0.0, 120.0, 0.0]  # empty is 0, a negative delta its magnitude


def test_bad_rows_are_quarantined_naming_line_and_column(tmp_path: Path):
    log = read_action_log(
        write(
            tmp_path,
            "s1,u1,2026-11-21T10:00:00,focus_window,,/a\n"
            "s1,u1,soon,click,,/a\n"
            "s1,u1,2026-11-21T10:00:02,teleport,,/a\n"
            "s1,u2,2026-11-21T10:00:03,click,,/a\n"
            "s1,u1,2026-11-21T10:00:04,scroll_down,lots,/a\n"
            ",u1,2026-11-21T10:00:05,click,,/a\n"
            "s2,u9,2026-11-21T10:00:06,click,,/b\n",
        )
    )
    assert log.valid["Session_ID"].tolist() == ["s1", "s2"]  # text IDs stay text
    assert log.rejected.columns.tolist() == [*ACTION_COLUMNS, "Page", "reason"]
    assert log.rejected["reason"].tolist() == [
        "line 3: Timestamp 'soon' is not an ISO 8601 date-time",
        "line 4: Action 'teleport' is not one of scroll_down, scroll_up, click, hover, wait, focus_window,"
        " blur_window, close_tab, click_ad",
        "line 5: User_ID 'u2' differs from the user of the session's first row",
        "line 6: Scroll_Amount 'lots' is not a number",
        "line 7: Session_ID '' is empty",
    ]
    assert len(log.valid) + len(log.rejected) == log.input_rows == 7


def test_missing_file_and_missing_column_are_named(tmp_path: Path):
    with pytest.raises(ActionLogError, match=r"nowhere\.csv: file not found"):
        read_action_log(tmp_path / "nowhere.csv")
    path = write(tmp_path, "1,2,2026-11-21T10:00:00,click\n", header="Session_ID,User_ID,Timestamp,Action\n")
    with pytest.raises(ActionLogError, match=r"actions\.csv line 1: missing column\(s\) Scroll_Amount"):
        read_action_log(path)


def test_days_are_split_by_timestamp(tmp_path: Path):
    body = "".join(f"1,1,2026-11-{day}T{hour:02d}:00:00,click,,/\n" for day in (20, 21, 22) for hour in (23, 1))
    log = read_action_log(write(tmp_path, body))
    split = split_actions_by_day(log, ["2026-11-21", "2026-11-23"])
    days = split.days
    assert len(days["2026-11-21"]) == 2 and days["2026-11-23"].empty and split.outside == 4
    assert days["2026-11-21"]["Timestamp"].is_monotonic_increasing


def test_a_log_feeds_the_window_extractor(tmp_path: Path):
    body = "".join(f"s,u,2026-11-21T10:00:{second:02d}.250Z,scroll_down,{50 + second},/\n" for second in range(30))
    log = read_action_log(write(tmp_path, body + "s,u,2026-11-21T10:00:35Z,click_ad,,/\n"))
    windows = extract_windows(log.valid)
    assert windows["Window_End"].tolist() == [
        pd.Timestamp("2026-11-21 10:00:10.250"),
        pd.Timestamp("2026-11-21 10:00:20.250"),
        pd.Timestamp("2026-11-21 10:00:30.250"),
    ]
    assert windows["Label"].tolist() == [0, 0, 1]
