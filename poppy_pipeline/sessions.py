"""Browsing sessions: the action stream of the interaction-modelling seed (001), and its oracle.

A day of `session_actions` is drawn for the sessions of that day's `simulated_interactions`
(same `Session_ID`s, users and day); only the session bounds are taken from them.

**The process.** Time runs on a grid of `TICK_MS` (250 ms) ticks from the session's start; at
most one action happens per tick, at a uniform millisecond inside the tick (so every timestamp
is in `(start + k·tick, start + (k+1)·tick]` and the order is strict). A session's state is

- its user's traits, drawn once per user from the profile's Beta distributions (action
  frequency, pause, click, blur; the profile's ad-click multiplier): timeless, like the user;
- a mode, set by the last action: `engaged` (after a scroll, click, hover or focus), `idle`
  (after `wait`: reading without acting), `away` (after `blur_window` or `click_ad`: another
  tab has the focus), `closed` (after `close_tab`);
- the ticks since the last action, which switches on seed 001's state rule: from the first
  tick that starts 10 s after the last action, the next action's type weights are blur ×2,
  close_tab ×3, scrolling ×0.5 (then renormalised);
- whether `close_tab` is allowed yet, and the session's planned end (below).

In each tick, given that state, one draw decides between a `click_ad`, one of the other actions,
or nothing:

- `click_ad` has a hazard per second of `ad_click_base_rate × profile multiplier ×
  exp(ad_click_trait_slope · (click trait − 0.5)) × warm-up × mode factor`: the warm-up ramps
  linearly from 0 to 1 over the session's first `ad_warmup_sec` (ads are clicked by people who
  have been reading a while); the mode factor is 1 engaged, `idle_ad_click_factor` idle and 0
  away. An ad click takes the user away (the ad opens elsewhere).
- otherwise an action happens with a per-mode Poisson rate: the action-frequency trait sets it
  while engaged, the pause trait how long an idle pause lasts, the blur trait how long the user
  stays away; its type follows weights that depend on the mode and the traits (clicks on the
  click trait, waits on the pause trait, blurs on the blur trait), then the state rule.

**Sessions.** The session's length is a draw of the profile's session-length trait (10-300 s),
conditioned to cover the span of its interactions; its start is uniform among the starts that
cover them and keep it inside its day. It opens with `focus_window` at its start and ends with
the first `close_tab`: drawn like any action, but only once the session has lasted 10 s and has
passed its last interaction (the tab is known to be open until then), or else at its planned end.
Hence every interaction lies between the session's first and last action.

**The oracle.** The state above is all the process remembers, so the probability of a
`click_ad` in `(end, end + horizon]` given the state at a window end is computed exactly, not
estimated: a forward recursion over the states reachable in the horizon (mode × ticks since
the last action) with the very per-tick probabilities the generator draws from
(`oracle_probabilities`). It needs window ends and horizons on the session's tick grid; the
extractor's ends are whole steps (10 s) after the session's first action, which is its start.

**Learnable, not trivial.** The hazard spans 80× across profiles and e^±4 with the click trait
(log-linear, as a logistic model likes it), ramps with the session's age and depends on the
mode. A user's receptiveness to ads (profile multiplier × click-trait factor) also sets how far
they scroll: careful readers move in small steps and so see the ads, skimmers jump past them
(median 60-600 px, log-normal spread 0.3). That is what makes it learnable: two minutes of
scrolling measure the step, and so the receptiveness, far better than the click count measures
the click trait (with the step drawn from the action-frequency trait instead, the model reached
only 0.88-0.92 of the oracle's AUC; given the true receptiveness, 0.985). The window features see
the mode only through the recent past (time since the last action, focus/blur balance) and never
the future draws. At the defaults (100 users, 30 days) `ad_click_base_rate` makes 6.0% of windows
positive over seeds 1-40 together; one run ranges widely (3.1-9.5% over seeds 1-10, 7.6% at seed
42), as its five heaviest users make 22-33% of its windows. The oracle's AUC is 0.88 at seed 42
(0.85-0.92 over seeds 1-10); the click model
reaches 0.95-0.98 of the oracle's AUC on held-out users (seeds 1-7 and 42).

Vectorised: per-user and per-session quantities are whole-array operations; the simulation
steps through the ticks of the longest session (at most 1,200) with one array operation per
step over all open sessions, and the oracle through the horizon's ticks (40 at 10 s).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache

import numpy as np
import pandas as pd

from poppy_pipeline.profiles import PROFILE_NAMES, PROFILES, SESSION_MAX_SEC, SESSION_MIN_SEC
from poppy_pipeline.randomness import stream
from poppy_pipeline.sampling import ATOMS, beta_quantiles, sample_quantiles
from poppy_pipeline.settings import SettingsError

ACTIONS: tuple[str, ...] = (
    "scroll_down",
    "scroll_up",
    "click",
    "hover",
    "wait",
    "focus_window",
    "blur_window",
    "close_tab",
    "click_ad",
)
SCROLL_DOWN, SCROLL_UP, CLICK, HOVER, WAIT, FOCUS, BLUR, CLOSE, CLICK_AD = range(len(ACTIONS))
ACTION_COLUMNS = ["Session_ID", "User_ID", "Timestamp", "Action", "Scroll_Amount"]

ENGAGED, IDLE, AWAY, CLOSED = range(4)
MODES = ("engaged", "idle", "away", "closed")
OPEN_MODES = 3
# The mode an action leaves the session in.
MODE_AFTER = np.array([ENGAGED, ENGAGED, ENGAGED, ENGAGED, IDLE, ENGAGED, AWAY, CLOSED, AWAY])

TICK_MS = 250
DAY_MS = 86_400_000
SESSION_MIN_MS = int(SESSION_MIN_SEC * 1000)
SESSION_MAX_MS = int(SESSION_MAX_SEC * 1000)
# Seed 001's state rule: after more than 10 s without an action, these weights are multiplied.
STATE_RULE_AFTER_MS = 10_000
STATE_RULE_TICKS = STATE_RULE_AFTER_MS // TICK_MS
STATE_RULE_MULTIPLIERS = np.array([0.5, 0.5, 1, 1, 1, 1, 2, 3, 1], dtype=float)
# Blur trait of the profiles that seed 001 gives none (only distracted_user has one).
DEFAULT_BLUR_TRAIT = (1.0, 4.0)
# Spread of one scroll's distance around the user's median (log-normal).
SCROLL_AMOUNT_SIGMA = 0.3
SCROLL_AMOUNT_RANGE = (1, 5_000)
# Outcomes of one tick: 0 = no action, 1 + action code otherwise.
OUTCOMES = 1 + len(ACTIONS)
# The oracle's recursion runs on batches of this many windows (bounded memory).
ORACLE_CHUNK = 20_000


@dataclass(frozen=True)
class BehaviourSettings:
    """Tunables of the action generator (run config: `resources.simulation.config.<field>`)."""

    # Ad clicks per second while engaged and warmed up, at profile multiplier 1 and click trait 0.5.
    ad_click_base_rate: float = 0.0005
    # The hazard while idle (reading without acting), relative to engaged.
    idle_ad_click_factor: float = 0.2
    # How the hazard follows the user's click trait c: × exp(slope · (c − 0.5)).
    ad_click_trait_slope: float = 8.0
    # The hazard ramps up linearly over the session's first seconds (0: no ramp).
    ad_warmup_sec: float = 60.0
    # Actions per second while engaged, from the lowest to the highest action-frequency trait.
    action_rate_min: float = 0.3
    action_rate_max: float = 2.0
    # Mean length of an idle pause in seconds, from the lowest to the highest pause trait.
    pause_sec_min: float = 3.0
    pause_sec_max: float = 25.0
    # Mean time away (another tab focused) in seconds, from the lowest to the highest blur trait.
    away_sec_min: float = 4.0
    away_sec_max: float = 40.0
    # Median scroll distance in pixels, from the most to the least ad-receptive user: careful
    # readers scroll in small steps (and so see the ads), skimmers jump past them.
    scroll_px_min: float = 60.0
    scroll_px_max: float = 600.0
    # The behaviour branch's volume: the share of the day's sessions that get an action stream,
    # chosen by a hash of (seed, Session_ID), so a day's choice never depends on other days.
    action_session_share: float = 1.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            _require(math.isfinite(value) and value >= 0, name, "must be a finite number ≥ 0", value)
        share = self.action_session_share
        _require(0 < share <= 1, "action_session_share", "must be in (0, 1]", share)
        for low, high in (
            ("action_rate_min", "action_rate_max"),
            ("pause_sec_min", "pause_sec_max"),
            ("away_sec_min", "away_sec_max"),
            ("scroll_px_min", "scroll_px_max"),
        ):
            _require(getattr(self, low) > 0, low, "must be > 0", getattr(self, low))
            _require(getattr(self, high) >= getattr(self, low), high, f"must be ≥ {low}", getattr(self, high))


def _require(ok: bool, name: str, rule: str, value: object) -> None:
    if not ok:
        raise SettingsError(f"simulation.{name} {rule}, got {value!r}")


# --- users: traits and the per-tick outcome table ------------------------------------------------


@dataclass(frozen=True)
class UserTraits:
    """Per user (rows of the users table): profile and the Beta-distributed traits in [0, 1]."""

    user_ids: np.ndarray
    profile_codes: np.ndarray
    action_frequency: np.ndarray
    pause: np.ndarray
    click: np.ndarray
    blur: np.ndarray

    @property
    def ad_click_multiplier(self) -> np.ndarray:
        return np.array([p.ad_click_multiplier for p in PROFILES])[self.profile_codes]


TRAITS = ("action_frequency", "pause", "click", "blur")


@cache
def _trait_quantiles(trait: str) -> np.ndarray:
    """(profiles, atoms) quantile table of one trait."""
    rows = []
    for profile in PROFILES:
        shape = DEFAULT_BLUR_TRAIT if trait == "blur" and profile.blur is None else getattr(profile, trait)
        rows.append(beta_quantiles(*shape))
    return np.stack(rows)


@cache
def _session_length_quantiles() -> np.ndarray:
    return np.stack([beta_quantiles(*p.session_length) for p in PROFILES])


def draw_traits(seed: int, users: pd.DataFrame) -> UserTraits:
    """Each user's traits: timeless (one stream, a row per user), so the same every day."""
    codes = pd.Categorical(users["Profile"], categories=PROFILE_NAMES).codes.astype(np.int64)
    if (codes < 0).any():
        unknown = sorted(set(users.loc[codes < 0, "Profile"].astype(str)))
        raise ValueError(f"users has unknown Profile values {unknown}; expected one of {list(PROFILE_NAMES)}")
    uniforms = stream(seed, "sessions:traits").random((len(users), len(TRAITS)))
    values = {trait: sample_quantiles(_trait_quantiles(trait), uniforms[:, i], codes) for i, trait in enumerate(TRAITS)}
    return UserTraits(user_ids=users["User_ID"].to_numpy(np.int64), profile_codes=codes, **values)


