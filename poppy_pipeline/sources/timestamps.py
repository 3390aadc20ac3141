"""ISO 8601 date-times, parsed strictly on whole columns (Arrow and numpy, no per-value Python).

Accepted: a calendar date `YYYY-MM-DD` (or `YYYYMMDD`), then `T`, `t` or a space and a time
`hh`, `hh:mm`, `hh:mm:ss`, `hh:mm:ss.f…` (`hhmmss` with a basic date; a comma works for the
point), then optionally a UTC offset: `Z`, `+h`, `+hh`, `+hhmm`, `+hh:mm` (or `-`). Each field has
its own digits (`21:4` is not a minute), its range (no `25:00`, no 30 February, no year 0) and the
result lies in years 1-9999. A value that is not one of these forms, or only part of one
(`2025-11`), is not completed into a date-time: it is invalid. A date without a time is valid only
where the column is a date (a sign-up date).

Most logs write one canonical form (`2024-02-01 10:00:00`, with milliseconds, or with `Z`); those
values are cast by Arrow in blocks (about 50 ns a value), and only the others, and the blocks in
which one fails, go through the general pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MICROS_PER_SECOND = 1_000_000
FIRST = int(np.datetime64("0001-01-01", "us").astype(np.int64))
LAST = int(np.datetime64("9999-12-31T23:59:59.999999", "us").astype(np.int64))
# Lengths of `YYYY-MM-DD hh:mm:ss`, with milliseconds and with microseconds: Arrow's own strict cast.
CANONICAL_LENGTHS = (19, 23, 26)
BLOCK = 1 << 16
_TIME = r"(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?"
_BASIC_TIME = r"(?:(?P<minute>\d{2})(?:(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?)?"
_OFFSET = r"\s*(?P<offset>[Zz]|[+-](?:\d{2}(?::?\d{2})?|\d))?$"
EXTENDED = r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?:[Tt ](?P<hour>\d{2})" + _TIME + ")?" + _OFFSET
BASIC = r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})(?:[Tt](?P<hour>\d{2})" + _BASIC_TIME + ")?" + _OFFSET
DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


@dataclass
class ParsedTimes:
    """Each value's microseconds since 1970 (UTC where it had an offset, else its wall clock)."""

    micros: np.ndarray  # int64, 0 where not valid
    valid: np.ndarray  # a whole date-time (or a date, where dates are allowed)
    aware: np.ndarray  # it had a UTC offset
    precision: np.ndarray  # 3 a date, 4 hours, 5 minutes, 6 seconds, 6 + digits of the fraction
    date_only: np.ndarray  # a date without a time (valid only where dates are allowed)


def parse_iso8601(text: pa.Array[Any], dates_allowed: bool = False) -> ParsedTimes:
    """Parse trimmed strings (nulls are invalid). `dates_allowed`: a date alone is midnight."""
    n = len(text)
    parsed = ParsedTimes(
        np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int8), np.zeros(n, bool)
    )
    lengths = pc.utf8_length(text).fill_null(0).to_numpy(zero_copy_only=False)  # type: ignore[call-overload]  # pyarrow-stubs: utf8_length takes only arrays typed as (Large)StringArray
    canonical = np.isin(lengths, CANONICAL_LENGTHS)
    zulu = np.isin(lengths, [k + 1 for k in CANONICAL_LENGTHS]) & _ends_with_z(text)
    rest = ~(canonical | zulu) & (lengths > 0)
    rest |= _cast_blocks(parsed, text, np.flatnonzero(canonical), lengths, aware=False)
    stripped = pc.utf8_slice_codeunits(text, 0, -1)
    rest |= _cast_blocks(parsed, stripped, np.flatnonzero(zulu), lengths - 1, aware=True)
    if rest.any():
        _parse_by_pattern(parsed, text, np.flatnonzero(rest))
    if not dates_allowed:
        parsed.valid &= ~parsed.date_only
    return parsed


def _ends_with_z(text: pa.Array[Any]) -> np.ndarray:
    return pc.ends_with(text, "Z").fill_null(False).to_numpy(zero_copy_only=False)


