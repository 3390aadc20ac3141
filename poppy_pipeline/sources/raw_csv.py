"""Reading an input CSV as text, with the physical line of every record.

Nothing is coerced here: every value is the string the file holds, so a bad value can be shown
as written. A record with the wrong number of fields (a stray comma or quote, a truncated line)
does not stop the read: it keeps its line and a problem, and the row rules quarantine it. What
makes the whole file unusable (missing, empty, not UTF-8, a missing or repeated column) is a
`SourceError` whose one-sentence message names the file, the line and the column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

NEWLINE = ord("\n")
# A record longer than this is not an interaction (a runaway quote, a binary blob): it is quarantined.
MAX_RECORD_BYTES = 1 << 20
PYARROW_BLOCK = 1 << 20
# Column names a "missing column" error may repeat: short names, not arbitrary text from the file.
NAME_PATTERN = re.compile(r"^\w[\w .()/-]{0,39}$")
NAMES_SHOWN = 5


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
    unended_line: int | None = None  # the last record's line, when the file ends without a line break

    @property
    def origin(self) -> pd.Series:
        return "line " + pd.Series(self.lines, dtype="int64").astype(str)


def read_raw_csv(
    path: Path,
    required: list[str],
    delimiter: str = ",",
    names: list[str] | None = None,
    read: Callable[[Path], bytes] = Path.read_bytes,
) -> RawRows:
    """Every record of a CSV file as text; a `SourceError` if the file cannot be used at all.

    `names`: the columns of a file without a header line (its first record is then line 1).
    `read`: how the file's bytes are read (a run's `SourceSnapshot.read`, which refuses a changed file).
    """
    if not path.is_file():
        raise SourceError(path, "file not found")
    data = read(path)
    if not data.isascii():  # checked first: pyarrow's handler of malformed rows cannot report bad bytes
        _require_utf8(path, data, delimiter)
    has_header = names is None
    names = _header(path, data, delimiter) if names is None else list(names)
    line_lengths = _line_lengths(data)
    shapeless: list[tuple[int, str, int]] = []  # (line, text, fields)
    table = _parse(path, data, names, has_header, delimiter, shapeless, int(line_lengths.max(initial=0)))
    missing = [c for c in required if c not in names]
    if missing:  # named only now that the file parsed as CSV, and never as raw text from it
        raise SourceError(path, f"missing column(s) {', '.join(missing)} ({_found(names)})", line=1)
    frame = table.to_pandas()
    lines = _record_lines(data, frame, shapeless, first_line=1 + int(has_header))
    filled = line_lengths[lines - 1] > 0 if len(lines) else np.zeros(0, bool)
    filled &= ~((line_lengths[lines - 1] == 1) & _ends_with_cr(data, lines, line_lengths))
    frame, lines = frame[filled].reset_index(drop=True), lines[filled]
    aside = _shapeless_frame(shapeless, names, len(frame), delimiter)
    problems = pd.Series(pd.NA, index=frame.index, dtype="object")
    too_long = line_lengths[lines - 1] > MAX_RECORD_BYTES
    if too_long.any():
        sizes = pd.Series(line_lengths[lines - 1], index=frame.index)[too_long]
        origin = "line " + pd.Series(lines, index=frame.index)[too_long].astype(str)
        problems[too_long] = (
            origin
            + ": is "
            + sizes.map("{:,}".format)
            + f" bytes long, more than a record may be ({MAX_RECORD_BYTES:,})"
        )
    if len(aside):
        frame = pd.concat([frame, aside[names]], ignore_index=True)
        problems = pd.concat([problems, aside["problem"]], ignore_index=True)
        lines = np.concatenate([lines, aside["line"].to_numpy()])
    order = np.argsort(lines, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    return RawRows(frame, lines[order], problems.iloc[order].reset_index(drop=True), _unended_line(data, lines))


def _unended_line(data: bytes, lines: np.ndarray) -> int | None:
    """The last record's line when the file's last line has text and no line break after it."""
    last_break = data.rfind(b"\n")
    if not len(lines) or not data[last_break + 1 :].strip():
        return None
    return int(lines.max())


def _parse(
    path: Path,
    data: bytes,
    names: list[str],
    has_header: bool,
    delimiter: str,
    shapeless: list[tuple[int, str, int]],
    longest_line: int,
) -> pa.Table:
    """The records as string columns; those with the wrong number of fields go to `shapeless`."""

    def keep_aside(row: pa_csv.InvalidRow) -> Literal["skip"]:
        if row.number is None:  # known when parsing on one thread, as here
            raise SourceError(path, f"pyarrow gave no line number for the malformed record {row.text!r}")
        shapeless.append((row.number, row.text, row.actual_columns))
        return "skip"

    if has_header and NEWLINE not in data:  # a header alone, without its line break: pyarrow needs one
        data += b"\n"
    # A block must hold the longest record; if one spanning several lines still straddles two, the
    # whole file is read as one block.
    for block in (max(PYARROW_BLOCK, 2 * longest_line + 2), min(len(data) + 1, 2**31 - 1)):
        shapeless.clear()
        try:
            return pa_csv.read_csv(
                pa.BufferReader(data),  # type: ignore[arg-type]  # pyarrow-stubs: read_csv takes a NativeFile too
                read_options=pa_csv.ReadOptions(
                    column_names=names, skip_rows=int(has_header), use_threads=False, block_size=block
                ),
                # Empty lines are kept as records (and dropped later), so the reader's line numbers are physical.
                parse_options=pa_csv.ParseOptions(
                    delimiter=delimiter,
                    invalid_row_handler=keep_aside,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in names}, strings_can_be_null=False
                ),
            )
        except pa.ArrowInvalid as error:
            if "UTF8" in str(error):
                raise _not_utf8(path, data, names) from None
            if "straddl" not in str(error):
                # Without the row pyarrow quotes after the last colon: the error never repeats the file's text.
                reason = str(error).splitlines()[0].rsplit(": ", 1)[0] if ": " in str(error) else str(error)
                raise SourceError(path, f"cannot be read as CSV ({reason})") from None
    raise SourceError(path, "cannot be read as CSV: a record is longer than pyarrow can read (2 GB)")


def _found(names: list[str]) -> str:
    """The header's columns for an error: a few names, and only text that looks like a column name."""
    shown = [name for name in names if NAME_PATTERN.match(name)]
    if len(names) < 2 or not shown:
        return f"the first line has {len(names)} field(s), none of them a column name of this format"
    more = len(names) - len(shown[:NAMES_SHOWN])
    return "found: " + ", ".join(shown[:NAMES_SHOWN]) + (f" and {more} more" if more else "")


