"""The `simulation` resource: the parameters of the simulated world, one place for all.

Set them in run config (`resources.simulation.config.<field>`, e.g. from the UI's launchpad or
`dagster asset materialize --config-json`), or for the two most common ones with the environment
variables `POPPY_SEED` and `POPPY_NUM_USERS` (read when the definitions load).
"""

import os

import dagster as dg
from pydantic import Field

from poppy_pipeline.paths import DEFAULT_OBJECTS_DIR
from poppy_pipeline.sessions import BehaviourSettings
from poppy_pipeline.settings import SettingsError, SimulationSettings

_DEFAULTS = SimulationSettings()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None


class SimulationResource(dg.ConfigurableResource):
    """Parameters of the simulated users and interactions (defaults reproduce seed 000)."""

    seed: int = Field(
        default_factory=lambda: _env_int("POPPY_SEED", _DEFAULTS.seed),
        description="Seed of every random draw ($POPPY_SEED).",
    )
    num_users: int = Field(
        default_factory=lambda: _env_int("POPPY_NUM_USERS", _DEFAULTS.num_users),
        description="Users in the population ($POPPY_NUM_USERS).",
    )
    num_stars: int = Field(
        default=_DEFAULTS.num_stars, description="Stars to generate when data/objects has no stars.csv."
    )
    num_planets: int = Field(
        default=_DEFAULTS.num_planets, description="Planets to generate when data/objects has no planets.csv."
    )
    num_moons: int = Field(
        default=_DEFAULTS.num_moons, description="Moons to generate when data/objects has no moons.csv."
    )
    objects_dir: str = Field(
        default_factory=lambda: os.environ.get("POPPY_OBJECTS_DIR") or DEFAULT_OBJECTS_DIR,
        description="Folder of stars.csv, planets.csv, moons.csv ($POPPY_OBJECTS_DIR).",
    )
    founding_user_share: float = Field(
        default=_DEFAULTS.founding_user_share, description="Share of users signed up in the year before signup_start."
    )
    signup_start: str = Field(
        default=_DEFAULTS.signup_start, description="First day of the growth period (YYYY-MM-DD)."
    )
    signup_end: str = Field(
        default=_DEFAULTS.signup_end, description="Last day on which new users sign up (YYYY-MM-DD)."
    )
    profile_weights: dict[str, float] = Field(
        default_factory=lambda: dict(_DEFAULTS.profile_weights),
        description="Share of users per browsing profile; sums to 1.",
    )
    mobile_share: float = Field(
        default=_DEFAULTS.mobile_share, description="Share of non-mobile_user profiles on a mobile device."
    )
    activity_sigma: float = Field(
        default=_DEFAULTS.activity_sigma, description="σ of the log-normal Activity_Weight (heavier tail when larger)."
    )
    preferred_type_user_share: float = Field(
        default=_DEFAULTS.preferred_type_user_share, description="Share of users with a Preferred_Type."
    )
    rating_bias_sd: float = Field(
        default=_DEFAULTS.rating_bias_sd,
        description="Standard deviation of users' Rating_Bias in stars (0.625: offsets average ±0.5).",
    )
    interactions_per_day: float = Field(
        default=_DEFAULTS.interactions_per_day,
        description="Expected interactions a day once all users have signed up; each user makes"
        " their Activity_Weight share of it, so fewer users signed up means less traffic.",
    )
    interaction_type_weights: dict[str, float] = Field(
        default_factory=lambda: dict(_DEFAULTS.interaction_type_weights),
        description="Share of View, Click, Favorite, Rate; sums to 1.",
    )
    rating_weights: list[float] = Field(
        default_factory=lambda: list(_DEFAULTS.rating_weights),
        description="Probabilities of 1..5 stars before a user's bias; sums to 1.",
    )
    preferred_type_share: float = Field(
        default=_DEFAULTS.preferred_type_share,
        description="Share of a preferring user's interactions on the preferred type.",
    )
    repeat_share: float = Field(
        default=_DEFAULTS.repeat_share,
        description="Share of a window's interactions that repeat an earlier (user, type, object).",
    )
    repeat_reference_days: int = Field(
        default=_DEFAULTS.repeat_reference_days, description="Window length over which repeat_share holds."
    )
    favourites_per_type: int = Field(
        default=_DEFAULTS.favourites_per_type, description="Objects per type a user keeps coming back to."
    )
    object_popularity_exponent: float = Field(
        default=_DEFAULTS.object_popularity_exponent, description="Zipf exponent of object popularity within a type."
    )
    favourite_popularity_exponent: float = Field(
        default=_DEFAULTS.favourite_popularity_exponent,
        description="Zipf exponent of how likely an object is to be among a user's favourites.",
    )
    hour_weights: list[float] = Field(
        default_factory=lambda: list(_DEFAULTS.hour_weights),
        description="Share of sessions starting in each hour 0..23 (UTC); sums to 1.",
    )
    weekday_weights: list[float] = Field(
        default_factory=lambda: list(_DEFAULTS.weekday_weights),
        description="Share of a week's interactions on each weekday, Monday first (weekly seasonality); sums to 1."
        " interactions_per_day is the weekly average.",
    )
    interactions_per_session: float = Field(
        default=_DEFAULTS.interactions_per_session, description="Mean interactions per browsing session."
    )
    active_day_share: float = Field(
        default=_DEFAULTS.active_day_share,
        description="Probability that a user is active on a day; an active day has their daily rate / this share"
        " (below 1: bursty users with few, busy days, as real logs have).",
    )
    session_length_scale: float = Field(
        default=_DEFAULTS.session_length_scale,
        description="Factor on the profiles' 10-300 s session lengths (a real log's long sittings).",
    )
    watch_ratio_alpha: float = Field(
        default=_DEFAULTS.watch_ratio_alpha, description="α of the Beta share of an object's media watched on a View."
    )
    watch_ratio_beta: float = Field(
        default=_DEFAULTS.watch_ratio_beta, description="β of the Beta share of an object's media watched on a View."
    )

    def settings(self) -> SimulationSettings:
        """The validated pure-core settings; raises `SettingsError` naming a bad field."""
        return SimulationSettings(**self.model_dump(include=set(SimulationSettings.__dataclass_fields__)))

    # Browsing sessions (`session_actions`), read by `behaviour()`.
    ad_click_base_rate: float = Field(
        default=BehaviourSettings.ad_click_base_rate,
        description="Ad clicks per second of an engaged, warmed-up session at profile multiplier 1 and click trait"
        " 0.5: sets the share of positive windows (about 6% at the defaults).",
    )
    idle_ad_click_factor: float = Field(
        default=BehaviourSettings.idle_ad_click_factor,
        description="The ad-click hazard while idle (reading without acting), relative to engaged.",
    )
    ad_click_trait_slope: float = Field(
        default=BehaviourSettings.ad_click_trait_slope,
        description="The ad-click hazard is multiplied by exp(slope × (click trait − 0.5)).",
    )
    ad_warmup_sec: float = Field(
        default=BehaviourSettings.ad_warmup_sec,
        description="The ad-click hazard ramps up linearly over a session's first seconds (0: no ramp).",
    )
    action_rate_min: float = Field(
        default=BehaviourSettings.action_rate_min,
        description="Actions per second while engaged at the lowest action-frequency trait.",
    )
    action_rate_max: float = Field(
        default=BehaviourSettings.action_rate_max,
        description="Actions per second while engaged at the highest action-frequency trait.",
    )
    pause_sec_min: float = Field(
        default=BehaviourSettings.pause_sec_min,
        description="Mean idle pause (s) at the lowest pause trait.",
    )
    pause_sec_max: float = Field(
        default=BehaviourSettings.pause_sec_max,
        description="Mean idle pause (s) at the highest pause trait.",
    )
    away_sec_min: float = Field(
        default=BehaviourSettings.away_sec_min, description="Mean time away (s) at the lowest blur trait."
    )
    away_sec_max: float = Field(
        default=BehaviourSettings.away_sec_max,
        description="Mean time away (s) at the highest blur trait.",
    )
    scroll_px_min: float = Field(
        default=BehaviourSettings.scroll_px_min,
        description="Median scroll distance (px) of the most ad-receptive users (careful readers).",
    )
    scroll_px_max: float = Field(
        default=BehaviourSettings.scroll_px_max,
        description="Median scroll distance (px) of the least ad-receptive users (skimmers).",
    )
    action_session_share: float = Field(
        default=BehaviourSettings.action_session_share,
        description="The behaviour branch's volume: share of each day's sessions that get a browsing-action stream"
        " (session_actions, and so windows), drawn by a hash of seed and Session_ID; 1 = every session.",
    )

    def behaviour(self) -> BehaviourSettings:
        """The validated settings of the browsing-session generator; raises `SettingsError` naming a bad field."""
        names = BehaviourSettings.__dataclass_fields__
        return BehaviourSettings(**{name: getattr(self, name) for name in names})
