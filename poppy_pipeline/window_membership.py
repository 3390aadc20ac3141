"""The `windows_within_sessions` recount: every window's actions belong to its session.

Each window's actions are recounted from its session's timestamps (`[end − window, end]`) and
must be the ones its `interaction_density` counted, at least `min_actions`, with the window's
end inside the session and the session's user. The recount searches the actions sorted by
(session, time), so the step that made the windows from that very sort (`checked_windows`)
recounts without sorting the day's actions again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from poppy_pipeline.oracle import RecordedDay
from poppy_pipeline.windows import SessionArrays, WindowSpec, oracle_windows, session_arrays, session_windows


@dataclass(frozen=True)
class CheckedWindows:
    """A day's windows and the recount's problems by rule (all 0 when every window is right)."""

    frame: pd.DataFrame
    problems: dict[str, int]


def checked_windows(actions: pd.DataFrame, spec: WindowSpec, recorded: RecordedDay | None = None) -> CheckedWindows:
    """The windows of a `session_actions` table (with the oracle when `recorded` is the day's plan),
    and their recount: one sort of the actions for both."""
    arrays = session_arrays(actions)
    frame = session_windows(arrays, spec) if recorded is None else oracle_windows(arrays, recorded, spec)
    return CheckedWindows(frame, session_membership(arrays, frame, spec))


def membership_problems(actions: pd.DataFrame, windows: pd.DataFrame, spec: WindowSpec) -> dict[str, int]:
    """Windows whose actions do not all belong to their session, by rule (all 0 when they do)."""
    return session_membership(session_arrays(actions), windows, spec)


def session_membership(arrays: SessionArrays, windows: pd.DataFrame, spec: WindowSpec) -> dict[str, int]:
    """`membership_problems`, with the actions sorted by `session_arrays`."""
    code = pd.Index(arrays.session_ids).get_indexer(windows["Session_ID"])
    known = code >= 0
    code = np.where(known, code, 0)
    stamps = arrays.time_ms
    starts = np.flatnonzero(np.r_[True, arrays.session[1:] != arrays.session[:-1]]) if len(stamps) else stamps
    finals = np.r_[starts[1:], len(stamps)] - 1
    origin = int(stamps.min()) if len(stamps) else 0
    span = int(stamps.max() - origin) + spec.window_ms + 1 if len(stamps) else 1
    keys = arrays.session * span + (stamps - origin)  # sorted: by session, then time
    end = windows["Window_End"].to_numpy().astype("datetime64[ms]").view(np.int64)
    probe = code * span + (end - origin)
    recount = np.searchsorted(keys, probe, side="right") - np.searchsorted(keys, probe - spec.window_ms, side="left")
    first, last = (stamps[starts][code], stamps[finals][code]) if len(stamps) else (end, end)
    owner = arrays.user_ids[code] if len(stamps) else windows["User_ID"].to_numpy()
    counted = np.rint(windows["interaction_density"].to_numpy(float) * spec.window_seconds)
    return {
        "unknown_session": int((~known).sum()),
        "another_user": int((known & (owner != windows["User_ID"].to_numpy())).sum()),
        "end_outside_session": int((known & ((end < first) | (end > last))).sum()),
        "actions_miscounted": int((known & (recount != counted)).sum()),
        "too_few_actions": int((known & (recount < spec.min_actions)).sum()),
    }
