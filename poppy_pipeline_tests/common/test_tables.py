"""tables.py: the CSV bytes, however many pieces and threads make them, and the frames read back."""

import datetime as dt
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from poppy_pipeline.common import tables

ROWS = 2_000


def sample_frame(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    seconds = np.datetime64("2026-11-21", "s") + rng.integers(0, 86_400, rows).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "Interaction_ID": np.arange(rows, dtype=np.int64) + 2026112100000001,
            "Share": np.round(rng.random(rows), 4),
            "Rating": pd.array(np.where(rng.random(rows) < 0.7, None, rng.integers(1, 6, rows)), dtype="Int64"),
            "Object_Type": pd.Categorical.from_codes(rng.integers(0, 3, rows), ["Star", "Planet", "Moon"]),
            "Device": pd.array(rng.choice(["mobile", "desktop", None], rows), dtype="str"),
            "Timestamp": seconds,
            "Timestamp_ms": seconds + rng.integers(0, 1_000, rows).astype("timedelta64[ms]"),
            "Signup_Date": [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, rows)],
            "Preferred_Type": rng.choice(np.array(["Moon", None, "Star"], dtype=object), rows),
        }
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    tables.write_csv(frame, buffer)
    return buffer.getvalue()


def with_quotes() -> pd.DataFrame:
    quoted = sample_frame()
    quoted.loc[ROWS - 3, "Preferred_Type"] = 'a "quoted", late value'  # in the last piece
    return quoted


def object_types_by_chunk() -> pd.DataFrame:
    mixed = sample_frame()  # an object column whose type each chunk infers for itself
    mixed["Mixed"] = [None] * (ROWS // 2) + list(range(ROWS // 2))
    return mixed


@pytest.mark.parametrize(
    "make", [sample_frame, with_quotes, object_types_by_chunk, lambda: sample_frame().iloc[:0], lambda: sample_frame(1)]
)
def test_pieces_made_in_threads_give_the_bytes_of_one_piece(make, monkeypatch: pytest.MonkeyPatch):
    frame = make()
    monkeypatch.setattr(tables, "CHUNK_ROWS", 10**9)
    monkeypatch.setattr(tables, "PIECE_ROWS", 10**9)
    whole = csv_bytes(frame)
    monkeypatch.setattr(tables, "PIECE_ROWS", 97)  # 21 pieces, out of step with the chunks
    monkeypatch.setattr(tables, "CHUNK_ROWS", ROWS // 2)
    monkeypatch.setattr(tables, "usable_cores", lambda: 3)
    assert csv_bytes(frame) == whole
    assert whole.count(b"\n") == len(frame) + 1


def test_plain_frames_are_written_as_pandas_writes_them(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tables, "PIECE_ROWS", 150)
    frame = sample_frame().drop(columns=["Timestamp_ms"])
    expected = frame.to_csv(index=False, lineterminator="\n").encode()
    assert csv_bytes(frame) == expected


def test_a_value_needing_quotes_quotes_every_string():
    text = csv_bytes(with_quotes()).decode()
    assert text.splitlines()[0].startswith('"Interaction_ID","Share"')
    assert '"a ""quoted"", late value"' in text and ',"Star",' in text


def test_read_back_gives_the_same_values(tmp_path):
    frame = sample_frame()
    tables.write_csv(frame, tmp_path / "frame.csv")
    back = tables.read_csv(tmp_path / "frame.csv")
    expected = frame.assign(Object_Type=frame["Object_Type"].astype(str))
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert back["Rating"].dtype == "Int64" and back["Timestamp"].dtype.kind == "M"


def inferred(text: bytes):
    """What pyarrow's own inference over the whole file gives: the table, or the error's message."""
    try:
        return pa_csv.read_csv(io.BytesIO(text), convert_options=tables.READ_CONVERT)
    except pa.ArrowInvalid as error:
        return str(error)


def read_by_sample(text: bytes):
    try:
        return tables.read_table(io.BytesIO(text))
    except pa.ArrowInvalid as error:
        return str(error)


def late_rows(first: str, late: str, rows: int = 400) -> bytes:
    """A CSV whose rows after the sample (`SAMPLE_BYTES`, made small) differ from the first ones."""
    lines = ["ID,Value,Note,When"] + [f"{i},{first},n{i},2026-11-21 00:00:0{i % 10}" for i in range(rows)]
    lines += [f"{rows},{late},,2026-11-21 00:00:01.5", ""]
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    "text",
    [
        late_rows("1", "2.5"),  # integers, then a float: the whole column is float
        late_rows("1", "x"),  # integers, then text
        late_rows("", "7"),  # empty in the sample (null type), then a value
        late_rows("", ""),  # empty everywhere
        late_rows('"a, ""quoted""\nvalue"', ""),  # quoted text with a comma, a quote and a newline
        late_rows("1", "2,3"),  # a row with a field too many, after the sample
        b"A,B\n1,2\n3\n",  # a row with a field missing
        b"A,A\n1,x\n2,3\n",  # the same name twice
        b"A,B\n",  # a header only
        b"",  # nothing at all
    ],
)
def test_types_from_a_sample_give_what_inference_gives(text: bytes, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tables, "SAMPLE_BYTES", 256)
    expected = inferred(text)
    got = read_by_sample(text)
    if isinstance(expected, str):
        assert got == expected  # the same error, naming the row and column
    else:
        assert got.equals(expected), (got.schema, expected.schema)


def test_a_stream_read_once_is_read_with_full_inference(monkeypatch: pytest.MonkeyPatch):
    class OneWay(io.BytesIO):
        def seekable(self) -> bool:
            return False

        def seek(self, *args):
            raise io.UnsupportedOperation("seek")

        def tell(self):
            raise io.UnsupportedOperation("tell")

    text = late_rows("1", "2.5")
    monkeypatch.setattr(tables, "SAMPLE_BYTES", 256)
    assert tables.read_table(OneWay(text)).equals(inferred(text))


def test_a_file_read_by_sample_is_the_frame_of_full_inference(tmp_path, monkeypatch: pytest.MonkeyPatch):
    frame = sample_frame()
    tables.write_csv(frame, tmp_path / "frame.csv")
    monkeypatch.setattr(tables, "SAMPLE_BYTES", 1_000)  # a sample of a few rows: Rating empty in some
    expected = tables.table_to_frame(pa_csv.read_csv(tmp_path / "frame.csv", convert_options=tables.READ_CONVERT))
    pd.testing.assert_frame_equal(tables.read_csv(tmp_path / "frame.csv"), expected)
