"""window_stream.py: a day's windows written part by part are the bytes, rows and recount of the whole frame."""

import io
import threading
import time

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour import oracle as oracle_module
from poppy_pipeline.behaviour import window_stream
from poppy_pipeline.behaviour import windows as windows_module
from poppy_pipeline.behaviour.features import WindowSpec
from poppy_pipeline.behaviour.model import BehaviourSettings, draw_traits
from poppy_pipeline.behaviour.oracle import recorded_day
from poppy_pipeline.behaviour.window_membership import checked_windows
from poppy_pipeline.behaviour.window_stream import streamable, write_windows
from poppy_pipeline.behaviour.windows import session_arrays
from poppy_pipeline.common import tables, threads
from poppy_pipeline_tests.behaviour.test_oracle import simulated_day
from poppy_pipeline_tests.conftest import WINDOW

pytestmark = pytest.mark.slow  # seconds per test: left out of make test-fast


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    tables.write_csv(frame, buffer)
    return buffer.getvalue()


def streamed(actions: pd.DataFrame, spec: WindowSpec, recorded, head_rows: int = 7):
    sink, seen = io.BytesIO(), []
    written = write_windows(session_arrays(actions), spec, recorded, sink, seen.append, head_rows)
    return sink.getvalue(), seen, written


@pytest.mark.parametrize(
    ("with_oracle", "cores", "spec"),
    [
        (True, 1, WindowSpec()),
        (True, 3, WindowSpec()),
        (False, 3, WindowSpec()),
        (True, 3, WindowSpec(window_ms=60_000, step_ms=5_000, horizon_ms=30_000, min_actions=3)),  # ages binned
    ],
)
def test_parts_written_as_made_are_the_whole_frames_bytes(with_oracle: bool, cores: int, spec: WindowSpec, monkeypatch):
    seed, day = 42, WINDOW[-1]
    simulation, users, interactions = simulated_day(seed, day)
    recorded = recorded_day(BehaviourSettings(), seed, draw_traits(seed, users), interactions, day)
    recorded = recorded if with_oracle else None
    whole = checked_windows(simulation.actions, spec, recorded)
    monkeypatch.setattr(windows_module, "CHUNK_ACTIONS", 1)  # a part per session: some without windows
    monkeypatch.setattr(oracle_module, "ORACLE_CHUNK", 300)
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    text, seen, written = streamed(simulation.actions, spec, recorded)
    assert len(seen) > 10 and len(whole.frame) > 1_000
    # Under the default spec some sessions make no window (a part of their own, empty); a
    # three-action minimum may leave none.
    assert any(part.empty for part in seen) or spec.min_actions < WindowSpec().min_actions
    assert text == csv_bytes(whole.frame)
    pd.testing.assert_frame_equal(pd.concat(seen, ignore_index=True), whole.frame)
    assert written.rows == len(whole.frame) and written.problems == whole.problems
    pd.testing.assert_frame_equal(written.head, whole.frame.head(7))
    assert whole.frame["Oracle_Probability"].notna().all() == with_oracle


def day_of(sessions: list[int], actions_per_session: int) -> pd.DataFrame:
    """Sessions of `actions_per_session` clicks a second apart, integer IDs."""
    rows = [(session, session % 3, 1_000 * i) for session in sessions for i in range(actions_per_session)]
    session, user, offset = (
        (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
        if rows
        else [np.empty(0, np.int64)] * 3
    )
    return pd.DataFrame(
        {
            "Session_ID": session,
            "User_ID": user,
            "Timestamp": np.datetime64("2026-11-21", "ms") + offset.astype("timedelta64[ms]"),
            "Action": pd.array(["click"] * len(session), dtype="str"),
            "Scroll_Amount": np.zeros(len(session), np.int64),
        }
    )


@pytest.mark.parametrize("actions", [day_of([1, 2], 3), day_of([], 0)], ids=["too short for a window", "no actions"])
def test_a_day_without_windows_is_the_header_alone(actions: pd.DataFrame):
    whole = checked_windows(actions, WindowSpec())
    text, seen, written = streamed(actions, WindowSpec(), None)
    assert whole.frame.empty and text == csv_bytes(whole.frame) and text.count(b"\n") == 1
    assert written.rows == 0 and written.head.columns.tolist() == whole.frame.columns.tolist()
    assert written.problems == whole.problems and not any(written.problems.values())
    assert all(part.empty for part in seen)


def test_text_ids_are_not_streamed():
    actions = day_of([1, 2], 30)
    assert streamable(session_arrays(actions))
    text_ids = actions.assign(Session_ID=actions["Session_ID"].map(lambda value: f"s,{value}"))
    assert not streamable(session_arrays(text_ids))
    with pytest.raises(ValueError, match="written whole"):
        streamed(text_ids, WindowSpec(), None)


def test_results_come_in_order_and_nested_maps_stay_in_their_thread(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 3)

    def work(item: int) -> tuple[int, set[str]]:
        time.sleep(0.02 * (item % 3 == 0))  # some finish after later ones
        names = threads.map_in_threads(lambda _: threading.current_thread().name, range(4))
        return item, set(names)

    results = list(threads.ordered_in_threads(work, range(12), ahead=4))
    assert [item for item, _ in results] == list(range(12))
    assert all(len(names) == 1 for _, names in results)  # the worker's own thread, not a pool of its own


def test_an_error_in_a_part_reaches_the_caller(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)

    def work(item: int) -> int:
        if item == 5:
            raise RuntimeError("part 5")
        return item

    got = []
    with pytest.raises(RuntimeError, match="part 5"):
        for item in threads.ordered_in_threads(work, range(20), ahead=2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "values",
    [
        [0.1 + 0.2, 1 / 3, 1e22, 5e-324, 1e-7, 2.0, 0.0, 1 / 3, 120.0, float("inf")],
        [0.0, -0.0, 1.5],  # negative zero: "-0" in text, equal to 0 when factorized
        [1.0, float("nan"), 1.0],  # a missing value: an empty field
    ],
)
def test_numbers_given_as_their_text_are_written_as_the_numbers(values: list[float]):
    frame = pd.DataFrame({"x": np.array(values * 3), "n": np.arange(len(values) * 3)})
    as_text = frame.assign(x=window_stream._as_text(frame["x"]))
    assert csv_bytes(as_text) == csv_bytes(frame)
