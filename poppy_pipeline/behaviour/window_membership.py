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

from poppy_pipeline.behaviour.features import WindowSpec
from poppy_pipeline.behaviour.oracle import RecordedDay
from poppy_pipeline.behaviour.windows import SessionArrays, oracle_windows, session_arrays, session_windows


@dataclass(frozen=True)
class CheckedWindows:
    """A day's windows and the recount's problems by rule (all 0 when every window is right)."""

    frame: pd.DataFrame
    problems: dict[str, int]


def checked_windows(actions: pd.DataFrame, spec: WindowSpec, recorded: RecordedDay | None = None) -> CheckedWindows:
    """The windows of a `session_actions` table (with the oracle when `recorded` is the day's plan),
    and their recount: one sort of the actions for both."""
    return checked_arrays(session_arrays(actions), spec, recorded)


def checked_arrays(arrays: SessionArrays, spec: WindowSpec, recorded: RecordedDay | None = None) -> CheckedWindows:
    """`checked_windows` of actions already sorted by `session_arrays`."""
    frame = session_windows(arrays, spec) if recorded is None else oracle_windows(arrays, recorded, spec)
    return CheckedWindows(frame, session_membership(arrays, frame, spec))


def membership_problems(actions: pd.DataFrame, windows: pd.DataFrame, spec: WindowSpec) -> dict[str, int]:
    """Windows whose actions do not all belong to their session, by rule (all 0 when they do)."""
    return session_membership(session_arrays(actions), windows, spec)


def session_membership(arrays: SessionArrays, windows: pd.DataFrame, spec: WindowSpec) -> dict[str, int]:
    """`membership_problems`, with the actions sorted by `session_arrays`."""
    return SessionIndex(arrays, spec).problems(windows)


class SessionIndex:
    """The day's sessions, searchable by (session, time): built once, asked for any of the day's windows."""

    def __init__(self, arrays: SessionArrays, spec: WindowSpec) -> None:
        self.arrays, self.spec = arrays, spec
        self.ids = pd.Index(arrays.session_ids)
        stamps = arrays.time_ms
        starts = np.flatnonzero(np.r_[True, arrays.session[1:] != arrays.session[:-1]]) if len(stamps) else stamps
        finals = np.r_[starts[1:], len(stamps)][: len(starts)] - 1
        self.origin = int(stamps.min()) if len(stamps) else 0
        self.span = int(stamps.max() - self.origin) + spec.window_ms + 1 if len(stamps) else 1
        self.keys = arrays.session * self.span + (stamps - self.origin)  # sorted: by session, then time
        self.first, self.last = stamps[starts], stamps[finals]

    def problems(self, windows: pd.DataFrame) -> dict[str, int]:
        """Windows (of this day's sessions, any subset) whose actions do not all belong to their session."""
        spec, arrays = self.spec, self.arrays
        code = self.ids.get_indexer(windows["Session_ID"])
        known = code >= 0
        code = np.where(known, code, 0)
        end = windows["Window_End"].to_numpy().astype("datetime64[ms]").view(np.int64)
        probe = code * self.span + (end - self.origin)
        within = np.searchsorted(self.keys, probe, side="right")
        recount = within - np.searchsorted(self.keys, probe - spec.window_ms, side="left")
        has_actions = len(arrays.time_ms) > 0
        first, last = (self.first[code], self.last[code]) if has_actions else (end, end)
        owner = arrays.user_ids[code] if has_actions else windows["User_ID"].to_numpy()
        counted = np.rint(windows["interaction_density"].to_numpy(float) * spec.window_seconds)
        return {
            "unknown_session": int((~known).sum()),
            "another_user": int((known & (owner != windows["User_ID"].to_numpy())).sum()),
            "end_outside_session": int((known & ((end < first) | (end > last))).sum()),
            "actions_miscounted": int((known & (recount != counted)).sum()),
            "too_few_actions": int((known & (recount < spec.min_actions)).sum()),
        }
