"""Reading an input CSV as text, with the physical line of every record.

Nothing is coerced here: every value is the string the file holds, so a bad value can be shown
as written. A record with the wrong number of fields (a stray comma or quote, a truncated line)
does not stop the read: it keeps its line and a problem, and the row rules quarantine it. What
makes the whole file unusable (missing, empty, not UTF-8, a missing or repeated column) is a
`SourceError` whose one-sentence message names the file, the line and the column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

NEWLINE = ord("\n")


class SourceError(ValueError):
    """An input that cannot be read at all; the message is one sentence naming file, line and column."""

    def __init__(self, source: str | Path, problem: str, line: int | None = None, column: str | None = None):
        self.source, self.problem, self.line, self.column = str(source), problem, line, column
        where = "".join(
            [f" line {line}" if line is not None else "", f", column {column}" if column is not None else ""]
        )
        super().__init__(f"{source}{where}: {problem}")


@dataclass
class RawRows:
    """An input's records as strings, each with where it came from and any problem of its shape."""

    frame: pd.DataFrame  # original values, one column per header name
    lines: np.ndarray  # the physical line each record starts on (the header is line 1)
    problems: pd.Series  # a reason for records that could not be split into the header's fields, else NA

    @property
    def origin(self) -> pd.Series:
        return "line " + pd.Series(self.lines, dtype="int64").astype(str)


def read_raw_csv(path: Path, required: list[str], delimiter: str = ",", names: list[str] | None = None) -> RawRows:
    """Every record of a CSV file as text; a `SourceError` if the file cannot be used at all.

    `names`: the columns of a file without a header line (its first record is then line 1).
    """
    if not path.is_file():
        raise SourceError(path, "file not found")
    data = path.read_bytes()
    has_header = names is None
    names = _header(path, data, delimiter) if has_header else list(names)
    missing = [c for c in required if c not in names]
    if missing:
        raise SourceError(path, f"missing column(s) {', '.join(missing)} (found: {', '.join(names)})", line=1)
    shapeless: list[tuple[int, str, int]] = []  # (line, text, fields)

    def keep_aside(row) -> str:
        shapeless.append((row.number, row.text, row.actual_columns))
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=int(has_header), use_threads=False),
            # Empty lines are kept as records (and dropped below), so the reader's line numbers are physical.
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=keep_aside, newlines_in_values=True, ignore_empty_lines=False
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error):
            raise _not_utf8(path, data, names) from None
        raise SourceError(path, f"cannot be read as CSV ({str(error).splitlines()[0]})") from None
    frame = table.to_pandas()
    lines = _record_lines(data, frame, shapeless, first_line=1 + int(has_header))
    filled = ~np.isin(lines, _blank_lines(data))
    frame, lines = frame[filled].reset_index(drop=True), lines[filled]
    aside = _shapeless_frame(shapeless, names, len(frame), delimiter)
    problems = pd.Series(pd.NA, index=frame.index, dtype="object")
    if len(aside):
        frame = pd.concat([frame, aside[names]], ignore_index=True)
        problems = pd.concat([problems, aside["problem"]], ignore_index=True)
        lines = np.concatenate([lines, aside["line"].to_numpy()])
    order = np.argsort(lines, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    return RawRows(frame, lines[order], problems.iloc[order].reset_index(drop=True))


def _header(path: Path, data: bytes, delimiter: str = ",") -> list[str]:
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)]  # not split(): that would copy the whole file
    try:
        text = first.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError as error:
        raise SourceError(path, f"the header is not UTF-8 text (byte {first[error.start]:#04x})", line=1) from None
    if not text.strip():
        raise SourceError(path, "no header line (the file is empty)" if not data.strip() else "the header is empty", 1)
    names = [name.strip() for name in next(csv.reader([text], delimiter=delimiter))]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SourceError(path, "the header names this column twice", line=1, column=name)
        seen.add(name)
    return names


def _record_lines(
    data: bytes, frame: pd.DataFrame, shapeless: list[tuple[int, str, int]], first_line: int = 2
) -> np.ndarray:
    """The physical line each parsed record starts on (records set aside and values holding
    newlines move the lines after them)."""
    spans = np.ones(len(frame), dtype=np.int64)
    if b'"' in data:  # only quoted values can hold a newline
        for column in frame.columns:
            spans += frame[column].str.count("\n").to_numpy(dtype=np.int64)
    skipped = {line: text.count("\n") + 1 for line, text, _ in shapeless}
    first = first_line + np.concatenate([[0], np.cumsum(spans)[:-1]]) if len(spans) else np.zeros(0, np.int64)
    if not skipped:
        return first
    starts = np.array(sorted(skipped), dtype=np.int64)
    widths = np.array([skipped[s] for s in starts], dtype=np.int64)
    # Where each skipped line would sit in a file without the skipped lines before it.
    positions = starts - np.concatenate([[0], np.cumsum(widths)[:-1]])
    shift = np.concatenate([[0], np.cumsum(widths)])[np.searchsorted(positions, first, side="right")]
    return first + shift


def _blank_lines(data: bytes) -> np.ndarray:
    """Line numbers (1-based) of empty lines: not records (lines of spaces are set aside as well)."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == NEWLINE)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts
    blank = (lengths == 0) | ((lengths == 1) & (np.frombuffer(data, np.uint8)[starts.clip(max=len(data) - 1)] == 13))
    return np.flatnonzero(blank) + 1


def _shapeless_frame(
    shapeless: list[tuple[int, str, int]], names: list[str], offset: int, delimiter: str = ","
) -> pd.DataFrame:
    """Records with the wrong number of fields, split as well as possible, with their problem."""
    rows = []
    for line, text, fields in shapeless:  # only the malformed records, never the whole file
        if not text.strip():  # a line of spaces: blank, not a record
            continue
        values = next(csv.reader([text.replace("\0", "")], delimiter=delimiter), []) if text.strip() else []
        values = (values + [""] * len(names))[: len(names)]
        problem = f"line {line}: has {fields} field(s) where the header has {len(names)}"
        if "\n" in text:
            problem += f" (a quote opened there is not closed before line {line + text.count(chr(10))})"
        rows.append([*values, line, problem])
    frame = pd.DataFrame(rows, columns=[*names, "line", "problem"], dtype=object)
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return frame


def _not_utf8(path: Path, data: bytes, names: list[str]) -> SourceError:
    """Where the first byte that is not UTF-8 is: its line and (counting commas) its column."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        field = data.count(b",", line_start, error.start)
        column = names[field] if field < len(names) else None
        line = data.count(b"\n", 0, error.start) + 1
        return SourceError(path, f"not UTF-8 text (byte {data[error.start]:#04x}); save it as UTF-8", line, column)
    return SourceError(path, "not UTF-8 text; save it as UTF-8")
