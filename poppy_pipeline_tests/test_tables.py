"""tables.py: the CSV bytes, however many pieces and threads make them, and the frames read back."""

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline import tables

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
