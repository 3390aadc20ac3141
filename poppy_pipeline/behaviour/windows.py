"""Sliding-window features of browsing sessions (seed 001's 20), on whole arrays.

**Windows.** A session's windows end every `step` after its first action — the first end is
one step after it (a window needs some history), the last is the last end at or before the
session's last action — and cover `[end − window, end]` (both ends included). A window is kept
when it holds at least `min_actions` actions. `Label` is 1 when the session has a `click_ad` in
`(end, end + horizon]`: strictly after the window, so an ad click never feeds its own features.

**Features**, with D = the window length in seconds and all times from the millisecond
timestamps (in seconds):

| # | name | formula |
|---|---|---|
| 1 | time_since_last_action | end − last action in the window |
| 2 | avg_time_between_actions | mean gap between consecutive actions of the window (0 with one action) |
| 3 | session_duration | end − first action of the session |
| 4-11 | scroll_down_count … close_tab_count | count of that action in the window / D |
| 12 | scroll_depth_max | max(0, Σ scroll_down amounts − Σ scroll_up amounts) |
| 13 | interaction_density | actions / D (all nine kinds) |
| 14 | attention_score | clip(0.5 + 10·(focus rate − blur rate) + 0.1·density, 0, 1) |
| 15 | scroll_velocity_avg | mean amount of the window's scroll_down and scroll_up actions (0 without any) |
| 16 | click_to_hover_ratio | click rate / (hover rate + 0.001) |
| 17 | blur_frequency | blur rate |
| 18 | action_entropy | −Σ p·ln p over the counts of the nine action kinds |
| 19 | burstiness_score | std(gaps) / mean(gaps), population std; 0 with ≤ 2 actions or a zero mean |
| 20 | engagement_rhythm | max(0, lag-1 autocorrelation of the gaps), see below; 0 with ≤ 3 actions |

The lag-1 autocorrelation is Pearson's r of the consecutive gap pairs (g_i, g_i+1), as pandas'
`Series.autocorr(1)` computes it; 0 when either side is constant.

**How.** Everything is O(actions + windows) on arrays sorted by (session, time): window bounds
come from `searchsorted` on one (session, time) key; counts, scroll sums and the gap statistics
from prefix sums (`window_statistics.py`, which also says why the gap statistics are exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
from numpy.typing import NDArray

from poppy_pipeline.behaviour.features import (
    COUNTED_ACTIONS,
    FEATURE_NAMES,
    HOVER_SMOOTHING,
    WindowSpec,
)
from poppy_pipeline.behaviour.model import (
    ACTIONS,
    BLUR,
    CLICK,
    CLICK_AD,
    FOCUS,
    HOVER,
    SCROLL_DOWN,
    SCROLL_UP,
)
from poppy_pipeline.behaviour.oracle import RecordedDay, oracle_probabilities, stream_mismatch
from poppy_pipeline.behaviour.sessions import SessionSimulation
from poppy_pipeline.behaviour.window_statistics import action_entropy, gap_statistics, prefix_sums, window_sums
from poppy_pipeline.common.threads import map_in_threads, side_by_side

# Sessions are processed in chunks of about this many actions: bounded memory, and prefix sums
# small enough to stay in cache (measured ~1.6x faster than one chunk of 5M actions).
CHUNK_ACTIONS = 500_000


@dataclass(frozen=True)
class SessionArrays:
    """Actions sorted by (session, time): the extractor's input."""

    session: np.ndarray  # int64 code 0..sessions-1, non-decreasing
    time_ms: np.ndarray  # int64 milliseconds (any epoch), non-decreasing within a session
    action: np.ndarray  # int64 index into ACTIONS
    scroll: np.ndarray  # float64 scroll amount (used on scroll actions only)
    session_ids: np.ndarray  # Session_ID of each code
    user_ids: np.ndarray  # User_ID of each code


@dataclass(frozen=True)
class Windows:
    """One row per kept window."""

    session: np.ndarray  # session code
    end_ms: np.ndarray  # same clock as SessionArrays.time_ms
    features: np.ndarray  # (20, windows) float64, FEATURE_NAMES order
    label: np.ndarray  # int8
    actions: np.ndarray  # actions in the window
    last: np.ndarray  # index of the window's last action in the SessionArrays


