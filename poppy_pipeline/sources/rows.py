"""Row validation shared by every input (files, and tables read from a database).

Pure functions over a DataFrame of strings, as the input holds them: parsers that never raise
(a value that does not parse becomes missing), and `RowRules`, which gives each failing row its
first reason, `<origin>: <column> '<value>' <problem>`, where the origin says where the row came
from (`line 7` for a file, e.g. `Interaction_ID 42` for a table). Blank and whitespace-only
strings are missing values everywhere.

Time: ISO 8601 as `timestamps.py` reads it. A timestamp with a UTC offset (`+01:00`, `+0100`,
`+0`, `Z`) is converted to UTC; one without is read in the source's time zone (default UTC).
Results are naive UTC. A local time that does not exist (the hour skipped when clocks go forward)
is rejected; an ambiguous one (the hour repeated when they go back) is read as its first
occurrence. Partial values are rejected, never completed: `2025-11`, `21:4`, a date alone where a
date-time belongs, and a file's last line cut short (see `reject_timestamps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from poppy_pipeline.sources.raw_csv import RawRows, SourceError
from poppy_pipeline.sources.timestamps import ParsedTimes, parse_iso8601

UTC = "UTC"
INT64_MAX = str(np.iinfo(np.int64).max)
# The longest a watch time or a media's duration may be: a year. Beyond it a value is a unit
# mix-up or a typo (`1.7e308` seconds would turn every sum it enters into infinity).
MAX_SECONDS = 366 * 86_400
LONGER_THAN_A_YEAR = f"is more than a year ({MAX_SECONDS:,} s)"


@dataclass
class Checked:
    """Rows of one input (file or table): the usable ones (in the project's columns) and the rejected ones."""

    source_file: Path  # the file, or the table's name
    valid: pd.DataFrame
    rejected: pd.DataFrame  # original columns + reason
    input_rows: int

    def __post_init__(self) -> None:
        if len(self.valid) + len(self.rejected) != self.input_rows:
            raise AssertionError(f"{self.source_file}: rows lost while checking")

    @property
    def rejected_share(self) -> float:
        return len(self.rejected) / self.input_rows if self.input_rows else 0.0


@dataclass
class RowRules:
    """Collects the first failing rule of each row of a raw (all-string) frame."""

    raw: pd.DataFrame
    origin: pd.Series  # where each row came from, e.g. "line 7"
    # Names to show for columns that were renamed to the rules' vocabulary (a table's own names).
    labels: dict[str, str] = field(default_factory=dict)
    reasons: pd.Series = field(init=False)
    cut_short: pd.Series = field(init=False)  # the last record of a file that ends inside it

    @classmethod
    def of(cls, rows: RawRows) -> RowRules:
        """Rules over a file's records; records that could not be split are already rejected."""
        rules = cls(rows.frame, rows.origin)
        rules.reasons = rows.problems.astype("object").copy()
        if rows.unended_line is not None:
            rules.cut_short = pd.Series(rows.lines == rows.unended_line, index=rules.raw.index)
        return rules

    def __post_init__(self) -> None:
        self.raw = self.raw.reset_index(drop=True)
        self.origin = self.origin.reset_index(drop=True).astype(str)
        self.reasons = pd.Series(pd.NA, index=self.raw.index, dtype="object")
        self.cut_short = pd.Series(False, index=self.raw.index)

    def text(self, column: str) -> pd.Series:
        """The column's values stripped, missing where blank."""
        values = pd.Series(_trimmed(self.raw[column]).to_numpy(zero_copy_only=False), index=self.raw.index)
        return values.mask(values == "").astype("object")

    def reject(self, failing: pd.Series | np.ndarray, column: str, problem: str | pd.Series) -> None:
        """Give rows that fail (and have no reason yet) the reason `origin: column 'value' problem`."""
        fresh = pd.Series(np.asarray(failing), index=self.raw.index).fillna(False).astype(bool) & self.reasons.isna()
        if not fresh.any():
            return
        values = self.raw.loc[fresh, column].fillna("").astype(str)
        label = self.labels.get(column, column)
        self.reasons[fresh] = self.origin[fresh] + ": " + label + " '" + values + "' " + problem

    def reject_repeats(self, keys: pd.Series | pd.DataFrame, column: str) -> None:
        """Rows (still valid) whose key an earlier valid row already has: `repeats line 3`."""
        frame = keys.to_frame() if isinstance(keys, pd.Series) else keys
        candidates = self.ok & frame.notna().all(axis=1)
        grouped = self.origin[candidates].groupby([frame.loc[candidates, c] for c in frame.columns], sort=False)
        first = grouped.transform("first").reindex(self.raw.index)
        repeated = candidates & frame[candidates].duplicated().reindex(self.raw.index, fill_value=False)
        # A table's rows are named by their key: a repeated key names no other row.
        earlier = ("repeats " + first.fillna("")).where(first != self.origin, "repeats an earlier row")
        self.reject(repeated, column, earlier)

    @property
    def ok(self) -> pd.Series:
        return self.reasons.isna()

    def rejected(self) -> pd.DataFrame:
        """The failing rows: original columns plus `reason`."""
        return self.raw[~self.ok].assign(reason=self.reasons[~self.ok].astype(str))

    def split(self, source: Path, valid: pd.DataFrame) -> Checked:
        """`valid`: the project's columns for the rows that passed (`self.ok`), in their order."""
        return Checked(source, valid.reset_index(drop=True), self.rejected(), len(self.raw))


def integers(values: pd.Series) -> pd.Series:
    """Whole numbers as `Int64` (`7`, `+7`, `007`, `7.0`), missing where not one or beyond int64."""
    text = _trimmed(values)
    if pc.all(pc.match_substring_regex(text, r"^[+-]?\d{1,18}$")).as_py():  # the common case: one exact cast
        return _to_pandas(pc.cast(pc.replace_substring_regex(text, r"^\+", ""), pa.int64()), values.index)
    digits = pc.replace_substring_regex(pc.replace_substring_regex(text, r"\.0*$", ""), r"^\+", "")
    whole: pa.BooleanArray = pc.match_substring_regex(text, r"^[+-]?\d+(?:\.0*)?$")
    size = pc.utf8_ltrim(pc.utf8_ltrim(digits, "-"), "0")
    size_length: pa.Array[Any] = pc.utf8_length(size)  # type: ignore[call-overload]  # pyarrow-stubs: utf8_length takes only arrays typed as (Large)StringArray
    longest = pa.scalar(len(INT64_MAX))
    fits = pc.or_(
        pc.less(size_length, longest),
        pc.and_(pc.equal(size_length, longest), pc.less_equal(size, pa.scalar(INT64_MAX))),
    )
    # pyarrow-stubs type a BooleanArray's fill_null as an Array of a boolean scalar that and_ does not take.
    usable = pc.and_(whole.fill_null(False), fits.fill_null(False))  # type: ignore[arg-type]
    numbers: pa.Array[Any] = pc.if_else(usable, digits, None)
    return _to_pandas(pc.cast(numbers, pa.int64()), values.index)


def ids_as_written(values: pd.Series) -> pd.Series:
    """IDs as integers when every one is written as a positive integer in its plain form (`7`; not
    `007`, `+7`, `7.0`, `0`, `-1`; up to 18 digits), else every one as its text. Either way an ID
    reads back as the text it was, and integer IDs are the engine's (whole numbers ≥ 1)."""
    text = pa.array(values, type=pa.string(), from_pandas=True)
    if len(values) and pc.all(pc.match_substring_regex(text, r"^[1-9]\d{0,17}$")).as_py():
        return pd.Series(pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False), index=values.index)
    return values.astype(str)


