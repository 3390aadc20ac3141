"""One day of `session_actions`: the sessions' plans, their ticks, and the action table.

A day of `session_actions` is drawn for the sessions of that day's `simulated_interactions`
(same `Session_ID`s, users and day); only the session bounds are taken from them. Each tick is
drawn from the behaviour model's probabilities (`behaviour.py`), and `SessionSimulation` keeps
the latent state the oracle (`oracle.py`) needs.

**Sessions.** The session's length is a draw of the profile's session-length trait (10-300 s),
conditioned to cover the span of its interactions; its start is uniform among the starts that
cover them and keep it inside its day. It opens with `focus_window` at its start and ends with
the first `close_tab`: drawn like any action, but only once the session has lasted 10 s and has
passed its last interaction (the tab is known to be open until then), or else at its planned end.
Hence every interaction lies between the session's first and last action.

Vectorised: per-user and per-session quantities are whole-array operations; the simulation
steps through the ticks of the longest session (at most 1,200) with one array operation per
step over all open sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.behaviour.model import (
    ACTIONS,
    CLICK_AD,
    CLOSE,
    CLOSED,
    ENGAGED,
    FOCUS,
    MODE_AFTER,
    MODES,
    OUTCOMES,
    SCROLL_DOWN,
    SCROLL_UP,
    STATE_RULE_TICKS,
    TICK_MS,
    BehaviourModel,
    BehaviourSettings,
    UserTraits,
    build_behaviour,
    receptiveness_rank,
    warm_up,
)
from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation.profiles import PROFILES, SESSION_MAX_SEC, SESSION_MIN_SEC
from poppy_pipeline.simulation.sampling import ATOMS, beta_quantiles

DAY_MS = 86_400_000
SESSION_MIN_MS = int(SESSION_MIN_SEC * 1000)
SESSION_MAX_MS = int(SESSION_MAX_SEC * 1000)
# Spread of one scroll's distance around the user's median (log-normal).
SCROLL_AMOUNT_SIGMA = 0.3
SCROLL_AMOUNT_RANGE = (1, 5_000)


@dataclass(frozen=True)
class SessionPlan:
    """The day's sessions (sorted by Session_ID) and everything fixed at their start."""

    session_ids: np.ndarray
    user_ids: np.ndarray
    user_rows: np.ndarray  # row in the users table / traits
    start_ms: np.ndarray  # since the day's midnight
    end_ticks: np.ndarray  # planned length in ticks; the forced close is in tick end_ticks - 1
    close_from_ticks: np.ndarray  # first tick in which close_tab may be drawn


@dataclass(frozen=True)
class SessionSimulation:
    """A simulated day: the actions as a table, and the latent state the oracle needs."""

    day: date
    actions: pd.DataFrame  # ACTION_COLUMNS, in time order
    plan: SessionPlan
    model: BehaviourModel
    # Every action, sorted by (session, tick); the opening focus is tick -1.
    action_session: np.ndarray
    action_tick: np.ndarray
    action_code: np.ndarray


def simulate_sessions(
    settings: BehaviourSettings, seed: int, users: pd.DataFrame, interactions: pd.DataFrame, day: date
) -> SessionSimulation:
    """The actions of the day's sessions (the `action_session_share` of them that get actions);
    depends only on the seed, the users and this day's interactions."""
    interactions = sessions_with_actions(settings, seed, interactions)
    model = build_behaviour(settings, seed, users)
    plan = plan_sessions(seed, model.traits, interactions, day)
    session, tick, code = _run_ticks(seed, day, plan, model)
    actions = _action_table(settings, seed, day, plan, model.traits, session, tick, code)
    return SessionSimulation(day, actions, plan, model, session, tick, code)


def sessions_with_actions(settings: BehaviourSettings, seed: int, interactions: pd.DataFrame) -> pd.DataFrame:
    """The interactions of the sessions that get an action stream (all of them at share 1)."""
    if settings.action_session_share >= 1:
        return interactions
    draw = pd.util.hash_pandas_object(interactions["Session_ID"], index=False, hash_key=f"{seed:016d}"[-16:])
    return interactions[draw.to_numpy() < np.uint64(settings.action_session_share * 2.0**64)]


def unsimulable(interactions: pd.DataFrame, users: pd.DataFrame) -> str | None:
    """Why no actions can be simulated for these interactions (a real log's), or None if they can."""
    if interactions["Session_ID"].isna().any():
        return "the interactions have no Session_ID (a real interaction log)"
    if users["Profile"].isna().any():
        return "the users have no browsing Profile (a real log's users)"
    return None


def no_actions() -> pd.DataFrame:
    """An empty `session_actions` day, typed like a simulated one."""
    return pd.DataFrame(
        {
            "Session_ID": np.empty(0, np.int64),
            "User_ID": np.empty(0, np.int64),
            "Timestamp": np.empty(0, "datetime64[ms]"),
            "Action": pd.Categorical([], categories=ACTIONS),
            "Scroll_Amount": np.empty(0, np.int64),
        }
    )