def session_arrays(actions: pd.DataFrame) -> SessionArrays:
    """The columns of a `session_actions` table as sorted arrays (a stable sort: ties keep file order)."""
    # The columns are independent (numpy, pandas' hashing and Arrow release the GIL): side by side.
    codes, (session, session_ids), time_ms, scroll = side_by_side(
        lambda: _known_action_codes(actions["Action"]),
        lambda: pd.factorize(actions["Session_ID"], sort=True),
        lambda: actions["Timestamp"].to_numpy().astype("datetime64[ms]", copy=False).view(np.int64),
        lambda: pd.to_numeric(actions["Scroll_Amount"]).to_numpy(dtype=np.float64, na_value=0.0),
    )
    order = _session_time_order(session, time_ms)
    # The gathers are independent (numpy releases the GIL): side by side on the cores.
    session, time_ms, codes, scroll = map_in_threads(lambda column: column[order], (session, time_ms, codes, scroll))
    session = session.astype(np.int64, copy=False)
    firsts = _session_starts(session)
    return SessionArrays(
        session=session,
        time_ms=time_ms,
        action=codes,
        scroll=np.abs(scroll),
        session_ids=np.asarray(session_ids),
        user_ids=actions["User_ID"].to_numpy()[order[firsts]],
    )


def _session_time_order(session: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    """`np.lexsort((time_ms, session))`: by session, then time, ties in file order.

    A log in time order (as `session_actions` is written) needs only a stable sort by session,
    done as a radix sort of its 16-bit digits (numpy sorts 16-bit integers by radix).
    """
    if len(time_ms) < 2 or (time_ms[1:] < time_ms[:-1]).any() or session.max() >= 1 << 32:
        return np.lexsort((time_ms, session))
    order = np.argsort((session & 0xFFFF).astype(np.uint16), kind="stable")
    if session.max() >= 1 << 16:
        order = order[np.argsort((session[order] >> 16).astype(np.uint16), kind="stable")]
    return order


def _known_action_codes(values: pd.Series) -> np.ndarray:
    codes = _action_codes(values)
    if (codes < 0).any():
        unknown = sorted(set(values[codes < 0].astype(str)))
        raise ValueError(f"unknown actions {unknown[:5]}; expected one of {list(ACTIONS)}")
    return codes


def _action_codes(values: pd.Series) -> np.ndarray:
    """Index into ACTIONS of each value (-1 if unknown): a lookup per distinct value, not per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # the simulation's: no per-row string work
        row_codes, distinct = values.cat.codes.to_numpy(), values.cat.categories
    elif isinstance(values.dtype, pd.StringDtype):  # as read from a CSV: one hash lookup per row in Arrow
        found = pa_compute.index_in(pa.array(values), value_set=pa.array(ACTIONS, pa.string()))
        codes: NDArray[np.int64] = pa_compute.fill_null(found, -1).to_numpy().astype(np.int64)
        return codes
    else:
        row_codes, distinct = pd.factorize(values)
    lookup = np.r_[pd.Index(ACTIONS).get_indexer(pd.Index(distinct).astype(str)), -1]  # -1: missing values
    looked_up: NDArray[np.int64] = lookup[row_codes].astype(np.int64)
    return looked_up


def extract_windows(actions: pd.DataFrame, spec: WindowSpec = WindowSpec()) -> pd.DataFrame:
    """`sliding_window_features` of a `session_actions` table (Oracle_Probability left empty)."""
    return session_windows(session_arrays(actions), spec)


def session_windows(arrays: SessionArrays, spec: WindowSpec = WindowSpec()) -> pd.DataFrame:
    """`extract_windows` of actions already sorted by `session_arrays`."""
    return windows_frame(arrays, compute_windows(arrays, spec))


class StreamMismatch(ValueError):
    """Recorded actions that are not the generator's for the day's plan (another seed or other interactions)."""


def recorded_windows(actions: pd.DataFrame, recorded: RecordedDay, spec: WindowSpec = WindowSpec()) -> pd.DataFrame:
    """`sliding_window_features` of a simulated day, with the generator's Oracle_Probability.

    The oracle's state comes from the recorded actions and the day's plan (`oracle.py`): the day
    is not simulated again.
    """
    return oracle_windows(session_arrays(actions), recorded, spec)


def oracle_windows(arrays: SessionArrays, recorded: RecordedDay, spec: WindowSpec = WindowSpec()) -> pd.DataFrame:
    """`recorded_windows` of actions already sorted by `session_arrays`."""
    require_recorded_stream(arrays, recorded)
    windows = compute_windows(arrays, spec)
    return windows_frame(arrays, windows, windows_oracle(arrays, windows, recorded, spec))


def require_recorded_stream(arrays: SessionArrays, recorded: RecordedDay) -> None:
    """Raise `StreamMismatch` unless the sessions open and end as the day's plan says."""
    starts = _session_starts(arrays.session)
    finals = np.r_[starts[1:], len(arrays.session)][: len(starts)] - 1
    problem = stream_mismatch(
        recorded, arrays.session_ids, arrays.user_ids, arrays.time_ms[starts], arrays.time_ms[finals]
    )
    if problem:
        raise StreamMismatch(problem)


def windows_oracle(arrays: SessionArrays, windows: Windows, recorded: RecordedDay, spec: WindowSpec) -> np.ndarray:
    """Oracle_Probability of `windows` (any of the day's, e.g. one chunk's) from the generator's state."""
    last = windows.last
    return oracle_probabilities(
        recorded,
        arrays.session_ids[windows.session],
        windows.end_ms,
        arrays.time_ms[last],
        arrays.action[last],
        spec.horizon_ms,
    )


def simulated_windows(simulation: SessionSimulation, spec: WindowSpec = WindowSpec()) -> pd.DataFrame:
    """The same for a simulation at hand."""
    return recorded_windows(simulation.actions, RecordedDay.of(simulation), spec)


def windows_frame(arrays: SessionArrays, windows: Windows, oracle: np.ndarray | None = None) -> pd.DataFrame:
    columns = {
        "Session_ID": arrays.session_ids[windows.session],
        "User_ID": arrays.user_ids[windows.session],
        "Window_End": windows.end_ms.astype("datetime64[ms]"),
    }
    columns.update(zip(FEATURE_NAMES, windows.features, strict=True))
    columns["Label"] = windows.label
    if oracle is None:
        columns["Oracle_Probability"] = pd.array([pd.NA] * len(windows.label), dtype="Float64")
    else:
        columns["Oracle_Probability"] = oracle
    # The arrays are the frame's own (no copy into a 2-D block: the writer reads column by column).
    return pd.DataFrame(columns, copy=False)


def compute_windows(arrays: SessionArrays, spec: WindowSpec) -> Windows:
    """All kept windows, session by session in chunks of about `CHUNK_ACTIONS` actions."""
    # Chunks are independent: side by side on the cores.
    parts = map_in_threads(lambda part: chunk_windows(arrays, part, spec), session_chunks(arrays))
    if len(parts) == 1:
        return parts[0]
    if not parts:
        nothing = np.empty(0, np.int64)
        return Windows(nothing, nothing, np.empty((len(FEATURE_NAMES), 0)), nothing.astype(np.int8), nothing, nothing)
    return Windows(
        session=np.concatenate([p.session for p in parts]),
        end_ms=np.concatenate([p.end_ms for p in parts]),
        features=np.concatenate([p.features for p in parts], axis=1),
        label=np.concatenate([p.label for p in parts]),
        actions=np.concatenate([p.actions for p in parts]),
        last=np.concatenate([p.last for p in parts]),
    )


def session_chunks(arrays: SessionArrays) -> list[slice]:
    """Whole sessions, about `CHUNK_ACTIONS` actions a chunk (at least one session), in order."""
    starts = _session_starts(arrays.session)
    bounds = np.r_[starts, len(arrays.session)]
    chunks = []
    first = 0
    while first < len(starts):
        last = int(np.searchsorted(bounds, bounds[first] + CHUNK_ACTIONS, side="right")) - 1
        last = max(last, first + 1)  # at least one session
        chunks.append(slice(int(bounds[first]), int(bounds[last])))
        first = last
    return chunks


def chunk_windows(arrays: SessionArrays, part: slice, spec: WindowSpec) -> Windows:
    """The windows of one of `session_chunks`: the rows `compute_windows` gives for it."""
    a = arrays
    return _chunk_windows(a.session[part], a.time_ms[part], a.action[part], a.scroll[part], spec, part.start)


def _session_starts(session: np.ndarray) -> np.ndarray:
    if not len(session):
        return np.empty(0, np.int64)
    return np.flatnonzero(np.r_[True, session[1:] != session[:-1]])


def _chunk_windows(
    session: np.ndarray, time_ms: np.ndarray, action: np.ndarray, scroll: np.ndarray, spec: WindowSpec, offset: int
) -> Windows:
    """The windows of whole sessions; `offset` is the first action's index in the SessionArrays."""
    starts = _session_starts(session)
    first_ms = time_ms[starts]
    last_ms = time_ms[np.r_[starts[1:], len(session)] - 1]
    local = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(session)]))
    # One sorted key for (session, time since its first action): one search finds any window bound.
    stride = int((last_ms - first_ms).max()) + spec.window_ms + spec.horizon_ms + 1
    key = local * stride + (time_ms - first_ms[local])

    per_session = (last_ms - first_ms) // spec.step_ms
    owner = np.repeat(np.arange(len(starts)), per_session)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(per_session) - per_session, per_session) + 1
    since_first = rank * spec.step_ms  # window end, relative to the session's first action
    base = owner * stride
    hi = np.searchsorted(key, base + since_first, side="right")
    lo = np.searchsorted(key, base + np.maximum(since_first - spec.window_ms, 0), side="left")
    kept = np.flatnonzero(hi - lo >= spec.min_actions)
    owner, since_first, base, lo, hi = owner[kept], since_first[kept], base[kept], lo[kept], hi[kept]
    end_ms = first_ms[owner] + since_first

    features = _features(time_ms, action, scroll, lo, hi, end_ms, since_first, spec)
    label_hi = np.searchsorted(key, base + since_first + spec.horizon_ms, side="right")
    ads = prefix_sums(action == CLICK_AD, np.int64)
    label = (ads[label_hi] > ads[hi]).astype(np.int8)
    return Windows(session[starts][owner], end_ms, features, label, hi - lo, offset + hi - 1)


