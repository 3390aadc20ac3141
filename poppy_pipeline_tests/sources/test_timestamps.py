"""ISO 8601 date-times: every form parses to its value, partial or impossible ones are refused, and a
log's last line cut short is never kept as another time."""

import tempfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from poppy_pipeline.sources.log_files import check_poppy_log, read_poppy_log, users_from_poppy_log
from poppy_pipeline.sources.rows import utc_timestamps
from poppy_pipeline.sources.timestamps import BLOCK, parse_iso8601
from poppy_pipeline_tests.sources.test_log_properties import OBJECTS
from poppy_pipeline_tests.support.log_strategies import log_settings

FORMS = {
    "2025-11-02 10:00:00": "2025-11-02 10:00:00",
    "2025-11-02T10:00:00": "2025-11-02 10:00:00",
    "2025-11-02t10:00:00.5": "2025-11-02 10:00:00.500000",
    "2025-11-02T10Z": "2025-11-02 10:00:00",
    "2025-11-02T10:30z": "2025-11-02 10:30:00",
    "2025-11-02 10:00:00+0": "2025-11-02 10:00:00",
    "2025-11-02 10:00:00+00": "2025-11-02 10:00:00",
    "2025-11-02 10:00:00+0000": "2025-11-02 10:00:00",
    "2025-11-02 10:00:00+00:00": "2025-11-02 10:00:00",
    "2025-11-02 10:00:00 -05:30": "2025-11-02 15:30:00",
    "2025-11-02T10:00:00,123456789+01": "2025-11-02 09:00:00.123456",
    "20251102T104000Z": "2025-11-02 10:40:00",
    "20251102T1040": "2025-11-02 10:40:00",
    "0001-01-01 00:00:00": "0001-01-01 00:00:00",
    "9999-12-31 23:59:59.999999": "9999-12-31 23:59:59.999999",
    "2024-02-29 12:00:00": "2024-02-29 12:00:00",
}
REFUSED = ["2025-11", "2025-11-04 21:4", "2025-11-04", "2025-11-0", "2026-11-01 25:00:00", "2023-02-29 10:00:00",
           "0000-00-00 00:00:00", "yesterday", "", "10:00:00", "2025-11-02T", "2025-11-02 10:00:00+24",
           "9999-12-31 23:59:59-01", "0001-01-01 00:30:00+01", "2025-11-02 10:00:60", "2025-W44-7"]  # fmt: skip


def test_every_form_parses_to_its_value_and_partial_ones_are_refused():
    values = pd.Series([*FORMS, *REFUSED], dtype=object)
    stamps, _ = utc_timestamps(values)
    assert stamps[: len(FORMS)].tolist() == [pd.Timestamp(value) for value in FORMS.values()]
    assert stamps[len(FORMS) :].isna().all()
    assert stamps.dtype == "datetime64[us]"


def test_a_date_alone_is_a_date_where_dates_belong():
    stamps, _ = utc_timestamps(pd.Series(["2024-01-05", "2024-01-05T10:00Z", "2024-1-5"]), dates_allowed=True)
    assert stamps[:2].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-05 10:00")] and pd.isna(stamps[2])


def test_a_block_refused_by_arrow_is_parsed_value_by_value():
    values = ["2024-01-01 10:00:00"] * (BLOCK + 5) + ["2024-02-30 10:00:00", "2024-03-01 10:00:00"]
    parsed = parse_iso8601(pa.array(values))
    assert parsed.valid.sum() == len(values) - 1 and not parsed.valid[BLOCK + 5]


@st.composite
def one_writers_log(draw: st.DrawFn) -> tuple[list[str], int]:
    """A log whose timestamps one program wrote (one form), and where its last line is cut."""
    form = draw(
        st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S+05:30", "%Y-%m-%dT%H:%MZ"])
    )
    moments = draw(st.lists(st.datetimes(datetime(2025, 1, 1), datetime(2025, 12, 31)), min_size=2, max_size=12))
    stamps = [m.strftime(form) for m in moments]
    return stamps, draw(st.integers(1, len(stamps[-1])))


@log_settings
@given(one_writers_log())
def test_a_last_line_cut_short_is_never_kept_as_another_time(log):
    stamps, keep = log
    header = "Interaction_ID,User_ID,Object_Type,Object_ID,Interaction_Type,Interaction_Rating,Timestamp\n"
    lines = [f"{i + 1},3,Star,1,View,,{stamp}" for i, stamp in enumerate(stamps)]
    cut = lines[-1][: len(lines[-1]) - len(stamps[-1]) + keep]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.csv"
        path.write_text(header + "\n".join([*lines[:-1], cut]))  # no line break after the cut
        raw = read_poppy_log(path)
        checked = check_poppy_log(path, raw, OBJECTS, users_from_poppy_log(raw))
    whole, _ = utc_timestamps(pd.Series([stamps[-1]]))
    last = checked.valid[checked.valid["Interaction_ID"] == len(stamps)]
    if len(last):  # kept only as the time written in full
        assert last["Timestamp"].iloc[0] == whole[0]
    assert len(checked.valid) + len(checked.rejected) == len(stamps)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_naive_values_are_read_in_the_zone_and_offsets_win(zone: str):
    stamps, skipped = utc_timestamps(pd.Series(["2025-07-01 12:00:00", "2025-07-01 12:00:00Z"]), zone)
    local = "2025-07-01 10:00:00" if zone == "Europe/Paris" else "2025-07-01 12:00:00"
    assert stamps.astype(str).tolist() == [local, "2025-07-01 12:00:00"] and not skipped.any()