def _type_weights(traits: UserTraits) -> np.ndarray:
    """(users, open mode, action): relative weights of the action types, before the state rule."""
    f, p, c, b = traits.action_frequency, traits.pause, traits.click, traits.blur
    weights = np.zeros((len(f), OPEN_MODES, len(ACTIONS)))
    engaged, idle, away = weights[:, ENGAGED], weights[:, IDLE], weights[:, AWAY]
    # Engaged: mostly scrolling; clicks follow the click trait, hovers slower users, pauses the pause trait.
    engaged[:, [SCROLL_DOWN, SCROLL_UP, CLOSE]] = (0.45, 0.12, 0.005)
    engaged[:, CLICK] = 0.02 + 0.50 * c
    engaged[:, HOVER] = 0.08 + 0.12 * (1 - f)
    engaged[:, WAIT] = 0.02 + 0.10 * p
    engaged[:, BLUR] = 0.01 + 0.05 * b
    # Idle: the pause ends in some activity, a blur (more for distracted users) or leaving.
    idle[:, [SCROLL_DOWN, SCROLL_UP, CLICK, HOVER, CLOSE]] = (0.35, 0.10, 0.10, 0.20, 0.06)
    idle[:, BLUR] = 0.10 + 0.30 * b
    # Away: the user comes back (focus) or closes the tab.
    away[:, [FOCUS, CLOSE]] = (0.92, 0.08)
    return weights