def _cast_blocks(
    parsed: ParsedTimes, text: pa.Array[Any], rows: np.ndarray, lengths: np.ndarray, aware: bool
) -> np.ndarray:
    """Arrow's strict cast, block by block; the rows of blocks holding a value it refuses are returned."""
    refused = np.zeros(len(text), dtype=bool)
    for start in range(0, len(rows), BLOCK):
        block = rows[start : start + BLOCK]
        try:
            stamps = pc.cast(text.take(pa.array(block)), pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            refused[block] = True
            continue
        micros = stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
        parsed.micros[block], parsed.valid[block], parsed.aware[block] = micros, True, aware
        parsed.precision[block] = 6 + np.maximum(lengths[block] - 20, 0)  # digits after `ss.`
    return refused


def _parse_by_pattern(parsed: ParsedTimes, text: pa.Array[Any], rows: np.ndarray) -> None:
    """The general forms (offsets, reduced precision, basic format) by pattern, then by arithmetic."""
    values = text.take(pa.array(rows))
    fields = pc.extract_regex(values, EXTENDED)
    basic = pc.extract_regex(values, BASIC)
    unmatched = fields.is_null()
    fields = pc.if_else(unmatched, basic, fields)
    matched = fields.is_valid().to_numpy(zero_copy_only=False)

    def number(name: str) -> tuple[np.ndarray, np.ndarray]:
        part: pa.Array[Any] = pc.struct_field(fields, name)
        given = pc.not_equal(part, pa.scalar("")).fill_null(False).to_numpy(zero_copy_only=False)
        digits: pa.Array[Any] = pc.if_else(pc.equal(part, pa.scalar("")).fill_null(True), "0", part)
        return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False), given

    year, _ = number("year")
    month, _ = number("month")
    day, _ = number("day")
    hour, has_hour = number("hour")
    minute, has_minute = number("minute")
    second, has_second = number("second")
    fraction_text = pc.struct_field(fields, "fraction").fill_null("")
    fraction_digits = pc.utf8_length(fraction_text).to_numpy(zero_copy_only=False).astype(np.int64)
    micro = pc.cast(pc.utf8_slice_codeunits(pc.utf8_rpad(fraction_text, 6, "0"), 0, 6), pa.int64())
    offset_minutes, has_offset, offset_ok = _offsets(pc.struct_field(fields, "offset").fill_null(""))

    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    month_days = DAYS_IN_MONTH[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    ok = matched & (year >= 1) & month_ok & (day >= 1) & (day <= month_days)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59) & offset_ok & ~(has_offset & ~has_hour)
    seconds = ((_days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    offset_micros = offset_minutes * 60 * MICROS_PER_SECOND
    micros = seconds * MICROS_PER_SECOND + micro.to_numpy(zero_copy_only=False) - offset_micros
    ok &= (micros >= FIRST) & (micros <= LAST)
    parsed.micros[rows] = np.where(ok, micros, 0)
    parsed.valid[rows] = ok
    parsed.aware[rows] = ok & has_offset
    parsed.precision[rows] = 3 + has_hour + has_minute + has_second + fraction_digits
    parsed.date_only[rows] = ok & ~has_hour


def _offsets(text: pa.Array[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minutes east of UTC, whether an offset was written, and whether it is one (hours ≤ 23, minutes ≤ 59)."""
    given = pc.not_equal(text, pa.scalar("")).to_numpy(zero_copy_only=False)
    zulu = pc.equal(pc.utf8_upper(text), pa.scalar("Z")).to_numpy(zero_copy_only=False)
    west = pc.starts_with(text, "-").to_numpy(zero_copy_only=False)
    digits: pa.Array[Any] = pc.replace_substring(pc.utf8_slice_codeunits(text, 1), ":", "")
    digits = pc.if_else(pc.or_(pc.equal(digits, pa.scalar("")), pc.invert(pc.utf8_is_digit(digits))), "0", digits)
    digit_count: pa.Array[Any] = pc.utf8_length(digits)  # type: ignore[call-overload]  # pyarrow-stubs: utf8_length takes only arrays typed as (Large)StringArray
    wide = pc.greater(digit_count, pa.scalar(2))
    hours_text: pa.Array[Any] = pc.utf8_slice_codeunits(digits, 0, 2)
    hours = pc.cast(hours_text, pa.int64()).to_numpy(zero_copy_only=False)
    hours = np.where(zulu, 0, hours)
    minutes_text: pa.Array[Any] = pc.if_else(wide, pc.utf8_slice_codeunits(digits, 2), "0")
    minutes = np.where(zulu, 0, pc.cast(minutes_text, pa.int64()).to_numpy(zero_copy_only=False))
    ok = (hours <= 23) & (minutes <= 59)
    total = np.where(west, -1, 1) * (hours * 60 + minutes)
    return np.where(given, total, 0), given, ok | ~given


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm, on arrays)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    year_of_era = y - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days: np.ndarray = era * 146_097 + day_of_era - 719_468
    return days
