"""The `csv` source format: any interaction log with a YAML mapping file."""

from pathlib import Path

import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.sources.csv_log import catalog_from_log, check_csv_log, read_mapping
from poppy_pipeline.sources.raw_csv import SourceError
from poppy_pipeline_tests.assets.test_real_logs import FEBRUARY, materialize_from
from poppy_pipeline_tests.support.movielens import write_movielens


def test_movielens_u_data_loads_with_its_mapping(tmp_path: Path):
    data, mapping_path = write_movielens(tmp_path, users=40, movies=100)
    raw = pd.read_csv(data, sep="\t", header=None, names=["user", "item", "rating", "time"])
    checked = check_csv_log(data, read_mapping(mapping_path))
    assert checked.rejected.empty and len(checked.valid) == len(raw)
    valid = checked.valid
    assert set(valid["Interaction_Type"]) == {"Rate"}
    assert valid["Interaction_Rating"].tolist() == raw["rating"].tolist()
    assert valid["User_ID"].dtype == "int64" and valid["Object_ID"].tolist() == raw["item"].tolist()
    expected = pd.to_datetime(raw["time"], unit="s")
    assert (valid["Timestamp"].to_numpy() == expected.to_numpy()).all()
    assert valid["Interaction_ID"].tolist() == list(range(1, len(raw) + 1))  # line numbers, no header
    catalog = catalog_from_log(data, read_mapping(mapping_path))
    assert len(catalog) == raw["item"].nunique() and set(catalog["Object_Type"]) == {"Star"}


def test_bad_rows_are_quarantined_with_line_and_column(tmp_path: Path):
    data, mapping_path = write_movielens(tmp_path, users=10, movies=50)
    lines = data.read_text().splitlines()
    lines[2] = "3\t7\t9\t1706800000"  # rating 9
    lines[4] = "3\t7\t4\tyesterday"  # not a Unix time
    lines[5] = "3\t7"  # too few fields
    lines[6] = "\t7\t4\t1706800000"  # no user
    data.write_text("\n".join(lines) + "\n")
    checked = check_csv_log(data, read_mapping(mapping_path))
    assert len(checked.valid) + len(checked.rejected) == checked.input_rows == len(lines)
    reasons = checked.rejected["reason"].tolist()
    assert reasons[0] == "line 3: rating '9' is not a whole rating 1-5"
    assert reasons[1] == "line 5: time 'yesterday' is not a Unix time in seconds"
    assert reasons[2].startswith("line 6: has 2 field(s) where the header has 4")
    assert reasons[3] == "line 7: user '' is empty"


def test_event_type_and_object_type_columns_with_iso_times(tmp_path: Path):
    log = tmp_path / "events.csv"
    log.write_text(
        "who;what;kind;action;when;stars\n"
        "a;1;Planet;open;2024-02-01T10:00:00+01:00;\n"
        "b;2;Moon;rated;2024-02-01 12:00:00;4\n"
        "a;2;Moon;shared;2024-02-02 12:00:00;\n"
        "b;1;Planet;rated;2024-02-03 12:00:00;\n"
    )
    mapping = tmp_path / "events.yaml"
    mapping.write_text(
        "delimiter: ';'\nuser: who\nitem: what\ntimestamp: when\nrating: stars\n"
        "object_type: {column: kind}\nevent_type: {column: action, map: {open: View, rated: Rate}}\n"
    )
    checked = check_csv_log(log, read_mapping(mapping), zone="Europe/Paris")
    assert checked.valid["User_ID"].tolist() == ["a", "b"]  # IDs stay text when not all whole numbers
    assert checked.valid["Timestamp"].astype(str).tolist() == ["2024-02-01 09:00:00", "2024-02-01 11:00:00"]
    assert checked.valid["Interaction_Type"].tolist() == ["View", "Rate"]
    assert checked.rejected["reason"].tolist() == [
        "line 4: action 'shared' is not in the mapping's event types (open, rated)",
        "line 5: stars '' is not a whole rating 1-5",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("user: u\nitem: i\n", "needs `timestamp: <column name>`"),
        ("user: u\nitem: i\ntimestamp: t\ncolour: red\n", "unknown key(s) ['colour']"),
        ("user: u\nitem: i\ntimestamp: t\nevent_type: Like\n", "event_type 'Like' is not one of"),
        ("user: u\nitem: i\ntimestamp: t\nheader: false\n", "header: false needs `columns"),
    ],
)
def test_a_bad_mapping_is_one_sentence(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(SourceError, match=r"m\.yaml: ") as error:
        read_mapping(path)
    assert problem in str(error.value)


def test_csv_log_end_to_end(data_dir: Path, tmp_path: Path):
    data, mapping = write_movielens(tmp_path / "ml", users=30, movies=80)
    source = InteractionSourceResource(path=str(data), format="csv", mapping=str(mapping))
    result = materialize_from(source, FEBRUARY)
    assert result.success
    events = pd.read_csv(data, sep="\t", header=None, names=["user", "item", "rating", "time"])
    in_february = pd.to_datetime(events["time"], unit="s") < pd.Timestamp("2024-03-01")
    scores = tables.read_csv(data_dir / "engagement_scores.csv")
    assert scores["n_events"].sum() == in_february.sum()
    objects = tables.read_csv(data_dir / "celestial_objects.csv")
    assert len(objects) == events["item"].nunique()