def finite_numbers(values: pd.Series) -> pd.Series:
    """Floats, NaN where blank, not a number, or not finite (`inf`, `1e999`)."""
    text = pd.Series(_trimmed(values).to_numpy(zero_copy_only=False), index=values.index, dtype=object)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    return numbers.where(np.isfinite(numbers))


def _trimmed(values: pd.Series) -> pa.Array[Any]:
    """The values as an Arrow string array (vectorised string work), whitespace trimmed.

    Values that are not text (a table read from a database) are taken as written by `str`.
    """
    try:
        array = pa.array(values, from_pandas=True)  # no copy when the column is already Arrow text
        if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
            raise pa.ArrowTypeError(array.type)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        array = pa.array(values.astype(str).where(values.notna()), type=pa.string(), from_pandas=True)
    trimmed: pa.Array[Any] = pc.utf8_trim_whitespace(array)
    return trimmed


def _to_pandas(array: pa.Array[Any], index: pd.Index) -> pd.Series:
    """Exact `Int64` (through floats, integers above 2^53 would be rounded)."""
    values = array.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    missing = array.is_null().to_numpy(zero_copy_only=False)
    return pd.Series(pd.arrays.IntegerArray(values, missing), index=index)


def utc_timestamps(values: pd.Series, zone: str = UTC, dates_allowed: bool = False) -> tuple[pd.Series, pd.Series]:
    """Naive UTC date-times (NaT where not ISO 8601, see `timestamps.py`), and where a local time does
    not exist in `zone`. `dates_allowed`: a date without a time is that day's midnight."""
    stamps, skipped, _ = _parsed_utc(values, zone, dates_allowed)
    return stamps, skipped


