"""The oracle of `session_actions`: the exact probability of an ad click after a window end.

The state of `behaviour.py` is all the process remembers, and the recorded day holds all of it:
the mode and the ticks since the last action follow from the window's last action (its type and
time: tick k's action lies in `(start + k·tick, start + (k+1)·tick]`, the opening focus at the
start itself); the user's traits from the users table (drawn once per user from the seed); the
session's plan (start, planned end, the first tick a `close_tab` may be drawn) from the day's
interactions, as the generator draws it before its first tick. So the oracle reads the recorded
stream (`RecordedDay`, `oracle_probabilities`) and never re-runs the day's ticks; a stream whose
sessions do not open and end as the plan says (another seed, other interactions) is refused
(`stream_mismatch`).

Given that state, the probability of a `click_ad` in `(end, end + horizon]` is computed exactly,
not estimated: a forward recursion over the states reachable in the horizon with the very
per-tick probabilities the generator draws from. Two parts of the mass are tracked, each "open,
and no ad click since the end": `waiting`, no action since the end either (its mode is the
end's, its ticks since the last action the end's plus the steps taken); and `acted[m, i]`, at
least one action since the end, now in mode m, i ticks since the last one. The ticks only matter
through the state rule (10 s), which an action inside the horizon reaches only when the horizon
exceeds 10.25 s; otherwise i has a single bin. A tick's outcomes are folded into "no action"
and "an action that leaves the session open in mode m" (a `close_tab` ends the mass; an ad click
is the event counted).

Vectorised: the recursion steps through the horizon's ticks (40 at 10 s) over a batch of windows
at once, the window axis last (contiguous). What changes inside a window's horizon (close_tab
allowed from a tick, the waiting mass turning stale, the session's planned end) changes once, at
a step known in advance, so each is an update of the few windows concerned at that step, not a
selection over all windows at every step; the ad hazard is computed once for windows past the
warm-up. Windows are batched by end tick, so most batches are past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from poppy_pipeline.behaviour.model import (
    ACTIONS,
    CLICK_AD,
    CLOSE,
    CLOSED,
    MODE_AFTER,
    OPEN_MODES,
    STATE_RULE_TICKS,
    TICK_MS,
    BehaviourSettings,
    UserTraits,
    action_probabilities,
    ad_rates,
    warm_up,
)
from poppy_pipeline.behaviour.sessions import SessionPlan, SessionSimulation, plan_sessions, sessions_with_actions
from poppy_pipeline.common.threads import map_in_threads

# Windows per batch of the recursion: its arrays (about 30 per window) stay in the CPU's cache.
ORACLE_CHUNK = 16_384


@dataclass(frozen=True)
class RecordedDay:
    """What the oracle needs of a simulated day besides its recorded actions.

    The users' traits and the sessions' plan: both drawn before the generator's first tick (from
    the seed, the users and the day's interactions), so building them costs O(users + sessions).
    """

    settings: BehaviourSettings
    day: date
    traits: UserTraits
    plan: SessionPlan

    @classmethod
    def of(cls, simulation: SessionSimulation) -> RecordedDay:
        """The same, taken from a simulation at hand (nothing drawn again)."""
        return cls(simulation.model.settings, simulation.day, simulation.model.traits, simulation.plan)


def recorded_day(
    settings: BehaviourSettings, seed: int, traits: UserTraits, interactions: pd.DataFrame, day: date
) -> RecordedDay:
    """The plan of the day's sessions, as `simulate_sessions` draws it (`traits`: `draw_traits(seed, users)`;
    only the `action_session_share` of the sessions that got actions)."""
    plan = plan_sessions(seed, traits, sessions_with_actions(settings, seed, interactions), day)
    return RecordedDay(settings, day, traits, plan)


def stream_mismatch(
    recorded: RecordedDay, session_ids: np.ndarray, user_ids: np.ndarray, first_ms: np.ndarray, last_ms: np.ndarray
) -> str | None:
    """Why recorded sessions are not the plan's (None when they are).

    Per session (sorted by Session_ID): its user, its first and last action in epoch milliseconds.
    The generator opens each planned session at its start and closes it by its planned end.
    """
    plan = recorded.plan
    if len(session_ids) != len(plan.session_ids) or (np.asarray(session_ids) != plan.session_ids).any():
        return f"its sessions are not the {len(plan.session_ids):,} sessions of the day's interactions"
    start = plan.start_ms + _midnight_ms(recorded.day)
    checks = (
        ("of another user", np.asarray(user_ids) != plan.user_ids),
        ("not opening at their planned start", first_ms != start),
        ("lasting past their planned end", last_ms > start + plan.end_ticks * TICK_MS),
    )
    for what, wrong in checks:
        if wrong.any():
            return f"{int(wrong.sum()):,} sessions {what} (e.g. Session_ID {plan.session_ids[wrong.argmax()]})"
    return None


def oracle_probabilities(
    recorded: RecordedDay,
    session_ids: np.ndarray,
    end_ms: np.ndarray,
    last_ms: np.ndarray,
    last_action: np.ndarray,
    horizon_ms: int,
) -> np.ndarray:
    """P(a click_ad in (end, end + horizon] | the generator's state at end), exactly.

    Per window: its session, its end (epoch milliseconds, on the session's tick grid), and the
    time and action code of the session's last action at or before the end. `horizon_ms` is a
    whole number of ticks.
    """
    if horizon_ms <= 0 or horizon_ms % TICK_MS:
        raise ValueError(f"the oracle needs a horizon that is a positive multiple of {TICK_MS} ms, got {horizon_ms}")
    plan = recorded.plan
    sessions = np.searchsorted(plan.session_ids, session_ids)
    found = sessions < len(plan.session_ids)
    found[found] = plan.session_ids[sessions[found]] == np.asarray(session_ids)[found]
    if not found.all():
        raise ValueError(f"{recorded.day}: windows of sessions the day's plan does not have")
    start = plan.start_ms[sessions] + _midnight_ms(recorded.day)
    offset = np.asarray(end_ms, dtype=np.int64) - start
    if (offset % TICK_MS).any() or (offset < 0).any():
        raise ValueError(f"the oracle needs window ends on the session's {TICK_MS} ms grid from its start")
    if ((last_ms > end_ms) | (last_ms < start)).any():
        raise ValueError("the oracle needs each window's last action between its session's start and the window end")
    end_tick = offset // TICK_MS
    last_tick = (last_ms - start - 1) // TICK_MS  # the opening focus, at the start itself, is tick -1
    mode = MODE_AFTER[last_action]
    probability = np.zeros(len(end_tick))
    open_windows = np.flatnonzero(mode != CLOSED)  # a closed session clicks nothing
    open_windows = open_windows[np.argsort(end_tick[open_windows], kind="stable")]  # batches past the warm-up
    users, rows = np.unique(plan.user_rows[sessions[open_windows]], return_inverse=True)
    tables = _UserTables.of(recorded.settings, _subset(recorded.traits, users))

    def batch_probabilities(first: int) -> None:
        part, part_rows = open_windows[first : first + ORACLE_CHUNK], rows[first : first + ORACLE_CHUNK]
        if len(part) == 1:
            # One window is computed as two (itself twice): over a window axis of length 1, numpy sums
            # the age bins (horizons past the state rule) in another order, and the last bits differ.
            part, part_rows = np.repeat(part, 2), np.repeat(part_rows, 2)
        batch = _Batch(
            rows=part_rows,
            mode=mode[part],
            end_tick=end_tick[part],
            live_steps=plan.end_ticks[sessions[part]] - 1 - end_tick[part],  # that tick holds the forced close
            allowed_step=plan.close_from_ticks[sessions[part]] - end_tick[part],
            stale_step=STATE_RULE_TICKS - (end_tick[part] - 1 - last_tick[part]),
        )
        probability[part] = _click_within(recorded.settings, tables, batch, horizon_ms // TICK_MS)

    # The batches are independent (each computes what it would alone): side by side on the cores.
    map_in_threads(batch_probabilities, range(0, len(open_windows), ORACLE_CHUNK))
    return probability


def _midnight_ms(day: date) -> int:
    return int(np.datetime64(day, "ms").astype(np.int64))


def _subset(traits: UserTraits, rows: np.ndarray) -> UserTraits:
    return UserTraits(
        user_ids=traits.user_ids[rows],
        profile_codes=traits.profile_codes[rows],
        action_frequency=traits.action_frequency[rows],
        pause=traits.pause[rows],
        click=traits.click[rows],
        blur=traits.blur[rows],
    )


def _destinations() -> np.ndarray:
    """(action, open mode): 1 where an action leaves the session open (and unclicked) in that mode."""
    table = np.zeros((len(ACTIONS), OPEN_MODES))
    for code in range(len(ACTIONS)):
        if code not in (CLOSE, CLICK_AD):
            table[code, MODE_AFTER[code]] = 1.0
    return table


@dataclass(frozen=True)
class _UserTables:
    """Per user: a tick's folded outcomes, and the ad-click rates of the modes."""

    # (users, allowed, stale, mode, 1 + open mode): P(no action), P(an action into mode m), no ad click.
    moves: np.ndarray
    rates: np.ndarray  # (users, open mode): ad clicks per second at full warm-up (0 away)

    @classmethod
    def of(cls, settings: BehaviourSettings, traits: UserTraits) -> _UserTables:
        outcomes = action_probabilities(settings, traits)[:, :OPEN_MODES]  # (users, mode, stale, allowed, outcome)
        moves = np.empty((*outcomes.shape[:4], 1 + OPEN_MODES))
        moves[..., 0] = outcomes[..., 0]
        moves[..., 1:] = outcomes[..., 1:] @ _destinations()
        return cls(np.ascontiguousarray(moves.transpose(0, 3, 2, 1, 4)), ad_rates(settings, traits)[:, :OPEN_MODES])


@dataclass(frozen=True)
class _Batch:
    """Windows of one batch: their user's row in the tables, state at the end, and when things change.

    Steps count the horizon's ticks from the end (step s is tick end + s): the session's ticks
    stop counting from `live_steps`, close_tab is allowed from `allowed_step`, the waiting mass
    is stale from `stale_step`.
    """

    rows: np.ndarray
    mode: np.ndarray
    end_tick: np.ndarray
    live_steps: np.ndarray
    allowed_step: np.ndarray
    stale_step: np.ndarray


def _click_within(settings: BehaviourSettings, tables: _UserTables, batch: _Batch, horizon: int) -> np.ndarray:
    count = len(batch.rows)
    everyone = np.arange(count)
    moves = np.ascontiguousarray(tables.moves[batch.rows].transpose(1, 2, 3, 4, 0))  # (allowed, stale, mode, 4, W)
    rates = np.ascontiguousarray(tables.rates[batch.rows].T)  # (mode, W)
    # A ramp that is over within a session's first tick (or off): the hazard is the same in every
    # tick, so "no ad click" folds into the moves once. Otherwise the loop below switches to the
    # full hazard once the whole batch is past the ramp.
    warmed_up = bool(warm_up(settings, 0) >= 1.0)
    if warmed_up:
        ad = _ad_click(rates, 1.0)
        own_ad = ad[batch.mode, everyone]
        moves *= (1 - ad)[:, None]
    allowed = (batch.allowed_step <= 0).astype(np.int64)
    acted_moves = moves[allowed, :, :, :, everyone].transpose(1, 2, 3, 0).copy()  # (stale, mode, 4, W)
    own_moves = moves[allowed, (batch.stale_step <= 0).astype(np.int64), batch.mode, :, everyone].T.copy()  # (4, W)
    bins = STATE_RULE_TICKS + 1 if horizon > STATE_RULE_TICKS + 1 else 1
    acted = np.zeros((OPEN_MODES, bins, count))
    waiting = (batch.live_steps > 0).astype(np.float64)  # no tick of the horizon counts
    clicked = np.zeros(count)
    changes = _Changes.of(batch, horizon)
    # Once every window of the batch is past the warm-up (warm_up = 1 exactly), the hazard stops
    # changing: computed once, the very values each step would compute.
    full = _FullHazard.of(rates, batch.mode)
    for step in range(horizon):
        changes.apply(step, moves, acted_moves, own_moves, acted, waiting)
        if not warmed_up:
            if np.all(warm_up(settings, batch.end_tick.min() + step) >= 1.0):
                ad, own_ad, keep, own_keep = full.ad, full.own_ad, full.keep, full.own_keep
            else:
                ad = _ad_click(rates, warm_up(settings, batch.end_tick + step))
                own_ad = ad[batch.mode, everyone]
                keep, own_keep = (1 - ad)[:, None], 1 - own_ad
        clicked += ((acted[:, 0] if bins == 1 else acted.sum(axis=1)) * ad).sum(axis=0) + waiting * own_ad
        if not warmed_up:
            acted *= keep
            waiting *= own_keep
        _move(acted, acted_moves)
        acted[:, 0] += waiting * own_moves[1:]
        waiting *= own_moves[0]
    return clicked


def _ad_click(rates: np.ndarray, warm: np.ndarray | float) -> np.ndarray:
    """P(click_ad in a tick), as `BehaviourModel.ad_click_probability` computes it."""
    return -np.expm1(-(rates * warm) * TICK_MS / 1000)


@dataclass(frozen=True)
class _FullHazard:
    """A tick's ad-click probability at full warm-up, per mode and window, and what it leaves."""

    ad: np.ndarray  # (mode, W)
    own_ad: np.ndarray  # (W,): in the window's own mode
    keep: np.ndarray  # (mode, 1, W): 1 − ad
    own_keep: np.ndarray  # (W,)

    @classmethod
    def of(cls, rates: np.ndarray, mode: np.ndarray) -> _FullHazard:
        ad = _ad_click(rates, 1.0)
        own_ad = ad[mode, np.arange(len(mode))]
        return cls(ad, own_ad, (1 - ad)[:, None], 1 - own_ad)


@dataclass(frozen=True)
class _Changes:
    """Per step, the windows whose close_tab becomes allowed, whose waiting mass turns stale, or whose
    session stops counting (found once by sorting, not by comparing every window at every step)."""

    allowed: list[np.ndarray]
    stale: list[np.ndarray]
    ended: list[np.ndarray]
    batch: _Batch

    @classmethod
    def of(cls, batch: _Batch, horizon: int) -> _Changes:
        allowed, stale, ended = (
            _by_step(steps, horizon) for steps in (batch.allowed_step, batch.stale_step, batch.live_steps)
        )
        return cls(allowed, stale, ended, batch)

    def apply(
        self,
        step: int,
        moves: np.ndarray,
        acted_moves: np.ndarray,
        own_moves: np.ndarray,
        acted: np.ndarray,
        waiting: np.ndarray,
    ) -> None:
        if not step:
            return
        if len(self.allowed[step]):
            acted_moves[..., self.allowed[step]] = moves[1][..., self.allowed[step]]
        changed = np.concatenate([self.allowed[step], self.stale[step]])
        if len(changed):
            allowed = (self.batch.allowed_step[changed] <= step).astype(np.int64)
            stale = (self.batch.stale_step[changed] <= step).astype(np.int64)
            own_moves[:, changed] = moves[allowed, stale, self.batch.mode[changed], :, changed].T
        if len(self.ended[step]):
            acted[..., self.ended[step]] = 0.0
            waiting[self.ended[step]] = 0.0


def _by_step(steps: np.ndarray, horizon: int) -> list[np.ndarray]:
    """For each step 0..horizon-1, the windows whose `steps` value is that step."""
    inside = np.flatnonzero((steps >= 0) & (steps < horizon))  # only these are sorted
    order = inside[np.argsort(steps[inside], kind="stable")]
    bounds = np.searchsorted(steps[order], np.arange(horizon + 1))
    return [order[bounds[step] : bounds[step + 1]] for step in range(horizon)]


def _move(acted: np.ndarray, moves: np.ndarray) -> None:
    """One tick of the mass that has acted: no action (it ages a tick) or an action (to its mode, age 0)."""
    if acted.shape[1] == 1:
        mass = acted[:, 0]
        acted[:, 0] = mass * moves[0, :, 0] + (mass[:, None] * moves[0, :, 1:]).sum(axis=0)
        return
    fresh = acted[:, :STATE_RULE_TICKS].sum(axis=1)
    flows = (fresh[:, None] * moves[0, :, 1:]).sum(axis=0) + (acted[:, STATE_RULE_TICKS, None] * moves[1, :, 1:]).sum(
        axis=0
    )
    oldest = acted[:, STATE_RULE_TICKS - 1] * moves[0, :, 0] + acted[:, STATE_RULE_TICKS] * moves[1, :, 0]
    acted[:, 1:STATE_RULE_TICKS] = acted[:, : STATE_RULE_TICKS - 1] * moves[0, :, None, 0]
    acted[:, STATE_RULE_TICKS] = oldest
    acted[:, 0] = flows


def ranking_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The ROC AUC of `scores` for 0/1 `labels` (ties count one half), from one sort: the
    Mann-Whitney statistic with average ranks, as `sklearn.metrics.roc_auc_score` gives it."""
    order = np.argsort(scores)
    ordered, positive = scores[order], labels[order] == 1
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.empty(0, np.int64)
    sizes = np.diff(np.r_[starts, len(ordered)])
    average_rank = starts + (sizes + 1) / 2
    positives = np.add.reduceat(positive, starts) if len(starts) else np.empty(0, np.int64)
    n_positive = int(positive.sum())
    n_negative = len(ordered) - n_positive
    rank_sum = float((average_rank * positives).sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)
