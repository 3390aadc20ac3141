"""A published file as the back end's `data`: the old service's pandas records, with declared kinds."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poppy_pipeline.common import tables
from poppy_pipeline.service.layers import LAYERS, Kind
from poppy_pipeline.service.records import PublishedFileError, read_records

PREFERENCES = (("User_ID", Kind.ID), *((name, Kind.NUMBER) for name in ["A", "Gas Giant", "Dwarf Planet"]))
LABEL = Path("Layer_3_Final_Predictions.csv")


def written(frame: pd.DataFrame, tmp_path: Path) -> bytes:
    tables.write_csv(frame, tmp_path / "file.csv")  # as the pipeline writes its files
    return (tmp_path / "file.csv").read_bytes()


@pytest.mark.parametrize("seed", range(5))
def test_the_rows_are_the_old_services_records(seed: int, tmp_path: Path):
    rng = np.random.default_rng(seed)
    users = 200
    frame = pd.DataFrame(
        {
            "User_ID": rng.choice(10**6, users, replace=False).astype(str),
            "A": rng.uniform(0, 10, users),
            "Gas Giant": rng.choice([0.0, 5.0, 10.0, 1e-7, 3.25], users),
            "Dwarf Planet": rng.exponential(1e3, users),
        }
    )
    content = written(frame, tmp_path)
    records = read_records(content, LABEL, PREFERENCES)
    expected = pd.read_csv(tmp_path / "file.csv").to_dict(orient="records")
    assert records.rows == users and json.loads(records.json) == expected


def test_layer_2_rows_keep_column_order_and_text(tmp_path: Path):
    frame = pd.DataFrame(
        {
            "Object_Type": ["Star", 'Moon "Io", of Jupiter', "Planète"],
            "Object_ID": ["7", "12", "3"],
            "total_interactions": [5, 4, 3],
            "num_views": [2, 2, 1],
            "num_clicks": [1, 1, 1],
            "num_favorites": [2, 1, 1],
            "trending_score": [100.0, 12.5, 0.25],
        }
    )
    rows = json.loads(read_records(written(frame, tmp_path), LABEL, LAYERS[2].columns).json)
    assert [list(row) for row in rows] == [frame.columns.tolist()] * 3
    assert [row["Object_Type"] for row in rows] == frame["Object_Type"].tolist()
    assert [row["Object_ID"] for row in rows] == [7, 12, 3]


@pytest.mark.parametrize("ids", [["007", "8"], ["u-17", "18"], ["1.0", "2"], ["+3", "4"]])
def test_ids_that_are_not_all_plain_integers_stay_their_text(ids: list[str], tmp_path: Path):
    frame = pd.DataFrame({"User_ID": ids, "A": [1.0, 2.0], "Gas Giant": [3.0, 4.0], "Dwarf Planet": [5.0, 6.0]})
    rows = json.loads(read_records(written(frame, tmp_path), LABEL, PREFERENCES).json)
    assert [row["User_ID"] for row in rows] == ids


def test_a_header_only_file_has_no_rows():
    records = read_records(b"User_ID,A,Gas Giant,Dwarf Planet\n", LABEL, PREFERENCES)
    assert records.rows == 0 and json.loads(records.json) == []


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (b"User_ID,A,Gas Giant,Dwarf Planet\n1,2,3,4\n2,2,nan,4\n", "line 3, column Gas Giant: 'nan' is not a number"),
        (b"User_ID,A,Gas Giant,Dwarf Planet\n1,.5,3,4\n", "line 2, column A: '.5' is not a number"),
        (b"User_ID,A,Gas Giant\n1,2,3\n", "the columns are ['User_ID', 'A', 'Gas Giant'], the back end expects"),
        (b"User_ID,A,Gas Giant,Dwarf Planet\n1,2,3\n", "not a readable CSV"),
        (b"", "not a readable CSV (Empty CSV file)"),
    ],
)
def test_a_damaged_file_is_one_sentence_naming_the_place(content: bytes, sentence: str):
    with pytest.raises(PublishedFileError) as raised:
        read_records(content, LABEL, PREFERENCES)
    assert str(raised.value).startswith(f"{LABEL}: ") and sentence in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_count_that_is_not_whole_is_refused():
    content = b"Object_Type,Object_ID,total_interactions,num_views,num_clicks,num_favorites,trending_score\n"
    content += b"Star,1,2.5,1,1,1,50\n"
    sentence = "line 2, column total_interactions: '2.5' is not a whole number"
    with pytest.raises(PublishedFileError, match=re.escape(sentence)):
        read_records(content, LABEL, LAYERS[2].columns)


ID_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.one_of(st.integers(0, 10**12).map(str), ID_TEXT), min_size=1, max_size=30, unique=True),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1e-9, 1.0, 10.0, 1e15]),
)
def test_any_ids_and_numbers_come_back_as_the_file_holds_them(ids: list[str], seed: int, scale: float):
    """IDs from the world (any text, or integers) and any finite numbers, as the pipeline writes them."""
    ids = [text for text in ids if text.strip() == text and text != ""] or ["1"]
    rng = np.random.default_rng(seed)
    numbers = {name: rng.normal(0, scale, len(ids)) for name in ["A", "Gas Giant", "Dwarf Planet"]}
    frame = pd.DataFrame({"User_ID": ids, **numbers})
    sink = io.BytesIO()
    tables.write_csv(frame, sink)
    rows = json.loads(read_records(sink.getvalue(), LABEL, PREFERENCES).json)
    plain = all(re.fullmatch(r"-?(0|[1-9][0-9]*)", text) for text in ids)
    assert [row["User_ID"] for row in rows] == ([int(text) for text in ids] if plain else ids)
    for name, values in numbers.items():
        assert [row[name] for row in rows] == values.tolist()