def _features(
    time_ms: np.ndarray,
    action: np.ndarray,
    scroll: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    end_ms: np.ndarray,
    since_first: np.ndarray,
    spec: WindowSpec,
) -> np.ndarray:
    """(20, windows) for windows holding actions lo..hi-1."""
    seconds = spec.window_seconds
    n = hi - lo
    counts = np.empty((len(ACTIONS), len(lo)), dtype=np.int64)
    for code in range(len(ACTIONS)):  # nine prefix sums, one array at a time
        prefix = prefix_sums(action == code, np.int64)
        counts[code] = prefix[hi] - prefix[lo]
    rates = counts[list(COUNTED_ACTIONS)] / seconds  # features 4-11
    down = window_sums(np.where(action == SCROLL_DOWN, scroll, 0.0), lo, hi)
    up = window_sums(np.where(action == SCROLL_UP, scroll, 0.0), lo, hi)
    scrolls = counts[SCROLL_DOWN] + counts[SCROLL_UP]
    density = n / seconds
    span_ms = time_ms[hi - 1] - time_ms[lo]

    out = np.empty((len(FEATURE_NAMES), len(lo)))
    out[0] = (end_ms - time_ms[hi - 1]) / 1000
    out[1] = np.where(n > 1, span_ms / np.maximum(n - 1, 1) / 1000, 0.0)
    out[2] = since_first / 1000
    out[3:11] = rates
    click, hover, blur, focus = (rates[COUNTED_ACTIONS.index(code)] for code in (CLICK, HOVER, BLUR, FOCUS))
    out[11] = np.maximum(0.0, down - up)
    out[12] = density
    out[13] = np.clip(0.5 + 10 * (focus - blur) + 0.1 * density, 0.0, 1.0)
    out[14] = np.where(scrolls > 0, (down + up) / np.maximum(scrolls, 1), 0.0)
    out[15] = click / (hover + HOVER_SMOOTHING)
    out[16] = blur
    out[17] = action_entropy(counts, n)
    out[18], out[19] = gap_statistics(time_ms, lo, hi, spec.window_ms)
    return out
