"""Simulation settings: every pattern the generated data must show is a parameter here.

This is the pure-core view of the `simulation` Dagster resource (see `defs/resources.py`);
the two share field names, so run config `resources.simulation.config.<field>` maps 1:1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date

from poppy_pipeline.profiles import PROFILE_NAMES

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


class SettingsError(ValueError):
    """An invalid simulation setting; the message names the setting."""


@dataclass(frozen=True)
class SimulationSettings:
    """Parameters of the simulated Poppy Universe. Defaults reproduce seed 000's summary."""

    seed: int = 42
    # Catalog sizes, used when data/objects/ has no file for a type.
    num_stars: int = 200
    num_planets: int = 100
    num_moons: int = 100
    # Users: who they are and when they arrive.
    num_users: int = 100
    founding_user_share: float = 0.3
    signup_start: str = "2025-10-01"
    signup_end: str = "2027-09-30"
    profile_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PROFILE_WEIGHTS))
    mobile_share: float = 0.4
    activity_sigma: float = 1.0
    preferred_type_user_share: float = 0.3
    # Seed 000: users rate "higher/lower by ~0.5 points"; a normal offset with this sd averages
    # ±0.5 (mean |offset| = sd·√(2/π)).
    rating_bias_sd: float = 0.625
    # Interactions.
    # Expected interactions a day once all `num_users` have signed up (seed 000: 10,000 in 30
    # days by 100 users); each user's share is fixed, so early windows have less traffic.
    interactions_per_day: float = 10_000 / 30
    interaction_type_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_INTERACTION_TYPE_WEIGHTS)
    )
    rating_weights: Sequence[float] = DEFAULT_RATING_WEIGHTS
    preferred_type_share: float = 0.6
    repeat_share: float = 0.4
    repeat_reference_days: int = 30
    favourites_per_type: int = 8
    object_popularity_exponent: float = 0.4
    favourite_popularity_exponent: float = 1.5
    hour_weights: Sequence[float] = DEFAULT_HOUR_WEIGHTS
    weekday_weights: Sequence[float] = DEFAULT_WEEKDAY_WEIGHTS
    interactions_per_session: float = 3.0
    # Fitted to real logs (defaults: the seed's behaviour). A user is active on a day with this
    # probability, and then as busy as their daily rate / share (bursty users: few busy days).
    active_day_share: float = 1.0
    # > 0: a session is a sitting of events this many seconds apart (median; log-normal with
    # σ session_gap_sigma), cut into browsing sessions of ≤ 300 s; 0: events fall uniformly in
    # their profile's 10-300 s session (seed 001).
    session_gap_median_sec: float = 0.0
    session_gap_sigma: float = 1.0
    watch_ratio_alpha: float = 2.0
    watch_ratio_beta: float = 1.3

    def __post_init__(self) -> None:
        validate(self)

    @property
    def signup_start_date(self) -> date:
        return date.fromisoformat(self.signup_start)

    @property
    def signup_end_date(self) -> date:
        return date.fromisoformat(self.signup_end)

    def to_dict(self) -> dict:
        return asdict(self)


def validate(settings: SimulationSettings) -> None:
    """Raise `SettingsError` naming the first invalid setting."""
    s = settings
    _require(isinstance(s.seed, int) and s.seed >= 0, "seed", "must be an integer ≥ 0", s.seed)
    for name in ("num_stars", "num_planets", "num_moons", "num_users", "favourites_per_type"):
        _require(getattr(s, name) >= 1, name, "must be at least 1", getattr(s, name))
    _require(s.repeat_reference_days >= 1, "repeat_reference_days", "must be at least 1", s.repeat_reference_days)
    for name in (
        "interactions_per_day",
        "activity_sigma",
        "rating_bias_sd",
        "object_popularity_exponent",
        "favourite_popularity_exponent",
        "session_gap_median_sec",
        "session_gap_sigma",
    ):
        value = getattr(s, name)
        _require(math.isfinite(value) and value >= 0, name, "must be a finite number ≥ 0", value)
    for name in ("interactions_per_session", "watch_ratio_alpha", "watch_ratio_beta"):
        value = getattr(s, name)
        _require(math.isfinite(value) and value > 0, name, "must be a finite number > 0", value)
    _require(
        s.interactions_per_session >= 1, "interactions_per_session", "must be at least 1", s.interactions_per_session
    )
    _require(0 < s.active_day_share <= 1, "active_day_share", "must be in (0, 1]", s.active_day_share)
    for name in (
        "founding_user_share",
        "mobile_share",
        "preferred_type_user_share",
        "preferred_type_share",
        "repeat_share",
    ):
        value = getattr(s, name)
        _require(0 <= value <= 1, name, "must be a probability in [0, 1]", value)
    _check_distribution("interaction_type_weights", s.interaction_type_weights, INTERACTION_TYPES)
    _check_distribution("profile_weights", s.profile_weights, PROFILE_NAMES)
    _check_probabilities("rating_weights", s.rating_weights, expected_length=5)
    _check_probabilities("hour_weights", s.hour_weights, expected_length=24)
    _check_probabilities("weekday_weights", s.weekday_weights, expected_length=7)
    for name in ("signup_start", "signup_end"):
        try:
            date.fromisoformat(getattr(s, name))
        except (TypeError, ValueError):
            raise SettingsError(f"simulation.{name} must be a date YYYY-MM-DD, got {getattr(s, name)!r}") from None
    _require(
        s.signup_start_date <= s.signup_end_date,
        "signup_end",
        f"must not be before signup_start ({s.signup_start})",
        s.signup_end,
    )


def _require(ok: bool, name: str, rule: str, value: object) -> None:
    if not ok:
        raise SettingsError(f"simulation.{name} {rule}, got {value!r}")


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