def _parsed_utc(values: pd.Series, zone: str, dates_allowed: bool) -> tuple[pd.Series, pd.Series, ParsedTimes]:
    parsed = parse_iso8601(_trimmed(values), dates_allowed)
    wall = pd.Series(parsed.micros.astype("datetime64[us]"), index=values.index).where(parsed.valid)
    skipped = pd.Series(False, index=values.index)
    naive = parsed.valid & ~parsed.aware
    if zone != UTC and naive.any():
        local = pd.DatetimeIndex(wall[naive])
        first_occurrence = np.ones(len(local), dtype=bool)
        zoned = local.tz_localize(zone, ambiguous=first_occurrence, nonexistent="NaT")
        skipped[naive] = zoned.isna()
        wall[naive] = zoned.tz_convert(UTC).tz_localize(None).as_unit("us")
    return wall.astype("datetime64[us]"), skipped, parsed


def reject_timestamps(rules: RowRules, column: str, zone: str, dates_allowed: bool = False) -> pd.Series:
    """Parse a timestamp column, rejecting what is not a date-time (or only part of one); the parsed
    (naive UTC) values, NaT where rejected for this column."""
    stamps, skipped, parsed = _parsed_utc(rules.raw[column], zone, dates_allowed)
    dated = pd.Series(parsed.date_only & ~dates_allowed, index=rules.raw.index)
    lengths = pc.utf8_length(_trimmed(rules.raw[column])).fill_null(0).to_numpy(zero_copy_only=False)  # type: ignore[call-overload]  # pyarrow-stubs: utf8_length takes only arrays typed as (Large)StringArray
    cut = _cut_short(rules.cut_short.to_numpy(), parsed, lengths)
    rules.reject(dated, column, "is a date without a time of day")
    rules.reject(stamps.isna() & ~skipped, column, "is not an ISO 8601 date-time")
    rules.reject(skipped, column, f"does not exist in {zone} (the clocks skipped it)")
    rules.reject(cut, column, f"is cut short: the file ends inside this line, shorter than every other {column}")
    return stamps.where(~cut)


def _cut_short(last_unended: np.ndarray, parsed: ParsedTimes, lengths: np.ndarray) -> np.ndarray:
    """The file's last record, when the file ends without its line break (a write still under way, a
    copy cut short) and its value is shorter or less precise than every other one: `…21:40` cut from
    `…21:40:00`, or `…+05` from `…+05:30`, is a time too, but not the one written."""
    others = parsed.valid & ~last_unended
    if not last_unended.any() or not others.any():
        return np.zeros(len(last_unended), dtype=bool)
    shorter = lengths < lengths[others].min()
    coarser = parsed.precision < parsed.precision[others].min()
    cut: np.ndarray = last_unended & parsed.valid & (shorter | coarser)
    return cut


def checked_zone(zone: str, setting: str) -> str:
    """`zone` if it names a time zone (IANA, e.g. `Europe/Paris`, or `UTC`), else a `SourceError`."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError(
            setting, f"{zone!r} is not a time zone; use an IANA name such as UTC or Europe/Paris"
        ) from None
    return zone
