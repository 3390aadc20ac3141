"""Simulation settings: every pattern the generated data must show is a parameter here.

Each setting is declared once, as a field of `SimulationSettings` (or of `BehaviourSettings` in
`behaviour.py` for the browsing sessions) made with `setting(default, description, env=...)`
(`setting_declarations.py`); `validate` (or the class's `__post_init__`) holds its rule, and the
memory budget (`memory_budget.py`) refuses settings whose arrays would not fit. The Dagster resource `simulation`
(`dagster_support/simulation_resource.py`) derives its config fields from these declarations, so run
config `resources.simulation.config.<field>` maps 1:1 and Dagster's UI shows each description and
default. Adding a setting is a one-place change: add the field here (with its rule in `validate`
if it has one); the resource, its UI and `test_settings.py`'s parity test follow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from poppy_pipeline.simulation.memory_budget import check_memory
from poppy_pipeline.simulation.profiles import PROFILE_NAMES
from poppy_pipeline.simulation.setting_declarations import SettingsError, require_setting, setting

OBJECT_TYPES: tuple[str, ...] = ("Star", "Planet", "Moon")
INTERACTION_TYPES: tuple[str, ...] = ("View", "Click", "Favorite", "Rate")

DEFAULT_INTERACTION_TYPE_WEIGHTS: dict[str, float] = {
    "View": 0.50,
    "Click": 0.30,
    "Favorite": 0.15,
    "Rate": 0.05,
}
# Star ratings before a user's own bias, as seed 000: skewed towards 3-5.
DEFAULT_RATING_WEIGHTS: tuple[float, ...] = (0.05, 0.10, 0.20, 0.30, 0.35)
# Share of sessions starting in each hour of the day (UTC): quiet nights, an evening peak.
DEFAULT_HOUR_WEIGHTS: tuple[float, ...] = (
    (0.020,) * 6  # 00-06: 12%
    + (0.035,) * 6  # 06-12: 21%
    + (0.045,) * 6  # 12-18: 27%
    + (0.200 / 3,) * 6  # 18-24: 40%
)
# Share of a week's traffic on each weekday, Monday first; flat by default (no weekly seasonality).
DEFAULT_WEEKDAY_WEIGHTS: tuple[float, ...] = (1 / 7,) * 7
DEFAULT_PROFILE_WEIGHTS: dict[str, float] = {name: 1 / len(PROFILE_NAMES) for name in PROFILE_NAMES}

PROBABILITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SimulationSettings:
    """Parameters of the simulated Poppy Universe. Defaults reproduce seed 000's summary."""

    seed: int = setting(42, "Seed of every random draw.", env="POPPY_SEED")
    # Catalog sizes, used when data/objects/ has no file for a type.
    num_stars: int = setting(200, "Stars to generate when data/objects has no stars.csv.")
    num_planets: int = setting(100, "Planets to generate when data/objects has no planets.csv.")
    num_moons: int = setting(100, "Moons to generate when data/objects has no moons.csv.")
    # Users: who they are and when they arrive.
    num_users: int = setting(100, "Users in the population.", env="POPPY_NUM_USERS")
    founding_user_share: float = setting(
        0.75,
        "Share of users signed up in the year before signup_start (the founding cohort); the rest"
        " sign up evenly until signup_end, about one a month with the defaults.",
    )
    signup_start: str = setting("2025-10-01", "First day of the growth period (YYYY-MM-DD).")
    signup_end: str = setting("2027-09-30", "Last day on which new users sign up (YYYY-MM-DD).")
    profile_weights: Mapping[str, float] = setting(
        DEFAULT_PROFILE_WEIGHTS, "Share of users per browsing profile; sums to 1."
    )
    mobile_share: float = setting(0.4, "Share of non-mobile_user profiles on a mobile device.")
    activity_sigma: float = setting(1.0, "σ of the log-normal Activity_Weight (heavier tail when larger).")
    preferred_type_user_share: float = setting(0.3, "Share of users with a Preferred_Type.")
    # Seed 000: users rate "higher/lower by ~0.5 points"; a normal offset with this sd averages
    # ±0.5 (mean |offset| = sd·√(2/π)).
    rating_bias_sd: float = setting(
        0.625, "Standard deviation of users' Rating_Bias in stars (0.625: offsets average ±0.5)."
    )
    # Interactions (seed 000: 10,000 in 30 days by 100 users).
    interactions_per_day: float = setting(
        10_000 / 30,
        "Expected interactions a day from signup_start on (seed 000: 10,000 in 30 days), shared"
        " among the users signed up by then by Activity_Weight; before signup_start it ramps up"
        " as the founding cohort signs up.",
    )
    interaction_type_weights: Mapping[str, float] = setting(
        DEFAULT_INTERACTION_TYPE_WEIGHTS, "Share of View, Click, Favorite, Rate; sums to 1."
    )
    rating_weights: Sequence[float] = setting(
        DEFAULT_RATING_WEIGHTS, "Probabilities of 1..5 stars before a user's bias; sums to 1."
    )
    preferred_type_share: float = setting(0.6, "Share of a preferring user's interactions on the preferred type.")
    repeat_share: float = setting(0.4, "Share of a span's interactions that repeat an earlier (user, type, object).")
    repeat_reference_days: int = setting(30, "Days in the span over which repeat_share holds.")
    favourites_per_type: int = setting(8, "Objects per type a user keeps coming back to.")
    object_popularity_exponent: float = setting(0.4, "Zipf exponent of object popularity within a type.")
    favourite_popularity_exponent: float = setting(
        1.5, "Zipf exponent of how likely an object is to be among a user's favourites."
    )
    hour_weights: Sequence[float] = setting(
        DEFAULT_HOUR_WEIGHTS, "Share of sessions starting in each hour 0..23 (UTC); sums to 1."
    )
    weekday_weights: Sequence[float] = setting(
        DEFAULT_WEEKDAY_WEIGHTS,
        "Share of a week's interactions on each weekday, Monday first (weekly seasonality); sums to 1."
        " interactions_per_day is the weekly average.",
    )
    interactions_per_session: float = setting(3.0, "Mean interactions per browsing session.")
    # Fitted to real logs (defaults: the seed's behaviour).
    active_day_share: float = setting(
        1.0,
        "Probability that a user is active on a day; an active day has their daily rate / this share"
        " (below 1: bursty users with few, busy days, as real logs have).",
    )
    session_gap_median_sec: float = setting(
        0.0,
        "> 0: a session is a sitting of events this many seconds apart (median of log-normal gaps),"
        " cut into browsing sessions of at most 300 s (a real log's long sittings); 0: events fall"
        " uniformly in their profile's 10-300 s session.",
    )
    session_gap_sigma: float = setting(1.0, "σ of the log-normal gaps between a sitting's events.")
    # Tastes: each user's true preference over the engine's 21 categories (`tastes.py`), which their
    # choices of objects, favourites and ratings follow.
    taste_choice_strength: float = setting(
        0.15,
        "How strongly the objects a user views and clicks follow their category preferences: an object"
        " of a category at preference p (0-10) is picked (p/(10-p))^strength times as often as an equally"
        " popular one of an indifferent category (5); 0: tastes play no part.",
    )
    taste_like_strength: float = setting(0.6, "The same for the objects a user favourites and rates.")
    taste_favourite_strength: float = setting(
        4.0,
        "The same for the favourite objects a user keeps coming back to (stronger: they barely add"
        " chance repeats, which the choice strengths do by narrowing a user's objects).",
    )
    taste_rating_shift: float = setting(
        1.0,
        "Stars a rating moves per 10 points of the rated category's preference above the user's average"
        " (the user's mean rating stays theirs).",
    )
    # A ratings log's habits (`habits.py`, `user_orders.py`); each is off at its default.
    active_day_alpha: float = setting(
        0.0,
        "> 0: activity as active days × events per active day: each user is active on a day with their own"
        " probability, Beta(active_day_alpha, active_day_beta), and makes 1 + Poisson(Gamma(day_events_shape,"
        " day_events_scale)) events on an active day (interactions_per_day and Activity_Weight then unused);"
        " 0: each user makes their Activity_Weight share of interactions_per_day.",
    )
    active_day_beta: float = setting(1.0, "β of the Beta active-day probability (with active_day_alpha > 0).")
    day_events_shape: float = setting(1.0, "Shape of the Gamma extra events per active day (beyond the first).")
    day_events_scale: float = setting(1.0, "Scale of the Gamma extra events per active day (beyond the first).")
    day_events_activity_exponent: float = setting(
        0.0,
        "A user's extra events per active day scale with (their active-day probability / the mean)^this:"
        " below 0, users of many days make fewer events on each.",
    )
    min_events_per_user: int = setting(
        0,
        "> 0 (with active_day_alpha > 0): users with fewer events over the repeat_reference_days from"
        " signup_start stay silent, as a log that keeps only users with at least this many (MovieLens: 20).",
    )
    user_object_order: bool = setting(
        False,
        "True: each user meets objects in an order of their own (drawn from popularity without replacement),"
        " so a user repeats an object only by revisiting one they had: repeat_share of events do; False:"
        " objects drawn from popularity each time (repeats by chance too), revisits from favourites.",
    )
    object_popularity_sigma: float = setting(
        0.0,
        "> 0: popularity within a type is log-normal over the objects' appeal ranks with this σ, instead of"
        " Zipf (object_popularity_exponent).",
    )
    personal_hour_share: float = setting(
        0.0,
        "Share of a user's sessions that start in their own hour of the day (drawn from hour_weights once"
        " per user); the others start at an hour drawn from hour_weights.",
    )
    session_gap_zero_share: float = setting(
        0.0,
        "Share of a sitting's gaps that are 0 s (several events in the same second); the others are"
        " log-normal (session_gap_median_sec, session_gap_sigma) whole seconds ≥ 1.",
    )
    interaction_type_labels: Mapping[str, str] = setting(
        {},
        "The log's own event types and the simulation's type each one is (e.g. {like: Favorite, share: Click}):"
        " events of a simulated type are labelled with its log types in the shares of interaction_type_label_weights.",
    )
    interaction_type_label_weights: Mapping[str, float] = setting(
        {}, "Share of each of interaction_type_labels' log types among the events of its simulated type."
    )
    fitted_to: str = setting(
        "",
        "The log this world was fitted to (simulation_fit writes it): seed 000's claimed patterns are not"
        " checked on it (not applicable, saying so); empty: seed 000's world.",
    )
    watch_ratio_alpha: float = setting(2.0, "α of the Beta share of an object's media watched on a View.")
    watch_ratio_beta: float = setting(1.3, "β of the Beta share of an object's media watched on a View.")

    def __post_init__(self) -> None:
        validate(self)

    @property
    def signup_start_date(self) -> date:
        return date.fromisoformat(self.signup_start)

    @property
    def signup_end_date(self) -> date:
        return date.fromisoformat(self.signup_end)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate(settings: SimulationSettings) -> None:
    """Raise `SettingsError` naming the first invalid setting."""
    s = settings
    require_setting(isinstance(s.seed, int) and s.seed >= 0, "seed", "must be an integer ≥ 0", s.seed)
    for name in ("num_users", "favourites_per_type"):
        require_setting(getattr(s, name) >= 1, name, "must be at least 1", getattr(s, name))
    for name in ("num_stars", "num_planets", "num_moons", "min_events_per_user"):
        require_setting(getattr(s, name) >= 0, name, "must be at least 0", getattr(s, name))
    require_setting(
        s.num_stars + s.num_planets + s.num_moons >= 1, "num_stars", "and num_planets, num_moons must not all be 0", 0
    )
    require_setting(
        s.repeat_reference_days >= 1, "repeat_reference_days", "must be at least 1", s.repeat_reference_days
    )
    for name in (
        "interactions_per_day",
        "activity_sigma",
        "rating_bias_sd",
        "object_popularity_exponent",
        "favourite_popularity_exponent",
        "session_gap_median_sec",
        "session_gap_sigma",
        "taste_choice_strength",
        "taste_like_strength",
        "taste_favourite_strength",
        "taste_rating_shift",
        "active_day_alpha",
        "object_popularity_sigma",
    ):
        value = getattr(s, name)
        require_setting(math.isfinite(value) and value >= 0, name, "must be a finite number ≥ 0", value)
    for name in (
        "interactions_per_session",
        "watch_ratio_alpha",
        "watch_ratio_beta",
        "active_day_beta",
        "day_events_shape",
        "day_events_scale",
    ):
        value = getattr(s, name)
        require_setting(math.isfinite(value) and value > 0, name, "must be a finite number > 0", value)
    require_setting(
        s.interactions_per_session >= 1, "interactions_per_session", "must be at least 1", s.interactions_per_session
    )
    require_setting(0 < s.active_day_share <= 1, "active_day_share", "must be in (0, 1]", s.active_day_share)
    for name in (
        "founding_user_share",
        "mobile_share",
        "preferred_type_user_share",
        "preferred_type_share",
        "repeat_share",
        "personal_hour_share",
    ):
        value = getattr(s, name)
        require_setting(0 <= value <= 1, name, "must be a probability in [0, 1]", value)
    _check_distribution("interaction_type_weights", s.interaction_type_weights, INTERACTION_TYPES)
    _check_distribution("profile_weights", s.profile_weights, PROFILE_NAMES)
    require_setting(
        math.isfinite(s.day_events_activity_exponent),
        "day_events_activity_exponent",
        "must be a finite number",
        s.day_events_activity_exponent,
    )
    require_setting(
        0 <= s.session_gap_zero_share < 1, "session_gap_zero_share", "must be in [0, 1)", s.session_gap_zero_share
    )
    _check_labels(s.interaction_type_labels, s.interaction_type_label_weights)
    _check_probabilities("rating_weights", s.rating_weights, expected_length=5)
    _check_probabilities("hour_weights", s.hour_weights, expected_length=24)
    _check_probabilities("weekday_weights", s.weekday_weights, expected_length=7)
    for name in ("signup_start", "signup_end"):
        try:
            date.fromisoformat(getattr(s, name))
        except (TypeError, ValueError):
            raise SettingsError(f"simulation.{name} must be a date YYYY-MM-DD, got {getattr(s, name)!r}") from None
    require_setting(
        s.signup_start_date <= s.signup_end_date,
        "signup_end",
        f"must not be before signup_start ({s.signup_start})",
        s.signup_end,
    )
    check_memory(s)


