"""Fuzzing the readers: malformed variants of a valid log, from a fixed seed.

Each variant either fails with a `SourceError` (one sentence naming the file and the line, and
the column where there is one) or reads with every record accounted for: the valid rows meet
the contract, and the damaged line is quarantined with a reason naming that line and the
damaged column (or is valid, where the damage is harmless: offsets, padding, `4.0`). A few
variants also run through `dagster.materialize` and the CLI after a good run: a failed run
leaves every file of the good run byte-identical.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour.model import ACTION_COLUMNS, ACTIONS
from poppy_pipeline.common.columns import POPPY_LOG_COLUMNS
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources.action_logs import read_action_log
from poppy_pipeline.sources.log_files import SourceError, check_poppy_log, read_poppy_log, users_from_poppy_log
from poppy_pipeline.sources.rows import Checked
from poppy_pipeline_tests.assets.test_behaviour_assets import ALL, DAYS, materialize
from poppy_pipeline_tests.assets.test_real_logs import FEBRUARY, SOURCES_AND_SUMMARIES, materialize_from
from poppy_pipeline_tests.sources.test_bad_input import snapshot

pytestmark = pytest.mark.slow  # seconds per test: left out of make test-fast

SEED = 20261129
ROWS = 40
GARBAGE = ["abc", "4.5", "-3", "nan", "inf", "1e400", "0x1F", "NULL", "x\0y", "💫", "99999999999999999999999", "--"]
OBJECTS = build_catalog(SimulationSettings(), None).objects


@dataclass
class Variant:
    name: str
    lines: list[str]  # header first, without line ends
    damaged: int | None = None  # the 1-based line that was damaged
    column: str | None = None  # the column damaged; None = the record's shape
    outcome: str = "quarantined"  # quarantined | valid | either (that line only) | any | error
    token: str | None = None
    ending: str = "\n"
    prefix: bytes = b""

    def write(self, folder: Path) -> Path:
        path = folder / "log.csv"
        path.write_bytes(self.prefix + (self.ending.join(self.lines) + self.ending).encode("utf-8", "surrogateescape"))
        return path


def poppy_lines(rng: np.random.Generator) -> list[str]:
    kinds = rng.choice(["View", "Click", "Favorite", "Rate"], ROWS)
    types = rng.choice(["Star", "Planet", "Moon"], ROWS)
    start = datetime(2024, 2, 1)
    lines = [",".join(POPPY_LOG_COLUMNS)]
    for i in range(ROWS):
        stamp = start + timedelta(seconds=int(rng.integers(0, 28 * 86400)))
        rating = str(rng.integers(1, 6)) if kinds[i] == "Rate" else ""
        lines.append(f"{i + 1},{rng.integers(1, 30)},{types[i]},{rng.integers(1, 21)},{kinds[i]},{rating},{stamp}")
    return lines


def action_lines(rng: np.random.Generator) -> list[str]:
    lines = [",".join(ACTION_COLUMNS)]
    start = datetime(2024, 2, 1, 10)
    for i in range(ROWS):
        session = i // 10
        action = rng.choice(ACTIONS)
        amount = str(rng.integers(10, 500)) if action.startswith("scroll") else ""
        stamp = (start + timedelta(milliseconds=int(i * 1500))).isoformat(sep=" ", timespec="milliseconds")
        lines.append(f"{session},{100 + session},{stamp},{action},{amount}")
    return lines


def fields(line: str) -> list[str]:
    return line.split(",")


def replace_field(lines: list[str], line: int, column: int, value: str) -> list[str]:
    out = list(lines)
    parts = fields(out[line - 1])
    parts[column] = value
    out[line - 1] = ",".join(parts)
    return out


def variants(base: Callable[[np.random.Generator], list[str]], harmless: dict[str, list[str]]) -> list[Variant]:
    """At least 50 damaged copies of one valid log; `harmless` values per column keep a row valid."""
    rng = np.random.default_rng(SEED)
    lines = base(rng)
    names = fields(lines[0])
    pick = lambda: int(rng.integers(2, len(lines) + 1))  # noqa: E731 - a data line
    out: list[Variant] = []
    for column, name in enumerate(names):  # wrong types in every column
        for token in rng.choice(GARBAGE, 4, replace=False):
            line = pick()
            damaged = replace_field(lines, line, column, str(token))
            out.append(Variant(f"{name}={token!r}", damaged, line, name, token=str(token)))
        line = pick()
        out.append(Variant(f"{name} empty", replace_field(lines, line, column, ""), line, name, "either"))
        line = pick()
        value = fields(lines[line - 1])[column]
        stray = value[:1] + '"' + value[1:] if value else '"'
        out.append(Variant(f"{name} stray quote", replace_field(lines, line, column, stray), line, name, "either"))
        for value in harmless.get(name, []):
            line = pick()
            padded = replace_field(lines, line, column, value.format(fields(lines[line - 1])[column]))
            out.append(Variant(f"{name} harmless {value!r}", padded, line, name, "valid"))
    for _ in range(3):
        line = pick()
        cut = lines[line - 1][: int(rng.integers(1, len(lines[line - 1])))]
        out.append(Variant("truncated line", [*lines[: line - 1], cut, *lines[line:]], line, None, "either"))
        line = pick()
        out.append(Variant("extra field", [*lines[: line - 1], lines[line - 1] + ",x", *lines[line:]], line))
        line = pick()
        text = lines[line - 1]
        at = int(rng.integers(0, len(text)))
        column_at = names[text[:at].count(",")]
        nul = [*lines[: line - 1], text[:at] + "\x00" + text[at:], *lines[line:]]
        out.append(Variant("NUL byte", nul, line, column_at, "either"))
    line = pick()
    unclosed = replace_field(lines, line, 1, '"' + fields(lines[line - 1])[1])
    out.append(Variant("opening quote never closed", unclosed, line, None, "either"))
    line = pick()
    repeated = [*lines[: line - 1], lines[0], *lines[line - 1 :]]
    out.append(Variant("header repeated as a row", repeated, line, None, "either"))
    line = pick()
    empty = [*lines[: line - 1], "," * (len(names) - 1), *lines[line - 1 :]]
    out.append(Variant("all fields empty", empty, line, names[0]))
    line = pick()
    out.append(Variant("blank lines", [*lines[: line - 1], "", "", *lines[line - 1 :]], None, None, "valid"))
    later = pick()
    blank_then_bad = replace_field(lines, later, 3, "abc")
    blank_then_bad = [*blank_then_bad[: line - 1], "", " ", *blank_then_bad[line - 1 :]]
    shifted = later + 2 if later >= line else later
    out.append(Variant("blank lines, then a bad value", blank_then_bad, shifted, names[3], "either"))
    out.append(Variant("CRLF and BOM", lines, None, None, "valid", ending="\r\n", prefix=b"\xef\xbb\xbf"))
    out.append(Variant("header only", lines[:1], outcome="valid"))
    out.append(Variant("empty file", [""], outcome="error"))
    out.append(Variant("repeated column", [",".join([names[0], *names[:-1]]), *lines[1:]], 1, names[0], "error"))
    shorter = [",".join(fields(text)[:-1]) for text in lines]
    out.append(Variant("missing column", shorter, 1, None, "error"))
    line = pick()
    latin = [*lines[: line - 1], lines[line - 1] + chr(0xDCE9), *lines[line:]]  # byte 0xe9
    out.append(Variant("not UTF-8", latin, line, names[-1], "error"))
    return out


POPPY_VARIANTS = variants(
    poppy_lines,
    {
        "Interaction_ID": [" {} ", "{}.0", "{}000000000000000"],
        "User_ID": ["+{}", "00{}"],
        "Timestamp": ["{}+01:00", "{}Z", "{}-05:30", "{}.123456"],
        "Object_Type": [" {}"],
    },
)
ACTION_VARIANTS = variants(
    action_lines,
    {"Timestamp": ["{}+01:00", "{}Z", " {} "], "Action": [" {} "], "Scroll_Amount": [" {} "]},
)


def expected_utc(text: str) -> pd.Timestamp:
    """The oracle for timestamps: Python's own ISO parser, offsets applied, naive UTC."""
    parsed = datetime.fromisoformat(text.strip())
    return pd.Timestamp(parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed)


