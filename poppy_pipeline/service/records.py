"""A published engine file as the `data` of the back end's answer: a JSON array of row objects.

The old service answered with pandas' `read_csv(...).to_dict(orient="records")`, so the back end
gets numbers as numbers and its integer IDs as integers. Here each column's kind is declared
(`layers.Kind`) instead of guessed, every number is written exactly as the file writes it (no
float round trip), and an ID column that is not all plain integers stays text (pandas would have
turned `007` into 7). The array is built on whole columns with pyarrow, once per version of the file.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from poppy_pipeline.service.layers import Kind

PLAIN_INTEGER = r"^-?(0|[1-9][0-9]*)$"
JSON_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
_NULL = "null"


class PublishedFileError(ValueError):
    """A published file the service cannot answer with (one sentence naming file, line and column)."""


@dataclass(frozen=True)
class Records:
    rows: int
    json: bytes  # the JSON array, UTF-8


def read_records(content: bytes, path: Path, columns: tuple[tuple[str, Kind], ...]) -> Records:
    """The rows of `content` (the file at `path`) as a JSON array of objects keyed by its column names,
    in file order."""
    names = [name for name, _ in columns]
    table = _read_as_text(content, path)
    if table.column_names != names:
        raise PublishedFileError(f"{path}: the columns are {table.column_names}, the back end expects {names}.")
    if table.num_rows == 0:
        return Records(0, b"[]")
    # pyarrow-stubs want every part of a join to be arrays, or every one scalars; pyarrow takes a mix.
    members = [
        pc.binary_join_element_wise(_key(name), _values(path, name, kind, table[name]), "")  # type: ignore[call-overload]
        for name, kind in columns
    ]
    rows = pc.binary_join_element_wise("{", pc.binary_join_element_wise(*members, ","), "}", "")
    text = "[" + ",".join(rows.to_pylist()) + "]"
    return Records(table.num_rows, text.encode())


def _key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False) + ":"


def _read_as_text(content: bytes, path: Path) -> pa.Table:
    """Every column as its text (nothing inferred), empty fields as empty strings."""
    header = content.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    names = next(csv.reader([header]), [])
    options = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)
    try:
        buffer = pa.BufferReader(content)  # pyarrow-stubs do not list a NativeFile among read_csv's sources
        return pa_csv.read_csv(buffer, convert_options=options).combine_chunks()  # type: ignore[arg-type]
    except pa.ArrowInvalid as error:
        raise PublishedFileError(f"{path}: not a readable CSV ({_one_line(str(error))}).") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _values(path: Path, name: str, kind: Kind, column: pa.ChunkedArray) -> pa.Array:
    """The column's values as JSON text: empty fields as null."""
    values = column.combine_chunks()
    empty = pc.equal(values, pa.scalar(""))
    if kind is Kind.TEXT:
        return _strings(values, empty)
    pattern = JSON_NUMBER if kind is Kind.NUMBER else PLAIN_INTEGER
    valid = pc.or_(pc.match_substring_regex(values, pattern), empty)
    if kind is Kind.ID and not pc.all(valid).as_py():
        return _strings(values, empty)  # IDs that are not all integers stay text, as in the file
    if not pc.all(valid).as_py():
        row = pc.index(valid, False).as_py()
        expected = "a number" if kind is Kind.NUMBER else "a whole number"
        raise PublishedFileError(f"{path}: line {row + 2}, column {name}: {values[row].as_py()!r} is not {expected}.")
    return pc.if_else(empty, _NULL, values)


def _strings(values: pa.Array, empty: pa.Array) -> pa.Array:
    """JSON strings, each distinct value escaped once."""
    codes, distinct = pd.factorize(values.to_numpy(zero_copy_only=False))
    quoted = pa.array([json.dumps(value, ensure_ascii=False) for value in distinct], pa.string())
    return pc.if_else(empty, _NULL, quoted.take(codes))
