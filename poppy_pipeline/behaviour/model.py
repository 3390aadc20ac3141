"""The browsing behaviour of the interaction-modelling seed (001): who acts how, tick by tick.

The model behind `session_actions` (the day's simulation is `session_simulation.py`, its exact
oracle `oracle.py`). This module holds the action vocabulary, the tunables (`BehaviourSettings`),
the users' traits and the per-tick probabilities that both the simulation and the oracle use.

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
- whether `close_tab` is allowed yet, and the session's planned end (see `session_simulation.py`).

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

`BehaviourModel.actions` and `BehaviourModel.ad_click_probability` are that draw's
probabilities; the simulation samples them and the oracle sums them, so a change here changes
both consistently.

**Learnable, not trivial.** The hazard spans 80× across profiles and e^±4 with the click trait
(log-linear, as a logistic model likes it), ramps with the session's age and depends on the
mode. A user's receptiveness to ads (profile multiplier × click-trait factor) also sets how far
they scroll: careful readers move in small steps and so see the ads, skimmers jump past them
(median 60-600 px, log-normal spread 0.3). That is what makes it learnable: two minutes of
scrolling measure the step, and so the receptiveness, far better than the click count measures
the click trait. The window features see the mode only through the recent past (time since the
last action, focus/blur balance) and never the future draws. `ad_click_base_rate` sets the share
of positive windows; docs/behaviour.md ("How many windows are positive") has the shares as
measured, and how they vary between seeds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation.profiles import PROFILE_NAMES, PROFILES
from poppy_pipeline.simulation.sampling import beta_quantiles, sample_quantiles
from poppy_pipeline.simulation.setting_declarations import require_setting, setting

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
# Seed 001's state rule: after more than 10 s without an action, these weights are multiplied.
STATE_RULE_AFTER_MS = 10_000
STATE_RULE_TICKS = STATE_RULE_AFTER_MS // TICK_MS
STATE_RULE_MULTIPLIERS = np.array([0.5, 0.5, 1, 1, 1, 1, 2, 3, 1], dtype=float)
# Blur trait of the profiles that seed 001 gives none (only distracted_user has one).
DEFAULT_BLUR_TRAIT = (1.0, 4.0)
# Outcomes of one tick: 0 = no action, 1 + action code otherwise.
OUTCOMES = 1 + len(ACTIONS)


@dataclass(frozen=True)
class BehaviourSettings:
    """Tunables of the action generator (run config: `resources.simulation.config.<field>`)."""

    ad_click_base_rate: float = setting(
        0.0005,
        "Ad clicks per second of an engaged, warmed-up session at profile multiplier 1 and click trait"
        " 0.5: sets the share of positive windows (about 6% at the defaults).",
    )
    idle_ad_click_factor: float = setting(
        0.2, "The ad-click hazard while idle (reading without acting), relative to engaged."
    )
    ad_click_trait_slope: float = setting(8.0, "The ad-click hazard is multiplied by exp(slope × (click trait − 0.5)).")
    ad_warmup_sec: float = setting(
        60.0, "The ad-click hazard ramps up linearly over a session's first seconds (0: no ramp)."
    )
    action_rate_min: float = setting(0.3, "Actions per second while engaged at the lowest action-frequency trait.")
    action_rate_max: float = setting(2.0, "Actions per second while engaged at the highest action-frequency trait.")
    pause_sec_min: float = setting(3.0, "Mean idle pause (s) at the lowest pause trait.")
    pause_sec_max: float = setting(25.0, "Mean idle pause (s) at the highest pause trait.")
    away_sec_min: float = setting(4.0, "Mean time away (s) at the lowest blur trait.")
    away_sec_max: float = setting(40.0, "Mean time away (s) at the highest blur trait.")
    # Careful readers scroll in small steps (and so see the ads), skimmers jump past them.
    scroll_px_min: float = setting(
        60.0, "Median scroll distance (px) of the most ad-receptive users (careful readers)."
    )
    scroll_px_max: float = setting(600.0, "Median scroll distance (px) of the least ad-receptive users (skimmers).")
    # A day's choice of sessions never depends on other days (a hash of seed and Session_ID).
    action_session_share: float = setting(
        1.0,
        "The behaviour branch's volume: share of each day's sessions that get a browsing-action stream"
        " (session_actions, and so windows), drawn by a hash of seed and Session_ID; 1 = every session.",
    )

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            require_setting(math.isfinite(value) and value >= 0, name, "must be a finite number ≥ 0", value)
        share = self.action_session_share
        require_setting(0 < share <= 1, "action_session_share", "must be in (0, 1]", share)
        for low, high in (
            ("action_rate_min", "action_rate_max"),
            ("pause_sec_min", "pause_sec_max"),
            ("away_sec_min", "away_sec_max"),
            ("scroll_px_min", "scroll_px_max"),
        ):
            require_setting(getattr(self, low) > 0, low, "must be > 0", getattr(self, low))
            require_setting(getattr(self, high) >= getattr(self, low), high, f"must be ≥ {low}", getattr(self, high))


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
        multipliers: NDArray[np.float64] = np.array([p.ad_click_multiplier for p in PROFILES])[self.profile_codes]
        return multipliers


TRAITS = ("action_frequency", "pause", "click", "blur")


@cache
def _trait_quantiles(trait: str) -> np.ndarray:
    """(profiles, atoms) quantile table of one trait."""
    rows = []
    for profile in PROFILES:
        shape = DEFAULT_BLUR_TRAIT if trait == "blur" and profile.blur is None else getattr(profile, trait)
        rows.append(beta_quantiles(*shape))
    return np.stack(rows)


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
        probability: NDArray[np.float64] = -np.expm1(-rate * TICK_MS / 1000)
        return probability

    def ad_click_table(self, tick: int) -> np.ndarray:
        """(users, mode): `ad_click_probability` of every user and mode `tick` ticks in (the same values)."""
        rate = self.ad_rate * warm_up(self.settings, tick)
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
    rates: NDArray[np.float64] = per_user[:, None] * np.array([1.0, s.idle_ad_click_factor, 0.0, 0.0])
    return rates


def log_receptiveness(settings: BehaviourSettings, traits: UserTraits) -> np.ndarray:
    """ln(profile multiplier × exp(slope · (click trait − 0.5))): the user's appetite for ads."""
    logs: NDArray[np.float64] = np.log(traits.ad_click_multiplier) + settings.ad_click_trait_slope * (
        traits.click - 0.5
    )
    return logs


def receptiveness_rank(settings: BehaviourSettings, traits: UserTraits) -> np.ndarray:
    """The log receptiveness mapped onto [0, 1] over its possible range (fixed, not the users')."""
    multipliers = np.log([p.ad_click_multiplier for p in PROFILES])
    low = multipliers.min() - settings.ad_click_trait_slope / 2
    high = multipliers.max() + settings.ad_click_trait_slope / 2
    rank: NDArray[np.float64] = (log_receptiveness(settings, traits) - low) / (high - low)
    return rank


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