def assert_clear_error(error: SourceError, path: Path, variant: Variant) -> None:
    message = str(error)
    assert "\n" not in message and "Traceback" not in message and "pandas" not in message.lower()
    assert message.startswith(str(path)) and error.line is not None
    if variant.damaged is not None:
        assert error.line == variant.damaged
    if variant.column is not None:
        assert error.column == variant.column


def assert_accounted(checked, variant: Variant, timestamp_column: str) -> None:
    data_lines = [i for i, text in enumerate(variant.lines[1:], start=2) if text.strip("\ufeff\r") != ""]
    assert len(checked.valid) + len(checked.rejected) == checked.input_rows <= len(data_lines)
    reasons = checked.rejected["reason"]
    assert reasons.str.match(r"^line \d+: ").all()
    rejected_lines = reasons.str.extract(r"^line (\d+):")[0].astype(int).tolist()
    assert set(rejected_lines) <= set(data_lines)
    if variant.damaged is None:
        assert checked.rejected.empty
        return
    own = [r for r in reasons if r.startswith(f"line {variant.damaged}:")]
    if variant.outcome == "valid":
        assert own == [] and checked.rejected.empty
        text = fields(variant.lines[variant.damaged - 1])[fields(variant.lines[0]).index(timestamp_column)]
        assert expected_utc(text) in set(checked.valid["Timestamp"])
    elif variant.outcome == "quarantined":
        prefix = f"line {variant.damaged}: " + (f"{variant.column} " if variant.column else "has ")
        assert len(own) == 1 and own[0].startswith(prefix), own
    elif variant.outcome == "either":  # kept or quarantined, and nothing else disturbed
        assert all(r.startswith(f"line {variant.damaged}:") for r in reasons), reasons.tolist()
    assert checked.valid["Timestamp"].dt.tz is None