def _line_lengths(data: bytes) -> np.ndarray:
    """Bytes in each physical line, its line break left out (one entry per line, the last one too)."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == NEWLINE)
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(data)]])
    lengths: np.ndarray = stops - starts
    return lengths


def _ends_with_cr(data: bytes, lines: np.ndarray, line_lengths: np.ndarray) -> np.ndarray:
    """Whether each of `lines` is just a carriage return (a blank line of a CRLF file)."""
    starts = np.concatenate([[0], np.cumsum(line_lengths + 1)[:-1]])[lines - 1]
    view = np.frombuffer(data, dtype=np.uint8)
    return view[np.minimum(starts, max(len(data) - 1, 0))] == 13 if len(data) else np.zeros(len(lines), bool)


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
    shifted: np.ndarray = first + shift
    return shifted


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


def _require_utf8(path: Path, data: bytes, delimiter: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(path, data, _header(path, data, delimiter)) from None  # (the header's own error first)


def _not_utf8(path: Path, data: bytes, names: list[str]) -> SourceError:
    """Where the first byte that is not UTF-8 is: its line and (counting commas) its column."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        field = data.count(b",", line_start, error.start)
        column = names[field] if field < len(names) and NAME_PATTERN.match(names[field]) else None
        line = data.count(b"\n", 0, error.start) + 1
        return SourceError(path, f"not UTF-8 text (byte {data[error.start]:#04x}); save it as UTF-8", line, column)
    return SourceError(path, "not UTF-8 text; save it as UTF-8")