def _check_distribution(name: str, weights: Mapping[str, float], keys: Sequence[str]) -> None:
    unknown = sorted(set(weights) - set(keys))
    missing = [key for key in keys if key not in weights]
    if unknown or missing:
        raise SettingsError(
            f"simulation.{name} must have exactly the keys {list(keys)} (unknown: {unknown}, missing: {missing})"
        )
    _check_probabilities(name, [weights[key] for key in keys])


def _check_probabilities(name: str, values: Sequence[float], expected_length: int | None = None) -> None:
    if expected_length is not None and len(values) != expected_length:
        raise SettingsError(f"simulation.{name} must have {expected_length} values, got {len(values)}")
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise SettingsError(f"simulation.{name} must be finite and ≥ 0, got {list(values)}")
    total = math.fsum(values)
    if abs(total - 1) > PROBABILITY_TOLERANCE:
        raise SettingsError(f"simulation.{name} must sum to 1, got {total:.6g}")


def _check_labels(labels: Mapping[str, str], weights: Mapping[str, float]) -> None:
    """Each log type names a simulated type and has a weight; each simulated type's weights sum to 1."""
    bad = {label: kind for label, kind in labels.items() if kind not in INTERACTION_TYPES}
    if bad:
        raise SettingsError(
            f"simulation.interaction_type_labels sends {bad} to types other than {list(INTERACTION_TYPES)}"
        )
    if set(labels) != set(weights):
        raise SettingsError(
            "simulation.interaction_type_label_weights must have exactly the keys of interaction_type_labels"
            f" ({sorted(labels)}), got {sorted(weights)}"
        )
    for kind in sorted(set(labels.values())):
        _check_probabilities(
            f"interaction_type_label_weights (of {kind})", [weights[label] for label in labels if labels[label] == kind]
        )