@cache
def _session_length_quantiles() -> np.ndarray:
    return np.stack([beta_quantiles(*p.session_length) for p in PROFILES])


def plan_sessions(seed: int, traits: UserTraits, interactions: pd.DataFrame, day: date) -> SessionPlan:
    """Length and start of each session, so that it covers its interactions within its day."""
    session_ids, users, first_ms, last_ms = _interaction_sessions(interactions, day)
    rows = pd.Index(traits.user_ids).get_indexer(users)
    if (rows < 0).any():
        raise ValueError(f"{day}: sessions of users missing from users: {sorted(set(users[rows < 0]))[:5]}")
    rng = stream(seed, "sessions:plan", day)
    span = last_ms - first_ms
    length = _session_lengths(rng.random(len(session_ids)), traits.profile_codes[rows], span)
    lowest = np.maximum(0, last_ms - length)
    highest = np.minimum(first_ms, DAY_MS - 1 - length)
    start = lowest + (rng.random(len(session_ids)) * (highest - lowest + 1)).astype(np.int64)
    since_start = -(-(last_ms - start) // TICK_MS)  # ticks until the last interaction, rounded up
    return SessionPlan(
        session_ids=session_ids,
        user_ids=users,
        user_rows=rows,
        start_ms=start,
        end_ticks=length // TICK_MS,
        close_from_ticks=np.maximum(SESSION_MIN_MS // TICK_MS, since_start),
    )


def _interaction_sessions(interactions: pd.DataFrame, day: date) -> tuple[np.ndarray, ...]:
    """(Session_ID, User_ID, first ms, last ms) of each session, sorted by Session_ID."""
    ids = interactions["Session_ID"].to_numpy(np.int64)
    seconds = (interactions["Timestamp"].to_numpy().astype("datetime64[s]") - np.datetime64(day, "s")).astype(np.int64)
    if ((seconds < 0) | (seconds >= DAY_MS // 1000)).any():
        raise ValueError(f"{day}: simulated_interactions holds timestamps outside the day")
    order = np.argsort(ids, kind="stable")
    ids, seconds, user_ids = ids[order], seconds[order], interactions["User_ID"].to_numpy(np.int64)[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.empty(0, np.int64)
    users = user_ids[starts]
    if len(ids) and (user_ids != np.repeat(users, np.diff(np.r_[starts, len(ids)]))).any():
        raise ValueError(f"{day}: a Session_ID of simulated_interactions has more than one user")
    first = np.minimum.reduceat(seconds, starts) if len(ids) else seconds
    last = np.maximum.reduceat(seconds, starts) if len(ids) else seconds
    return ids[starts], users, first * 1000, last * 1000


def _session_lengths(uniforms: np.ndarray, profiles: np.ndarray, span_ms: np.ndarray) -> np.ndarray:
    """Milliseconds, a whole number of ticks: the profile's Beta trait given length ≥ span.

    The uniform is mapped onto the quantile atoms at or above the span (inverse-transform
    sampling of the truncated distribution).
    """
    table = _session_length_quantiles()
    span_trait = np.clip((span_ms / 1000 - SESSION_MIN_SEC) / (SESSION_MAX_SEC - SESSION_MIN_SEC), 0.0, 1.0)
    # Each profile's row is shifted by its code, so one search serves all (quantiles are in (0, 1)).
    stacked = (table + np.arange(len(PROFILES))[:, None]).ravel()
    lowest_atom = np.searchsorted(stacked, profiles + span_trait) - profiles * ATOMS
    atom = np.minimum(lowest_atom + (uniforms * (ATOMS - lowest_atom)).astype(np.int64), ATOMS - 1)
    seconds = SESSION_MIN_SEC + (SESSION_MAX_SEC - SESSION_MIN_SEC) * table[profiles, atom]
    ticks = np.ceil(seconds * 1000 / TICK_MS).astype(np.int64)
    lengths_ms: NDArray[np.int64] = np.clip(np.maximum(ticks * TICK_MS, span_ms), SESSION_MIN_MS, SESSION_MAX_MS)
    return lengths_ms


def _run_ticks(
    seed: int, day: date, plan: SessionPlan, model: BehaviourModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step all open sessions through their ticks; (session, tick, action) sorted by session, tick.

    One iteration per tick of the longest session (≤ 1,200), each an array operation over the
    sessions still running: the sessions are ordered longest first, so those are a prefix. A
    tick's uniform u decides an ad click (u < p_ad), else (u - p_ad) / (1 - p_ad) picks the
    outcome from the no-ad table: exactly the probabilities the oracle sums.
    """
    count = len(plan.session_ids)
    longest_first = np.argsort(-plan.end_ticks, kind="stable")
    end_ticks = plan.end_ticks[longest_first]
    close_from = plan.close_from_ticks[longest_first]
    user_rows = plan.user_rows[longest_first]
    cumulative = np.cumsum(model.actions, axis=-1).reshape(-1, OUTCOMES)
    cumulative[:, -1] = 1.0  # no gap above the last outcome from rounding
    no_action = np.ascontiguousarray(cumulative[:, 0])
    steps = int(end_ticks.max()) - 1 if count else 0
    rng = stream(seed, "sessions:ticks", day)
    mode = np.full(count, ENGAGED, dtype=np.int64)
    # Kept up to date as modes change (only the sessions that acted): the (user, mode) cell of the
    # ad-click table, and the base of the outcome table's row ((user * 4 + mode) * 2 + stale) * 2 + allowed.
    user_mode = user_rows * len(MODES) + mode
    row_base = user_mode * 4
    full_ad = None  # past the warm-up every tick's ad-click probabilities are the same table
    idle_ticks = np.zeros(count, dtype=np.int64)
    running = count
    sessions, ticks, codes = [], [], []
    for tick in range(steps):
        while running and end_ticks[running - 1] - 1 <= tick:  # the rest close in the tick end_ticks - 1
            running -= 1
        part = slice(0, running)
        if full_ad is None and np.all(warm_up(model.settings, tick) >= 1.0):
            full_ad = model.ad_click_table(tick).ravel()
        if full_ad is None:
            ad = model.ad_click_probability(user_rows[part], mode[part], tick)
        else:
            ad = full_ad[user_mode[part]]
        u = rng.random(running)  # one draw per running session: memory stays O(sessions)
        rows = row_base[part] + (idle_ticks[part] >= STATE_RULE_TICKS) * 2 + (tick >= close_from[part])
        drawn = (u - ad) / (1 - ad)
        # Most ticks pass without an action: only those past "no action" look up the other outcomes.
        acted = np.flatnonzero((u < ad) | (drawn >= no_action[rows]))
        code = (cumulative[rows[acted], :-1] <= drawn[acted, None]).sum(axis=1) - 1
        code[u[acted] < ad[acted]] = CLICK_AD
        idle_ticks[part] += 1
        idle_ticks[acted] = 0
        mode[acted] = MODE_AFTER[code]
        user_mode[acted] = user_rows[acted] * len(MODES) + mode[acted]
        row_base[acted] = user_mode[acted] * 4
        sessions.append(acted)
        ticks.append(np.full(len(acted), tick))
        codes.append(code)
    # The opening focus (tick -1) and the close at the planned end of sessions still open.
    still_open = np.flatnonzero(mode != CLOSED)
    session = np.concatenate([np.arange(count), *sessions, still_open])
    at_tick = np.concatenate([np.full(count, -1), *ticks, end_ticks[still_open] - 1])
    code = np.concatenate([np.full(count, FOCUS), *codes, np.full(len(still_open), CLOSE)]).astype(np.int64)
    session = longest_first[session]  # back to Session_ID order
    order = np.lexsort((at_tick, session))
    return session[order], at_tick[order], code[order]


def _action_table(
    settings: BehaviourSettings,
    seed: int,
    day: date,
    plan: SessionPlan,
    traits: UserTraits,
    session: np.ndarray,
    tick: np.ndarray,
    code: np.ndarray,
) -> pd.DataFrame:
    """Timestamps (a uniform millisecond inside each tick) and scroll amounts, in time order."""
    rng = stream(seed, "sessions:actions", day)
    jitter = rng.integers(1, TICK_MS + 1, size=len(tick))
    # The opening focus is at the start itself, the planned-end close at the end itself.
    jitter[tick == -1] = TICK_MS
    jitter[tick == plan.end_ticks[session] - 1] = TICK_MS
    offset_ms = plan.start_ms[session] + tick * TICK_MS + jitter
    scrolls = np.flatnonzero((code == SCROLL_DOWN) | (code == SCROLL_UP))
    receptive = receptiveness_rank(settings, traits)[plan.user_rows[session[scrolls]]]
    median = settings.scroll_px_max - (settings.scroll_px_max - settings.scroll_px_min) * receptive
    amount = np.zeros(len(code), dtype=np.int64)
    amount[scrolls] = np.clip(
        np.rint(median * np.exp(SCROLL_AMOUNT_SIGMA * rng.standard_normal(len(scrolls)))), *SCROLL_AMOUNT_RANGE
    )
    order = np.lexsort((plan.session_ids[session], offset_ms))
    return pd.DataFrame(
        {
            "Session_ID": plan.session_ids[session[order]],
            "User_ID": plan.user_ids[session[order]],
            "Timestamp": np.datetime64(day, "ms") + offset_ms[order].astype("timedelta64[ms]"),
            "Action": pd.Categorical.from_codes(code[order], categories=pd.Index(ACTIONS)),
            "Scroll_Amount": amount[order],
        },
        copy=False,  # the arrays are new: no copy of them into one 2-D block
    )
