"""CSV in and out through pyarrow (for speed: `DataFrame.to_csv` is the slow path this avoids).

Writing: strings unquoted (quoted throughout when a value needs it), nulls as empty fields, timestamps as
`YYYY-MM-DD HH:MM:SS[.fff]`, dates as `YYYY-MM-DD`. Reading (`read_stored`) gives back the same
frame, each column parsed as its declared type (`schemas.py`): integer columns with empty fields
come back as nullable `Int64`, not floats, and text is never read as missing unless its column is
nullable and the field is empty. `read_csv`, which infers the types, is for tests and benchmarks.
"""

from __future__ import annotations

import csv
import io
import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv

from poppy_pipeline.common.schemas import SchemaError, TableSchema
from poppy_pipeline.common.threads import usable_cores

# Object columns get their Arrow type from the values of each CHUNK_ROWS rows (as always); the
# CSV text is made PIECE_ROWS rows at a time, by every core.
CHUNK_ROWS = 500_000
PIECE_ROWS = 100_000
MAX_WRITER_THREADS = 4
READ_CONVERT = pa_csv.ConvertOptions(strings_can_be_null=True)
# `read_table` infers the column types from this much of the file (pyarrow's default block).
SAMPLE_BYTES = 1 << 20
Quoting = Literal["needed", "all_valid", "none"]  # pyarrow's quoting styles


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    return _with_labels(pa.Table.from_pandas(frame, preserve_index=False))


def _with_labels(table: pa.Table) -> pa.Table:
    """Categorical (dictionary) columns as their labels, which is what the CSV holds."""
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_csv(frame: pd.DataFrame, sink: str | os.PathLike[str] | BinaryIO) -> None:
    """Plain CSV like pandas writes it; if any value holds a comma, quote or newline, every
    string is quoted instead (pyarrow has no per-value minimal quoting).

    Rows are formatted in chunks on every core (pyarrow releases the GIL) and written in order,
    so memory stays near the frame's own size plus a few chunks.
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
            _write_chunks(frame, sink, "none")
            return
        except pa.ArrowInvalid:  # a value holds a comma, quote or newline
            sink.seek(start)
            sink.truncate()
    _write_chunks(frame, sink, "needed", header=True)


def _write_chunks(frame: pd.DataFrame, sink: BinaryIO, quoting: Quoting, header: bool = False) -> None:
    """Pieces of rows formatted in a thread pool, written in order as soon as each is ready."""
    first_options = pa_csv.WriteOptions(include_header=header, quoting_style=quoting)
    if frame.shape[0] <= PIECE_ROWS:  # one piece: no pool
        sink.write(_csv_bytes(next(_arrow_chunks(frame)), first_options))
        return
    options = pa_csv.WriteOptions(include_header=False, quoting_style=quoting)
    threads = min(MAX_WRITER_THREADS, usable_cores())  # a process pinned to one core formats on one
    pieces = (
        chunk.slice(start, PIECE_ROWS)
        for chunk in _arrow_chunks(frame)
        for start in range(0, chunk.num_rows, PIECE_ROWS)
    )
    with ThreadPoolExecutor(threads) as pool:
        pending = deque([pool.submit(_csv_bytes, next(pieces), first_options)])
        for piece in pieces:
            pending.append(pool.submit(_csv_bytes, piece, options))
            if len(pending) > 2 * threads:  # a bounded queue: memory of a few pieces
                sink.write(pending.popleft().result())
        while pending:
            sink.write(pending.popleft().result())


def _arrow_chunks(frame: pd.DataFrame) -> Iterator[pa.Table]:
    """The frame as Arrow tables of `CHUNK_ROWS` rows (at least one, maybe empty).

    Columns whose dtype fixes their Arrow type (numbers, nullable integers, categoricals,
    timestamps, strings) are converted once, mostly without copying; `object` columns chunk by
    chunk, each chunk's type inferred from its own values, as the writer always did.
    """
    inferred = [i for i, dtype in enumerate(frame.dtypes) if pd.api.types.is_object_dtype(dtype)]
    typed = sorted(set(range(frame.shape[1])) - set(inferred))
    whole = pa.Table.from_pandas(frame.iloc[:, typed], preserve_index=False)
    for first in range(0, max(len(frame), 1), CHUNK_ROWS):
        if not inferred:
            yield whole.slice(first, CHUNK_ROWS)
            continue
        part = pa.Table.from_pandas(frame.iloc[first : first + CHUNK_ROWS, inferred], preserve_index=False)
        fixed = whole.slice(first, CHUNK_ROWS)
        by_position = dict(zip(typed, zip(fixed.column_names, fixed.columns, strict=True), strict=True))
        by_position |= dict(zip(inferred, zip(part.column_names, part.columns, strict=True), strict=True))
        names, columns = zip(*(by_position[i] for i in range(frame.shape[1])), strict=True)
        yield pa.Table.from_arrays(list(columns), names=list(names))


def _csv_bytes(table: pa.Table, options: pa_csv.WriteOptions) -> pa.Buffer:
    out = pa.BufferOutputStream()
    pa_csv.write_csv(_with_labels(table), out, write_options=options)
    return out.getvalue()


def _needs_quotes(text: str) -> bool:
    return any(c in text for c in ',"\n\r')


def read_stored(
    source: str | os.PathLike[str] | BinaryIO, schema: TableSchema, recorded: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """A table this project wrote, each column parsed as `schema` declares (and `recorded` says, for
    the columns whose concrete type is not the default): never inferred from the values."""
    return table_to_frame(read_stored_table(source, schema, recorded))


def read_stored_table(
    source: str | os.PathLike[str] | BinaryIO, schema: TableSchema, recorded: Mapping[str, str] | None = None
) -> pa.Table:
    target = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    header, quoted = _stored_header(target)
    convert = _typed_options(schema, header, recorded)
    parse = pa_csv.ParseOptions(newlines_in_values=quoted)
    try:
        table = pa_csv.read_csv(target, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as error:
        raise SchemaError(f"{schema.table}: a value does not have its column's declared type ({error})") from None
    return _empty_as_missing(table, schema.nullable_text(header))


def read_stored_batches(
    source: str | os.PathLike[str] | BinaryIO,
    schema: TableSchema,
    columns: list[str],
    recorded: Mapping[str, str] | None = None,
) -> Iterator[pd.DataFrame]:
    """`columns` of a stored table, a block of rows at a time (memory of one block, not of the file)."""
    target = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    header, quoted = _stored_header(target)
    convert = _typed_options(schema, header, recorded, columns)
    parse = pa_csv.ParseOptions(newlines_in_values=quoted)
    nullable = [name for name in schema.nullable_text(header) if name in columns]
    with pa_csv.open_csv(target, parse_options=parse, convert_options=convert) as reader:
        for batch in reader:
            yield table_to_frame(_empty_as_missing(pa.Table.from_batches([batch]), nullable))


def _typed_options(
    schema: TableSchema, header: list[str], recorded: Mapping[str, str] | None, columns: list[str] | None = None
) -> pa_csv.ConvertOptions:
    """Every column's declared type; an empty field is missing in every column but text (`""` there)."""
    return pa_csv.ConvertOptions(
        column_types=schema.arrow_types(header, recorded),
        null_values=[""],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        include_columns=columns or [],
    )