@dataclass(frozen=True)
class BehaviourModel:
    """The users' part of the process: everything but the sessions' own plans and draws."""

    settings: BehaviourSettings
    traits: UserTraits
    # (users, mode, stale, close allowed, outcome): P(outcome of a tick | no ad click in it);
    # `stale` is seed 001's state rule (10 s without an action), outcome 0 "no action", 1 + code
    # an action (never click_ad here).
    actions: np.ndarray
    ad_rate: np.ndarray  # (users, mode): ad clicks per second at full attention

    def ad_click_probability(self, rows: np.ndarray, mode: np.ndarray, tick: np.ndarray | int) -> np.ndarray:
        """P(click_ad in the tick) of users `rows` in `mode`, `tick` ticks into their session."""
        rate = self.ad_rate[rows, mode] * warm_up(self.settings, tick)
        return -np.expm1(-rate * TICK_MS / 1000)


def build_behaviour(settings: BehaviourSettings, seed: int, users: pd.DataFrame) -> BehaviourModel:
    """The users' traits and per-tick probabilities (the same every day)."""
    traits = draw_traits(seed, users)
    return BehaviourModel(settings, traits, action_probabilities(settings, traits), ad_rates(settings, traits))


def warm_up(settings: BehaviourSettings, tick: np.ndarray | int) -> np.ndarray | float:
    """The hazard's ramp over the session's first `ad_warmup_sec`: ads are clicked by readers."""
    if settings.ad_warmup_sec <= 0:
        return 1.0
    return np.minimum(1.0, (np.asarray(tick) + 1) * (TICK_MS / 1000) / settings.ad_warmup_sec)


