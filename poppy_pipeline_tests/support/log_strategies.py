"""Hypothesis generators of real-world logs: IDs of every shape, timestamps of every form (and the
value each must parse to, or None where it must be refused), partial values, Unicode, huge and
tiny numbers; and CSV files written from them the way other programs write them.

Settings (`log_settings`, on each test of these generators; Hypothesis's global default is left
alone): `default` (few examples, derandomized: the same ones every run, for the default suite) and
`thorough` (many, random): `POPPY_HYPOTHESIS_PROFILE=thorough pytest -k properties`.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

PROFILES = {
    "default": settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],  # no slow "explain"
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ),
    "thorough": settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]),
}
log_settings = PROFILES[os.environ.get("POPPY_HYPOTHESIS_PROFILE", "default")]

# Text that spreadsheets, R and pandas read as missing, numbers in disguise, and other look-alikes.
TRICKY_IDS = ["NA", "null", "NULL", "NaN", "nan", "None", "N/A", "#N/A", "-", "5.0", "007", "0", "-1", "+7", "1e3",
              "0061120081", "  8", "x,y", 'say "hi"', "line\nbreak", "p6", "u3", "💫", "Ωmega", "٣"]  # fmt: skip
JUNK_TIMES = [
    "", "yesterday", "2025-11", "2025-11-04 21:4", "2026-11-0", "0000-00-00 00:00:00", "2024-02-30 10:00:00",
    "2025-11-02 25:00:00", "2025-11-02T24:00", "2025-11-02 10:60:00", "2025-11-02 10:00:60", "2025-13-01 10:00",
    "10:00:00", "2025-11-02T", "2025-11-02 10:00:00+24:00", "2025-W44-7", "2025-306", "NaT", "1e9",
    "2025-11-04", "2025-11-04 2", "2025-11-04 21:", "2025-11-04 21:40:0", "+00:00",
]  # fmt: skip
HUGE_AND_TINY = ["1.7e308", "1e309", "-0", "0.0000001", "1e-300", "inf", "-inf", "nan", "", "12", "12.5", "-3", "abc",
                 "99999999999999999999", "3.4028235e38", "0x1F"]  # fmt: skip


def words(min_size: int = 0) -> st.SearchStrategy[str]:
    """Unicode text without control characters (a bare carriage return is a line break to CSV readers)."""
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=min_size, max_size=8)


def ids() -> st.SearchStrategy[str]:
    """IDs of every shape: the tricky ones, digits with leading zeros, Unicode text."""
    digits = st.from_regex(r"\A0{0,3}[0-9]{1,6}\Z", fullmatch=True)
    return st.one_of(st.sampled_from(TRICKY_IDS), digits, words(min_size=1))


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[str, datetime | None]:
    """A timestamp as some program writes it, and the naive UTC value it means (None: refused)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(JUNK_TIMES)), None
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    offset = draw(st.sampled_from([None, 0, 60, -300, 330, -570, 840]))
    basic = draw(st.integers(0, 7)) == 0
    separator = "T" if basic else draw(st.sampled_from([" ", "T", "t"]))
    precision = draw(st.sampled_from(["hour", "minute", "second", "fraction"]))
    if basic and precision == "fraction":
        precision = "second"
    dash = "" if basic else "-"  # (strftime would write year 999 with three digits)
    date = f"{moment.year:04d}{dash}{moment.month:02d}{dash}{moment.day:02d}"
    parts = [f"{moment.hour:02d}"]
    if precision != "hour":
        parts.append(f"{moment.minute:02d}")
    if precision in ("second", "fraction"):
        parts.append(f"{moment.second:02d}")
    time = ("" if basic else ":").join(parts)
    micro = 0
    if precision == "fraction":
        digits = draw(st.integers(1, 9))
        fraction = (f"{moment.microsecond:06d}" + "000")[:digits]
        time += draw(st.sampled_from([".", ","])) + fraction
        micro = int(fraction[:6].ljust(6, "0"))
    kept = moment.replace(minute=moment.minute if precision != "hour" else 0, microsecond=micro)
    kept = kept.replace(second=moment.second if precision in ("second", "fraction") else 0)
    text = f"{date}{separator}{time}"
    if offset is not None:
        text += draw(st.sampled_from(["", " "])) + _offset_text(draw, offset)
    pad = draw(st.sampled_from(["", "", " "]))  # spaces around a value are not part of it
    try:
        expected: datetime | None = kept - timedelta(minutes=offset or 0)
    except OverflowError:  # before year 1 or after 9999 once the offset is applied
        expected = None
    return pad + text + pad, expected


def _offset_text(draw: st.DrawFn, minutes: int) -> str:
    if minutes == 0 and draw(st.booleans()):
        return draw(st.sampled_from(["Z", "z"]))
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    forms = [f"{sign}{hours:02d}{rest:02d}", f"{sign}{hours:02d}:{rest:02d}"]
    if rest == 0:
        forms += [f"{sign}{hours:02d}"] + ([f"{sign}{hours}"] if hours < 10 else [])
    return draw(st.sampled_from(forms))


@dataclass
class WrittenCsv:
    """A CSV file as written, with the physical line each record starts on."""

    path: Path
    lines: list[int]


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], crlf: bool = False, final_break: bool = True
) -> WrittenCsv:
    """Rows written as Python's csv module writes them (quoted where a value needs it)."""
    ending = "\r\n" if crlf else "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=ending)
    writer.writerow(header)
    lines, line = [], 2
    for row in rows:
        start = buffer.tell()
        writer.writerow(row)
        lines.append(line)
        line += buffer.getvalue()[start:].count("\n")
    text = buffer.getvalue()
    if not final_break:
        text = text[: -len(ending)]
    path.write_bytes(text.encode("utf-8"))
    return WrittenCsv(path, lines)


def as_utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
