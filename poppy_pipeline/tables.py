"""CSV in and out through pyarrow (for speed: `DataFrame.to_csv` is the slow path this avoids).

Writing: strings unquoted (quoted throughout when a value needs it), nulls as empty fields, timestamps as
`YYYY-MM-DD HH:MM:SS[.fff]`, dates as `YYYY-MM-DD`. Reading gives back the same frame: integer
columns with empty fields come back as nullable `Int64`, not floats.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv

PLAIN = pa_csv.WriteOptions(include_header=False, quoting_style="none")
QUOTED = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
CHUNK_ROWS = 500_000
READ_CONVERT = pa_csv.ConvertOptions(strings_can_be_null=True)


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Categorical columns are written as their labels.
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_csv(frame: pd.DataFrame, sink: str | os.PathLike | BinaryIO) -> None:
    """Plain CSV like pandas writes it; if any value holds a comma, quote or newline, every
    string is quoted instead (pyarrow has no per-value minimal quoting).

    Rows are converted and written in chunks, so memory stays near the frame's own size.
    """
    if isinstance(sink, str | os.PathLike):
        with open(os.fspath(sink), "wb") as handle:
            _write_frame(frame, handle)
    else:
        _write_frame(frame, sink)


def _write_frame(frame: pd.DataFrame, sink: BinaryIO) -> None:
    start = sink.tell()
    header = ",".join(map(str, frame.columns))
    if not _needs_quotes(header.replace(",", "")):
        try:
            # pyarrow quotes every header name, so the plain header is written here.
            sink.write((header + "\n").encode())
            _write_chunks(frame, sink, PLAIN)
            return
        except pa.ArrowInvalid:  # a value holds a comma, quote or newline
            sink.seek(start)
            sink.truncate()
    _write_chunks(frame, sink, QUOTED, header=True)


def _write_chunks(frame: pd.DataFrame, sink: BinaryIO, options: pa_csv.WriteOptions, header: bool = False) -> None:
    for first in range(0, max(len(frame), 1), CHUNK_ROWS):
        chunk = frame_to_table(frame.iloc[first : first + CHUNK_ROWS])
        chunk_options = pa_csv.WriteOptions(include_header=header and first == 0, quoting_style=options.quoting_style)
        pa_csv.write_csv(chunk, sink, write_options=chunk_options)


def _needs_quotes(text: str) -> bool:
    return any(c in text for c in ',"\n\r')


def read_csv(source: str | os.PathLike | BinaryIO) -> pd.DataFrame:
    target = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    table = pa_csv.read_csv(target, convert_options=READ_CONVERT)
    return table_to_frame(table)


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_integer(column.type) and column.null_count:
            values = pa_compute.fill_null(column, 0).to_numpy().astype("int64")
            mask = column.is_null().to_numpy(zero_copy_only=False)
            frame[name] = pd.arrays.IntegerArray(values, mask)
        elif pa.types.is_null(column.type):  # a column that is empty in every row
            frame[name] = pd.array([None] * len(frame), dtype="object")
    return frame