def _stored_header(target: str | BinaryIO) -> tuple[list[str], bool]:
    """The column names, and whether the writer quoted the file (then values may hold line breaks)."""
    if isinstance(target, str):
        with open(target, "rb") as handle:
            line = handle.readline()
    else:
        start = target.tell()
        line = target.readline()
        target.seek(start)
    text = line.decode("utf-8").rstrip("\r\n")
    return next(csv.reader(io.StringIO(text)), []), text.startswith('"')


def _empty_as_missing(table: pa.Table, nullable: list[str]) -> pa.Table:
    """Empty fields of nullable text columns as missing (written from a missing value)."""
    for name in nullable:
        index = table.column_names.index(name)
        column = table.column(index)
        if pa.types.is_string(column.type):
            table = table.set_column(
                index, name, pa_compute.if_else(pa_compute.equal(column, pa.scalar("")), None, column)
            )
    return table


def read_csv(source: str | os.PathLike[str] | BinaryIO) -> pd.DataFrame:
    """The CSV as a frame, each column of the type pyarrow infers from the whole file (tests and
    benchmarks only: the pipeline reads its tables with their declared types, `read_stored`)."""
    return table_to_frame(read_table(source))


def read_table(source: str | os.PathLike[str] | BinaryIO) -> pa.Table:
    """`pa_csv.read_csv` with type inference, about 3x faster on large files.

    Inferring costs more than reading: pyarrow tries type after type (null, integer, float, dates,
    timestamps, text) on every block. The types inferred from the first `SAMPLE_BYTES` are given
    to the whole read instead. They are the whole file's: inference takes the first type of that
    sequence that holds every value, and the sample already rules out the types before; if a
    later value does not fit, the read fails and the file is read again with full inference, so
    the table, and any error, are what pyarrow's inference gives.
    """
    target = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    start = _position(target)
    if start is not None:
        try:
            types = _sampled_types(target)
            _seek(target, start)
            options = pa_csv.ConvertOptions(strings_can_be_null=True, column_types=types)
            return pa_csv.read_csv(target, convert_options=options)
        except pa.ArrowInvalid:  # a value the sample's types do not hold, or a broken file
            _seek(target, start)
    return pa_csv.read_csv(target, convert_options=READ_CONVERT)


def _sampled_types(target: str | BinaryIO) -> dict[str, pa.DataType]:
    read = pa_csv.ReadOptions(block_size=SAMPLE_BYTES)
    with pa_csv.open_csv(target, read_options=read, convert_options=READ_CONVERT) as reader:
        schema = reader.schema
    if len(set(schema.names)) != len(schema.names):  # types by name would be ambiguous
        raise pa.ArrowInvalid("duplicate column names")
    return dict(zip(schema.names, schema.types, strict=True))


def _position(target: str | BinaryIO) -> int | None:
    """Where a re-readable source starts (None for a stream that cannot be read twice)."""
    if isinstance(target, str):
        return 0
    return target.tell() if target.seekable() else None


def _seek(target: str | BinaryIO, position: int) -> None:
    if not isinstance(target, str):
        target.seek(position)


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_integer(column.type) and column.null_count:
            # pyarrow-stubs refuse a Python fill value, which pyarrow converts to a scalar of the column's type.
            values = column.fill_null(0).to_numpy().astype("int64")  # type: ignore[arg-type]
            mask = column.is_null().to_numpy(zero_copy_only=False)
            frame[name] = pd.arrays.IntegerArray(values, mask)
        elif pa.types.is_null(column.type):  # a column that is empty in every row
            frame[name] = pd.array([None] * len(frame), dtype="object")
    return frame
