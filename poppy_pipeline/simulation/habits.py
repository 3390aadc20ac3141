"""A real log's habits as the simulation's mechanics, each off at its default setting.

- **Active days × events per active day** (`active_day_alpha` > 0): user u is active on a day
  with their own probability a_u ~ Beta(α, β) (times the weekday's weight against a flat week,
  at most 1) and then makes 1 + Poisson(x_u) events, x_u ~ Gamma(shape, scale · (a_u / mean a)^γ).
  So a user's activity shows as more days *or* busier days, each with its own spread, and the
  tail stays that of the fitted distributions (a log-normal weight over the whole window gave
  users twice the log's busiest).
- **A floor** (`min_events_per_user`): users with fewer events over the reference span (the
  `repeat_reference_days` from `signup_start`) stay silent, as a log that keeps only users with
  that many (MovieLens: 20). Each day's counts depend only on the seed and the day, so the span's
  counts are drawn again here, not read from other days' files.
- **A personal hour** (`personal_hour_share`): each user has an hour of their own (drawn from
  `hour_weights`), where that share of their sessions start.
- **Log-normal popularity** (`object_popularity_sigma` > 0) instead of Zipf over appeal ranks.
- **How far each user has gone through their order of objects** (`user_orders.py`): the fresh
  events of every earlier day, recounted from the same per-day draws (kept at checkpoints).
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation.settings import SimulationSettings


class SimulationModel(Protocol):
    """What the habits read of `model.SimulationModel` (which builds them: no import back)."""

    @property
    def settings(self) -> SimulationSettings: ...

    @property
    def signup_ordinals(self) -> np.ndarray: ...

    @property
    def habits(self) -> Future[Habits] | None: ...

    def signed_up(self, day: date) -> np.ndarray: ...

    def daily_rates(self, users: np.ndarray) -> np.ndarray: ...


CHECKPOINT_DAYS = 32


def needs_habits(settings: SimulationSettings) -> bool:
    """Whether any habit is on (the default world has none, and draws nothing for them)."""
    s = settings
    return s.active_day_alpha > 0 or s.user_object_order or s.personal_hour_share > 0


@dataclass
class Habits:
    """Per-user habits, and the running count of each user's fresh (first-time) objects."""

    active_probability: np.ndarray | None  # (users,) with active_day_alpha > 0
    extra_events: np.ndarray | None  # (users,) mean extra events on an active day
    personal_hour: np.ndarray | None  # (users,) with personal_hour_share > 0
    silent: np.ndarray | None  # (users,) below the floor over the reference span
    span_events: np.ndarray | None  # (users,) events over the reference span (floor applied)
    origin: int  # ordinal of signup_start: fresh objects are counted from there
    revisit: float  # with user_object_order: probability that an event revisits an object the user had
    checkpoints: dict[int, np.ndarray] = field(default_factory=dict)  # ordinal -> fresh events before it


def habits_of(model: SimulationModel) -> Habits:
    """The model's habits, for the mechanics that run only when a habit is on (`needs_habits`)."""
    assert model.habits is not None, "a habit's mechanics ran in a world with no habit on"
    return model.habits.result()


def build_habits(settings: SimulationSettings, signup_ordinals: np.ndarray, hour_cdf: np.ndarray) -> Habits:
    s, n = settings, len(signup_ordinals)
    active = extra = personal = None
    if s.active_day_alpha > 0:
        rng = stream(s.seed, "users:active_days")
        active = rng.beta(s.active_day_alpha, s.active_day_beta, n)
        # The tilt follows a user's active-day probability as a log of `repeat_reference_days` can
        # tell it: a user active on one day of the span is as likely as E[a | 1 day] (a smaller a
        # would give users of one busy day in ten years thousands of events on it).
        mean = s.active_day_alpha / (s.active_day_alpha + s.active_day_beta)
        lowest = (s.active_day_alpha + 1) / (s.active_day_alpha + s.active_day_beta + s.repeat_reference_days)
        tilt = (np.maximum(active, lowest) / mean) ** s.day_events_activity_exponent
        extra = rng.gamma(s.day_events_shape, s.day_events_scale, n) * tilt
    if s.personal_hour_share > 0:
        draws = stream(s.seed, "users:personal_hour").random(n)
        personal = np.minimum(np.searchsorted(hour_cdf, draws, side="right"), 23).astype(np.int64)
    # Users go down their order of objects from signup_start (a fitted world's users signed up in
    # the year before it, and start there); days before it start from the order's first object.
    origin = s.signup_start_date.toordinal()
    habits = Habits(active, extra, personal, None, None, origin, _revisit_probability(s))
    habits.checkpoints[origin] = np.zeros(n, dtype=np.int64)
    if active is not None:
        totals = _span_events(s, habits, signup_ordinals)
        habits.silent = totals < s.min_events_per_user if s.min_events_per_user > 0 else None
        habits.span_events = np.where(habits.silent, 0, totals) if habits.silent is not None else totals
    return habits


def _revisit_probability(s: SimulationSettings) -> float:
    return float(s.repeat_share) if s.user_object_order else 0.0


def _span_events(s: SimulationSettings, habits: Habits, signup_ordinals: np.ndarray) -> np.ndarray:
    """Each user's events over the reference span (from signup_start), before any floor."""
    totals = np.zeros(len(signup_ordinals), dtype=np.int64)
    first = s.signup_start_date
    for offset in range(s.repeat_reference_days):
        day = first + timedelta(days=offset)
        rows, counts = _days_counts(s, habits, signup_ordinals, day)
        totals[rows] += counts
    return totals