def ad_rates(settings: BehaviourSettings, traits: UserTraits) -> np.ndarray:
    """(users, mode): base rate × the user's receptiveness × mode (zero away or closed)."""
    s = settings
    per_user = s.ad_click_base_rate * np.exp(log_receptiveness(settings, traits))
    return per_user[:, None] * np.array([1.0, s.idle_ad_click_factor, 0.0, 0.0])


def log_receptiveness(settings: BehaviourSettings, traits: UserTraits) -> np.ndarray:
    """ln(profile multiplier × exp(slope · (click trait − 0.5))): the user's appetite for ads."""
    return np.log(traits.ad_click_multiplier) + settings.ad_click_trait_slope * (traits.click - 0.5)


def receptiveness_rank(settings: BehaviourSettings, traits: UserTraits) -> np.ndarray:
    """The log receptiveness mapped onto [0, 1] over its possible range (fixed, not the users')."""
    multipliers = np.log([p.ad_click_multiplier for p in PROFILES])
    low = multipliers.min() - settings.ad_click_trait_slope / 2
    high = multipliers.max() + settings.ad_click_trait_slope / 2
    return (log_receptiveness(settings, traits) - low) / (high - low)


def action_probabilities(settings: BehaviourSettings, traits: UserTraits) -> np.ndarray:
    """(users, mode, stale, close allowed, outcome) of a tick without an ad click."""
    f, p, b = traits.action_frequency, traits.pause, traits.blur
    s = settings
    weights = _type_weights(traits)
    rates = np.column_stack(
        [
            s.action_rate_min + (s.action_rate_max - s.action_rate_min) * f,
            1 / (s.pause_sec_min + (s.pause_sec_max - s.pause_sec_min) * p),
            1 / (s.away_sec_min + (s.away_sec_max - s.away_sec_min) * b),
        ]
    )
    act = -np.expm1(-rates * TICK_MS / 1000)  # (users, modes): P(an action in a tick)
    table = np.zeros((len(f), len(MODES), 2, 2, OUTCOMES))
    table[:, CLOSED, :, :, 0] = 1.0
    for stale in (0, 1):
        for allowed in (0, 1):
            w = weights * (STATE_RULE_MULTIPLIERS if stale else 1.0)
            if not allowed:
                w[..., CLOSE] = 0.0
            cell = table[:, :OPEN_MODES, stale, allowed]
            cell[..., 1:] = act[..., None] * w / w.sum(axis=-1, keepdims=True)
            cell[..., 0] = 1 - act
    return table


# --- one day ----------------------------------------------------------------------------------


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
    return np.clip(np.maximum(ticks * TICK_MS, span_ms), SESSION_MIN_MS, SESSION_MAX_MS)


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
    # Row of the (user, mode, stale, allowed) cell is ((user * 4 + mode) * 2 + stale) * 2 + allowed.
    user_base = user_rows * (len(MODES) * 4)
    steps = int(end_ticks.max()) - 1 if count else 0
    rng = stream(seed, "sessions:ticks", day)
    mode = np.full(count, ENGAGED, dtype=np.int64)
    idle_ticks = np.zeros(count, dtype=np.int64)
    running = count
    sessions, ticks, codes = [], [], []
    for tick in range(steps):
        while running and end_ticks[running - 1] - 1 <= tick:  # the rest close in the tick end_ticks - 1
            running -= 1
        part = slice(0, running)
        ad = model.ad_click_probability(user_rows[part], mode[part], tick)
        u = rng.random(running)  # one draw per running session: memory stays O(sessions)
        rows = (
            user_base[part] + mode[part] * 4 + (idle_ticks[part] >= STATE_RULE_TICKS) * 2 + (tick >= close_from[part])
        )
        outcome = (cumulative[rows, :-1] <= ((u - ad) / (1 - ad))[:, None]).sum(axis=1)
        outcome[u < ad] = 1 + CLICK_AD
        acted = np.flatnonzero(outcome)
        code = outcome[acted] - 1
        idle_ticks[part] += 1
        idle_ticks[acted] = 0
        mode[acted] = MODE_AFTER[code]
        sessions.append(acted)
        ticks.append(np.full(len(acted), tick))
        codes.append(code)
    # The opening focus (tick -1) and the close at the planned end of sessions still open.
    still_open = np.flatnonzero(mode != CLOSED)
    session = np.concatenate([np.arange(count), *sessions, still_open])
    tick = np.concatenate([np.full(count, -1), *ticks, end_ticks[still_open] - 1])
    code = np.concatenate([np.full(count, FOCUS), *codes, np.full(len(still_open), CLOSE)]).astype(np.int64)
    session = longest_first[session]  # back to Session_ID order
    order = np.lexsort((tick, session))
    return session[order], tick[order], code[order]


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
            "Action": pd.Categorical.from_codes(code[order], categories=ACTIONS),
            "Scroll_Amount": amount[order],
        }
    )


