"""A day's windows written to their CSV part by part, while the next parts are made.

`checked_windows` makes the day's whole frame, then the CSV writer formats it: two phases, the
second (1.9M rows of 25 numbers to text) about as long as the first, and parts of the first
(the concatenation of the chunks) on one core. Here each chunk of sessions
(`windows.session_chunks`) becomes its windows, their oracle, their recount and its CSV text in
a worker thread, and the day's file receives the parts in order while the next ones are made:
the rows, the bytes (the writer formats each value on its own; the header is written once) and
the recount of `checked_windows` followed by `tables.write_csv`, without the day's frame ever
held whole.

Only for windows whose every column is a number or a time (integer Session_ID and User_ID,
`streamable`): text IDs may need quotes, and then the writer quotes every string of the file,
which one part cannot know; such a day is made whole.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute

from poppy_pipeline.behaviour.day_tallies import add_counts
from poppy_pipeline.behaviour.features import FEATURE_NAMES, WINDOW_COLUMNS, WindowSpec
from poppy_pipeline.behaviour.oracle import RecordedDay
from poppy_pipeline.behaviour.window_membership import SessionIndex
from poppy_pipeline.behaviour.windows import (
    SessionArrays,
    chunk_windows,
    require_recorded_stream,
    session_chunks,
    session_windows,
    windows_frame,
    windows_oracle,
)
from poppy_pipeline.common import tables
from poppy_pipeline.common.threads import ordered_in_threads, usable_cores

HEADER = (",".join(WINDOW_COLUMNS) + "\n").encode()
# Features of few distinct values (counts over the window's length, and what is made of them):
# the writer would format each of a day's ~1.9M values; given their text, formatted once per
# distinct value, it copies it (a quarter less time writing, the same bytes).
FEW_VALUES = (
    "time_since_last_action",
    "session_duration",
    *FEATURE_NAMES[3:11],
    "scroll_depth_max",
    "interaction_density",
    "attention_score",
    "click_to_hover_ratio",
    "blur_frequency",
)


@dataclass(frozen=True)
class WrittenWindows:
    """What was written: the rows, the first `head_rows` of them, and the recount's problems by rule."""

    rows: int
    head: pd.DataFrame
    problems: dict[str, int]


def streamable(arrays: SessionArrays) -> bool:
    """Whether the day's windows can be written part by part (integer IDs: nothing to quote)."""
    return all(np.asarray(ids).dtype.kind in "iu" for ids in (arrays.session_ids, arrays.user_ids))


def write_windows(
    arrays: SessionArrays,
    spec: WindowSpec,
    recorded: RecordedDay | None,
    sink: BinaryIO,
    observe: Callable[[pd.DataFrame], None],
    head_rows: int = 5,
) -> WrittenWindows:
    """Write the day's windows (with the oracle when `recorded` is the day's plan) to `sink` as
    `tables.write_csv` writes their frame; `observe` gets each part's frame, in order."""
    if not streamable(arrays):
        raise ValueError("windows with text Session_ID or User_ID are written whole (tables.write_csv)")
    if recorded is not None:
        require_recorded_stream(arrays, recorded)
    index = SessionIndex(arrays, spec)

    def part(chunk: slice) -> tuple[pd.DataFrame, memoryview, dict[str, int]]:
        windows = chunk_windows(arrays, chunk, spec)
        oracle = None if recorded is None else windows_oracle(arrays, windows, recorded, spec)
        frame = windows_frame(arrays, windows, oracle)
        return frame, _csv_rows(frame), index.problems(frame)

    sink.write(HEADER)
    rows, heads, problems = 0, list[pd.DataFrame](), dict[str, int]()
    chunks = session_chunks(arrays)
    for frame, text, found in ordered_in_threads(part, chunks, ahead=2 * usable_cores()):
        sink.write(text)
        observe(frame)
        add_counts(problems, found)
        if rows < head_rows:
            heads.append(frame.head(head_rows - rows))
        rows += len(frame)
    if not chunks:  # no actions: no windows, nothing wrong
        problems = index.problems(session_windows(arrays, spec))
    head = pd.concat(heads, ignore_index=True) if heads else session_windows(arrays, spec).head(0)
    return WrittenWindows(rows, head, problems)


def _csv_rows(frame: pd.DataFrame) -> memoryview:
    """The part's rows as `tables.write_csv` formats them (its header left out)."""
    buffer = io.BytesIO()
    tables.write_csv(frame.assign(**{name: _as_text(frame[name]) for name in FEW_VALUES}), buffer)
    text = buffer.getbuffer()
    if text[: len(HEADER)] != HEADER:  # numbers and times never need quotes
        raise AssertionError("a part of the windows was written with quotes")
    return text[len(HEADER) :]


def _as_text(column: pd.Series) -> pd.Series:
    """A number column as the writer's text: each distinct value formatted once, by the very cast
    the writer makes (Arrow's number to string), and copied to its rows. Unchanged when it holds a
    missing value or a negative zero (told apart from 0 in text, not by the factorizing)."""
    values = column.to_numpy()
    codes, distinct = pd.factorize(values)
    if (codes < 0).any() or np.signbit(values[values == 0]).any():
        return column
    text = pa_compute.cast(pa.array(distinct), pa.string()).take(pa.array(codes))
    return pd.Series(pd.arrays.ArrowExtensionArray(text), index=column.index, name=column.name)
