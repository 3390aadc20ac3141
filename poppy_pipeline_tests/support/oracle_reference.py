"""The oracle as it was before issue 14, kept as the reference the new one must equal.

It recovered the generator's state at each window end from a re-simulation of the day
(`SessionSimulation.action_session/action_tick/action_code`) and stepped a forward recursion over
the full per-tick outcome table. `poppy_pipeline/behaviour/oracle.py` now reads the state from the recorded
stream and the day's plan; `test_oracle.py` checks that both give the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poppy_pipeline.behaviour.model import (
    ACTIONS,
    CLICK_AD,
    CLOSE,
    CLOSED,
    MODE_AFTER,
    OPEN_MODES,
    STATE_RULE_TICKS,
    TICK_MS,
)
from poppy_pipeline.behaviour.sessions import SessionSimulation

ORACLE_CHUNK = 20_000


def reference_oracle(
    simulation: SessionSimulation, session_ids: np.ndarray, window_ends: np.ndarray, horizon_ms: int
) -> np.ndarray:
    """P(a click_ad in (end, end + horizon] | the generator's state at end), exactly.

    `window_ends` are datetime64 values on their session's tick grid; `horizon_ms` a whole number
    of ticks. A forward recursion over (mode, ticks since the last action) for the horizon's
    ticks, with the generator's own per-tick outcome table.
    """
    if horizon_ms <= 0 or horizon_ms % TICK_MS:
        raise ValueError(f"the oracle needs a horizon that is a positive multiple of {TICK_MS} ms, got {horizon_ms}")
    plan = simulation.plan
    sessions = np.searchsorted(plan.session_ids, session_ids)
    found = sessions < len(plan.session_ids)
    found[found] = plan.session_ids[sessions[found]] == np.asarray(session_ids)[found]
    if not found.all():
        raise ValueError(f"{simulation.day}: windows of sessions the simulation does not have")
    offset = (np.asarray(window_ends).astype("datetime64[ms]") - np.datetime64(simulation.day, "ms")).astype(np.int64)
    offset -= plan.start_ms[sessions]
    if (offset % TICK_MS).any() or (offset < 0).any():
        raise ValueError(f"the oracle needs window ends on the session's {TICK_MS} ms grid from its start")
    end_tick = offset // TICK_MS
    mode, idle_ticks = _state_at(simulation, sessions, end_tick)
    return _click_within(simulation, sessions, end_tick, mode, idle_ticks, horizon_ms // TICK_MS)


def _state_at(simulation: SessionSimulation, sessions: np.ndarray, end_tick: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mode and ticks since the last action at each window end (the last action is in a tick before it)."""
    stride = int(simulation.plan.end_ticks.max()) + 2 if len(simulation.plan.end_ticks) else 2
    keys = simulation.action_session * stride + simulation.action_tick + 1
    last = np.searchsorted(keys, sessions * stride + end_tick, side="right") - 1
    return MODE_AFTER[simulation.action_code[last]], end_tick - 1 - simulation.action_tick[last]


def _click_within(
    simulation: SessionSimulation,
    sessions: np.ndarray,
    end_tick: np.ndarray,
    mode: np.ndarray,
    idle_ticks: np.ndarray,
    horizon_ticks: int,
) -> np.ndarray:
    probability = np.zeros(len(sessions))
    open_windows = np.flatnonzero(mode != CLOSED)  # a closed session clicks nothing
    for first in range(0, len(open_windows), ORACLE_CHUNK):
        part = open_windows[first : first + ORACLE_CHUNK]
        recursion = _Recursion(simulation, sessions[part], end_tick[part], horizon_ticks)
        probability[part] = recursion.run(mode[part], idle_ticks[part])
    return probability


def _continuing() -> np.ndarray:
    """(action, mode): 1 where an action leaves the session open (and unclicked) in that mode."""
    table = np.zeros((len(ACTIONS), OPEN_MODES))
    for code in range(len(ACTIONS)):
        if code not in (CLOSE, CLICK_AD):
            table[code, MODE_AFTER[code]] = 1.0
    return table


_CONTINUING = _continuing()


@dataclass
class _Recursion:
    """The forward recursion of the oracle, for a batch of windows.

    Two parts of the probability mass are tracked, each "open, and no ad click since the end":
    `waiting[w]`, no action since the end either (the mode is still the end's, the ticks since
    the last action are known: the end's plus the steps taken); and `acted[w, m, i]`, at least
    one action since the end, now in mode m, i ticks since the last one. The ticks only matter
    through the state rule (10 s), which an action inside the horizon can reach only when the
    horizon exceeds 10.25 s; otherwise i has a single bin. Each tick moves the mass exactly as
    the generator's draw would.
    """

    simulation: SessionSimulation
    sessions: np.ndarray
    end_tick: np.ndarray
    horizon_ticks: int

    def run(self, mode: np.ndarray, idle_ticks: np.ndarray) -> np.ndarray:
        plan, model = self.simulation.plan, self.simulation.model
        rows = plan.user_rows[self.sessions]
        last_live_tick = plan.end_ticks[self.sessions] - 1  # that tick holds the forced close, no ad
        close_from = plan.close_from_ticks[self.sessions]
        bins = STATE_RULE_TICKS + 1 if self.horizon_ticks > STATE_RULE_TICKS + 1 else 1
        # The outcome tables of these windows' users, by (close allowed, stale): (window, mode, outcome).
        tables = np.ascontiguousarray(model.actions[rows, :OPEN_MODES].transpose(3, 2, 0, 1, 4))
        everyone = np.arange(len(rows))
        waiting = np.ones(len(rows))
        acted = np.zeros((len(rows), OPEN_MODES, bins))
        clicked = np.zeros(len(rows))
        for step in range(self.horizon_ticks):
            tick = self.end_tick + step
            live = tick < last_live_tick
            allowed = (tick >= close_from)[:, None, None]
            fresh_cells = np.where(allowed, tables[1, 0], tables[0, 0])  # (window, mode, outcome)
            stale_cells = np.where(allowed, tables[1, 1], tables[0, 1])
            ad = model.ad_click_probability(rows[:, None], np.arange(OPEN_MODES), tick[:, None])  # (window, mode)
            # Mass that has acted: clicks, then ages or moves to the mode of its next action.
            clicked += np.where(live, (acted.sum(axis=2) * ad).sum(axis=1), 0.0)
            acted *= (1 - ad)[..., None]
            flows = acted[..., : min(bins, STATE_RULE_TICKS)].sum(axis=2)[..., None] * fresh_cells[..., 1:]
            if bins > 1:
                flows += acted[..., STATE_RULE_TICKS, None] * stale_cells[..., 1:]
            acted = self._aged(acted, fresh_cells[..., 0], stale_cells[..., 0])
            acted[..., 0] += flows.sum(axis=1) @ _CONTINUING
            # Mass still waiting for its first action since the end.
            waiting_ad = ad[everyone, mode]
            clicked += np.where(live, waiting * waiting_ad, 0.0)
            waiting = waiting * (1 - waiting_ad)
            is_stale = (idle_ticks + step >= STATE_RULE_TICKS)[:, None]
            waiting_cells = np.where(is_stale, stale_cells[everyone, mode], fresh_cells[everyone, mode])
            acted[..., 0] += (waiting[:, None] * waiting_cells[:, 1:]) @ _CONTINUING
            waiting = waiting * waiting_cells[:, 0]
        return clicked

    @staticmethod
    def _aged(acted: np.ndarray, none_fresh: np.ndarray, none_stale: np.ndarray) -> np.ndarray:
        """One tick without an action: i → i + 1, the last (stale) bin keeping its mass."""
        if acted.shape[2] == 1:
            return acted * none_fresh[..., None]
        aged = np.zeros_like(acted)
        aged[..., 1:STATE_RULE_TICKS] = acted[..., : STATE_RULE_TICKS - 1] * none_fresh[..., None]
        aged[..., STATE_RULE_TICKS] = (
            acted[..., STATE_RULE_TICKS - 1] * none_fresh + acted[..., STATE_RULE_TICKS] * none_stale
        )
        return aged