# --- the oracle -------------------------------------------------------------------------------


def oracle_probabilities(
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


# --- measures for the checks ------------------------------------------------------------------


def action_problems(actions: pd.DataFrame, day: date) -> dict[str, int]:
    """Rows of a day of `session_actions` that break its contract, by rule (all 0 when it holds)."""
    stamps = actions["Timestamp"].to_numpy().astype("datetime64[ms]")
    midnight = np.datetime64(day, "ms")
    off_day = (stamps < midnight) | (stamps >= midnight + np.timedelta64(DAY_MS, "ms"))
    amounts = pd.to_numeric(actions["Scroll_Amount"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    users_per_session = actions.groupby("Session_ID")["User_ID"].nunique()
    return {
        "unknown_action": int((~actions["Action"].astype(str).isin(ACTIONS)).sum()),
        "timestamp_off_the_day": int(off_day.sum()),
        "bad_scroll_amount": int((~np.isfinite(amounts) | (amounts < 0)).sum()),
        "sessions_with_several_users": int((users_per_session > 1).sum()),
    }


def session_problems(actions: pd.DataFrame, interactions: pd.DataFrame) -> dict[str, int]:
    """How a day's simulated sessions differ from the sessions of its interactions."""
    bounds = actions.groupby("Session_ID").agg(
        user=("User_ID", "first"), first=("Timestamp", "min"), last=("Timestamp", "max")
    )
    expected = interactions.groupby("Session_ID")["User_ID"].first()
    common = bounds.index.intersection(expected.index)
    joined = interactions.join(bounds, on="Session_ID", how="inner")
    outside = (joined["Timestamp"] < joined["first"]) | (joined["Timestamp"] > joined["last"])
    return {
        "sessions_without_actions": len(expected.index.difference(bounds.index)),
        "sessions_without_interactions": len(bounds.index.difference(expected.index)),
        "sessions_of_another_user": int((bounds.loc[common, "user"] != expected.loc[common]).sum()),
        "interactions_outside_their_session": int(outside.sum()),
    }


def session_shape_problems(actions: pd.DataFrame) -> dict[str, int]:
    """Simulated sessions that are not 10-300 s long, open with a focus, end with their only close_tab."""
    ordered = actions.sort_values(["Session_ID", "Timestamp"], kind="stable")
    grouped = ordered.groupby("Session_ID")
    seconds = (grouped["Timestamp"].max() - grouped["Timestamp"].min()).dt.total_seconds()
    closes = (ordered["Action"].astype(str) == "close_tab").groupby(ordered["Session_ID"]).sum()
    return {
        "length_outside_10_300_s": int((~seconds.between(SESSION_MIN_SEC, SESSION_MAX_SEC)).sum()),
        "not_opened_by_focus_window": int((grouped["Action"].first().astype(str) != "focus_window").sum()),
        "not_ended_by_close_tab": int((grouped["Action"].last().astype(str) != "close_tab").sum()),
        "several_close_tabs": int((closes > 1).sum()),
    }


def same_actions(stored: pd.DataFrame, generated: pd.DataFrame) -> bool:
    """Whether a stored `session_actions` day is exactly what the generator produces (row by row)."""
    if len(stored) != len(generated):
        return False
    if not pd.api.types.is_integer_dtype(stored["Session_ID"]):  # e.g. a real log's text IDs
        return False
    stored_ms = stored["Timestamp"].to_numpy().astype("datetime64[ms]")
    generated_ms = generated["Timestamp"].to_numpy().astype("datetime64[ms]")
    return bool(
        (stored["Session_ID"].to_numpy(np.int64) == generated["Session_ID"].to_numpy(np.int64)).all()
        and (stored_ms == generated_ms).all()
        and (stored["Action"].astype(str).to_numpy() == generated["Action"].astype(str).to_numpy()).all()
        and (pd.to_numeric(stored["Scroll_Amount"]).to_numpy() == generated["Scroll_Amount"].to_numpy()).all()
    )