def _days_counts(
    s: SimulationSettings, habits: Habits, signup_ordinals: np.ndarray, day: date
) -> tuple[np.ndarray, np.ndarray]:
    """(user rows, events) of a day with active days × events per active day: drawn for every
    user, so a user's draws do not depend on who else has signed up."""
    assert habits.active_probability is not None and habits.extra_events is not None
    n = len(signup_ordinals)
    chance = np.minimum(habits.active_probability * (7 * s.weekday_weights[day.weekday()]), 1.0)
    on = stream(s.seed, "activity:active_days", day).random(n) < chance
    extra = stream(s.seed, "activity:day_events", day).poisson(np.where(on, habits.extra_events, 0.0))
    counts = np.where(on & (signup_ordinals <= day.toordinal()), 1 + extra, 0)
    rows = np.flatnonzero(counts)
    return rows, counts[rows]


def day_counts(model: SimulationModel, day: date) -> tuple[np.ndarray, np.ndarray]:
    """(user rows, events) of the signed-up users who act on `day` (floor applied)."""
    s = model.settings
    habits = model.habits.result() if model.habits is not None else None
    if habits is not None and habits.active_probability is not None:
        rows, counts = _days_counts(s, habits, model.signup_ordinals, day)
        if habits.silent is not None:
            keep = ~habits.silent[rows]
            rows, counts = rows[keep], counts[keep]
        return rows, counts
    return weight_counts(model, day)


def weight_counts(model: SimulationModel, day: date) -> tuple[np.ndarray, np.ndarray]:
    """(user rows, events) when each user makes their Activity_Weight share of interactions_per_day:
    Poisson counts of every signed-up user (zeros included)."""
    s = model.settings
    active = model.signed_up(day)
    if active.size == 0:
        return active, np.empty(0, dtype=np.int64)
    # Weekly seasonality: a weekday's share of the week relative to a flat 1/7 (1 when flat).
    rates = model.daily_rates(active) * (7 * s.weekday_weights[day.weekday()])
    if s.active_day_share < 1:  # bursty users: the same mean, on fewer days
        on = stream(s.seed, "interactions:active_days", day).random(len(active)) < s.active_day_share
        rates = np.where(on, rates / s.active_day_share, 0.0)
    return active, stream(s.seed, "interactions:volume", day).poisson(rates)


def expected_daily_events(model: SimulationModel, signed_up: np.ndarray) -> np.ndarray:
    """Expected events a day of each user in `signed_up` (the rows of every user signed up by then):
    their events over the reference span as drawn (active days × events per active day; the floor
    keeps the busy ones), or their Activity_Weight share of interactions_per_day."""
    habits = model.habits.result() if model.habits is not None else None
    if habits is not None and habits.span_events is not None:
        per_day: NDArray[np.float64] = habits.span_events[signed_up] / model.settings.repeat_reference_days
        return per_day
    return model.daily_rates(signed_up)


def day_plan(model: SimulationModel, day: date, fresh_before: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user rows, events, revisits) of a day: each event revisits with the revisit probability,
    except a user's very first event (nothing to revisit yet)."""
    rows, counts = day_counts(model, day)
    habits = habits_of(model)
    revisits = stream(model.settings.seed, "orders:revisits", day).binomial(counts, habits.revisit)
    return rows, counts, np.minimum(revisits, counts - (fresh_before[rows] == 0))


def fresh_before(model: SimulationModel, day: date) -> np.ndarray:
    """Fresh (first-time) objects each user has had before `day`: the earlier days' plans,
    recounted from the nearest checkpoint (every CHECKPOINT_DAYS days; the last day asked too)."""
    habits = habits_of(model)
    target = day.toordinal()
    if target <= habits.origin:
        return habits.checkpoints[habits.origin].copy()
    start = max(k for k in habits.checkpoints if k <= target)
    fresh = habits.checkpoints[start].copy()
    for ordinal in range(start, target):
        rows, counts, revisits = day_plan(model, date.fromordinal(ordinal), fresh)
        fresh[rows] += counts - revisits
        if (ordinal + 1 - habits.origin) % CHECKPOINT_DAYS == 0:
            habits.checkpoints[ordinal + 1] = fresh.copy()
    return fresh


def personal_hours(model: SimulationModel, day: date, session_users: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Session start hours with `personal_hour_share` of them moved to their user's own hour."""
    s = model.settings
    if s.personal_hour_share <= 0 or model.habits is None:
        return hours
    own = model.habits.result().personal_hour
    assert own is not None  # drawn whenever personal_hour_share > 0 (`build_habits`)
    mine = stream(s.seed, "interactions:personal_hour", day).random(len(session_users)) < s.personal_hour_share
    return np.where(mine, own[session_users], hours)


def lognormal_popularity(ranks: np.ndarray, offsets: np.ndarray, sigma: float) -> np.ndarray:
    """Log-normal popularity over appeal ranks (1 = most appealing), normalised within each type."""
    weights = np.empty(len(ranks))
    for t in range(len(offsets) - 1):
        part = slice(offsets[t], offsets[t + 1])
        size = offsets[t + 1] - offsets[t]
        if size:
            logs = sigma * ndtri(1 - (ranks[part] - 0.5) / size)
            weights[part] = np.exp(logs - logs.max())
            weights[part] /= weights[part].sum()
    return weights