def read_poppy(path: Path):
    rows = read_poppy_log(path)
    return check_poppy_log(path, rows, OBJECTS, users_from_poppy_log(rows))


def read_or_fail_clearly(read: Callable[[Path], Checked], variant: Variant, folder: Path) -> Checked | None:
    """What `read` made of the variant, or None after checking that its error is a clear one."""
    path = variant.write(folder)
    try:
        checked = read(path)
    except SourceError as error:
        assert variant.outcome in ("error", "either"), error
        assert_clear_error(error, path, variant)
        return None
    assert variant.outcome != "error"
    return checked


def test_enough_variants():
    assert len(POPPY_VARIANTS) >= 50 and len(ACTION_VARIANTS) >= 50


@pytest.mark.parametrize("variant", POPPY_VARIANTS, ids=[v.name for v in POPPY_VARIANTS])
def test_poppy_reader_on_a_damaged_log(variant: Variant, tmp_path: Path):
    checked = read_or_fail_clearly(read_poppy, variant, tmp_path)
    if checked is None:
        return
    assert_accounted(checked, variant, "Timestamp")
    valid = checked.valid
    assert valid["Interaction_ID"].is_unique and set(valid["Interaction_Type"]) <= {"View", "Click", "Favorite", "Rate"}
    rated = valid["Interaction_Rating"].notna()
    assert (valid.loc[rated, "Interaction_Type"] == "Rate").all()
    assert valid.loc[rated, "Interaction_Rating"].isin([1, 2, 3, 4, 5]).all()
    keys = pd.MultiIndex.from_frame(valid[["Object_Type", "Object_ID"]])
    assert keys.isin(pd.MultiIndex.from_frame(OBJECTS[["Object_Type", "Object_ID"]])).all()


@pytest.mark.parametrize("variant", ACTION_VARIANTS, ids=[v.name for v in ACTION_VARIANTS])
def test_action_reader_on_a_damaged_log(variant: Variant, tmp_path: Path):
    checked = read_or_fail_clearly(read_action_log, variant, tmp_path)
    if checked is None:
        return
    if variant.column in ("Session_ID", "User_ID") and variant.outcome in ("quarantined", "either"):
        variant.outcome = "any"  # IDs are free text; a new user on a session's first row moves its other rows
    if variant.column == "Scroll_Amount" and variant.token in ("4.5", "-3"):
        variant.outcome = "valid"  # a scroll distance (negative: upwards)
    assert_accounted(checked, variant, "Timestamp")
    valid = checked.valid
    assert set(valid["Action"]) <= set(ACTIONS) and (valid["Scroll_Amount"] >= 0).all()
    assert np.isfinite(valid["Scroll_Amount"]).all()
    assert (valid.groupby("Session_ID")["User_ID"].nunique() <= 1).all()


FAILING = {v.name: v for v in POPPY_VARIANTS if v.name in ("header only", "repeated column", "not UTF-8", "empty file")}


def test_failed_runs_leave_the_good_run_intact(data_dir: Path, tmp_path: Path):
    good = Variant("valid", poppy_lines(np.random.default_rng(SEED)), outcome="valid").write(tmp_path)
    source = lambda path: InteractionSourceResource(path=str(path), format="poppy")  # noqa: E731
    assert materialize_from(source(good), FEBRUARY).success
    before = snapshot(data_dir)
    for name, variant in FAILING.items():
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        result = materialize_from(source(variant.write(folder)), FEBRUARY)
        assert not result.success, name
        assert snapshot(data_dir) == before, name
    offsets = next(v for v in POPPY_VARIANTS if v.name == "Timestamp harmless '{}+01:00'")
    folder = tmp_path / "offsets"
    folder.mkdir()
    assert materialize_from(source(offsets.write(folder)), FEBRUARY).success


def test_the_cli_fails_with_the_sentence_and_keeps_the_files(data_dir: Path, tmp_path: Path):
    good = Variant("valid", poppy_lines(np.random.default_rng(SEED)), outcome="valid").write(tmp_path)
    assert materialize_from(InteractionSourceResource(path=str(good), format="poppy"), FEBRUARY).success
    before = snapshot(data_dir)
    folder = tmp_path / "bad"
    folder.mkdir()
    bad = FAILING["not UTF-8"].write(folder)
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POPPY_SOURCE_PATH": str(bad),
        "POPPY_SOURCE_FORMAT": "poppy",
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [dagster, "asset", "materialize", "-m", "poppy_pipeline.definitions", "--select"]
    result = subprocess.run(
        [*command, ",".join(SOURCES_AND_SUMMARIES), "--partition-range", "2024-02-01...2024-02-29"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    line = FAILING["not UTF-8"].damaged
    assert re.search(
        rf"{re.escape(str(bad))} line {line}, column Timestamp: not UTF-8 text", result.stderr + result.stdout
    )
    assert snapshot(data_dir) == before


def test_failed_action_log_runs_leave_the_good_run_intact(data_dir: Path, tmp_path: Path):
    day = str(DAYS[-1])
    on_day = lambda variant: [text.replace("2024-02-01", day) for text in variant.lines]  # noqa: E731
    good = Variant("valid", on_day(Variant("", action_lines(np.random.default_rng(SEED)))), outcome="valid")
    run = lambda path, **kwargs: materialize(  # noqa: E731
        ALL, action_source=ActionSourceResource(path=str(path)), partition_key=day, **kwargs
    )
    assert run(good.write(tmp_path)).success
    before = snapshot(data_dir)
    failing = [v for v in ACTION_VARIANTS if v.name in ("header only", "repeated column", "not UTF-8")]
    for variant in failing:
        folder = tmp_path / variant.name.replace(" ", "_")
        folder.mkdir()
        path = Variant(variant.name, on_day(variant), prefix=variant.prefix).write(folder)
        result = run(path, raise_on_error=False)
        assert not result.success and snapshot(data_dir) == before, variant.name
