"""The simulated world's timeless parts: what does not change from day to day.

`build_model` derives them once from the settings, the catalog and the users: the objects' Zipf
popularity within their type (in a seeded order of appeal), the users' tastes over the engine's
categories (`tastes.py`) and how they steer each choice (`taste_choices.py`: a type, a category of
it, an object of the category), each user's favourite objects per type, and the samplers' tables.
`interactions.simulate_day` draws a day from it; `repeats.py` solves the revisit probability on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.common.codes import category_codes
from poppy_pipeline.common.randomness import stream
from poppy_pipeline.common.threads import in_background, map_in_threads, side_by_side
from poppy_pipeline.simulation.habits import Habits, build_habits, lognormal_popularity, needs_habits
from poppy_pipeline.simulation.population import date_ordinals
from poppy_pipeline.simulation.profiles import PROFILE_NAMES, PROFILES
from poppy_pipeline.simulation.rating_tilt import RatingGrid
from poppy_pipeline.simulation.sampling import beta_quantiles
from poppy_pipeline.simulation.settings import OBJECT_TYPES, SimulationSettings
from poppy_pipeline.simulation.taste_choices import (
    SEGMENTS,
    SLOT_TYPE,
    CatalogSlots,
    rating_shifts,
    segment_cdf,
    segment_probabilities,
    slot_log_odds,
    slot_weights,
)
from poppy_pipeline.simulation.tastes import taste_log_odds

FAVOURITE_BLOCK_USERS = 1 << 16
# The revisit probability is solved per day (`repeats.py`); for centring ratings a typical value will do.
TYPICAL_REVISIT = 0.25


@dataclass(frozen=True)
class UserTables:
    """What each user draws from, per user: needed for a day's objects and ratings, not its sessions."""

    rating_bias: np.ndarray  # (users,) Rating_Bias in stars
    rating_shift: np.ndarray  # (users, slots) stars a rating of each category moves (taste_rating_shift)
    rating_grid: RatingGrid  # rating distributions by offset (bias + shift)
    type_probabilities: np.ndarray  # (users, types)
    type_cdf: np.ndarray  # (users, types) cumulative
    # (2 · users, slots) cumulative P(category | user, type): rows [0, users) for views and clicks
    # (taste_choice_strength), [users, 2 · users) for favourites and ratings (taste_like_strength).
    slot_cdf: np.ndarray
    favourites: np.ndarray  # (users, types, favourites_per_type) catalog row indices


@dataclass(frozen=True)
class SimulationModel:
    """Everything about the simulated world that does not change from day to day."""

    settings: SimulationSettings
    # Objects, in catalog order.
    object_type_codes: np.ndarray  # index into OBJECT_TYPES
    object_ids: np.ndarray
    object_durations: np.ndarray
    type_offsets: np.ndarray  # objects of type t are rows type_offsets[t]:type_offsets[t+1]
    popularity: np.ndarray  # per object, popularity within its type (sums to 1 per type)
    catalog_slots: CatalogSlots  # the objects by category, with popularity within each
    # Cumulative popularity within a type + type code, tastes aside: one search for all (the fallback
    # draws of `user_orders.py`).
    stacked_popularity_cdf: np.ndarray
    # Users, in users-table order.
    user_ids: np.ndarray
    signup_ordinals: np.ndarray
    activity: np.ndarray
    founding_weight: float  # total Activity_Weight of the users signed up before signup_start
    profile_codes: np.ndarray
    user_tables: Future[UserTables]  # made in the background: a day needs them only after its sessions
    # Samplers.
    session_length_quantiles: np.ndarray  # (profiles, atoms) of the session-length trait
    watch_ratio_quantiles: np.ndarray  # (atoms,) share of the media watched on a View
    # Solved revisit probabilities by signed-up population (it changes only on sign-up days).
    revisit_cache: dict[bytes, float] = field(default_factory=dict, compare=False, repr=False)
    # A real log's habits (`habits.py`), None when none is on; what they keep between days.
    habits: Future[Habits] | None = None
    habit_state: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def tables(self) -> UserTables:
        """The per-user tables, once the background work that makes them is done."""
        return self.user_tables.result()

    def daily_rates(self, signed_up: np.ndarray) -> np.ndarray:
        """Expected events a day of each user in `signed_up` (the rows of every user signed up by
        the day): their `Activity_Weight` share of `interactions_per_day` among those users, or
        among the founding cohort while fewer have signed up than it holds.

        So every span from `signup_start` on carries the seed's traffic (10,000 interactions in
        30 days by default) however many users have joined, shared among those signed up; before
        `signup_start` the traffic ramps up with the founders, each at the rate they will have on
        `signup_start`, rather than the first few users making all of it.
        """
        weights = self.activity[signed_up]
        rates: NDArray[np.float64] = (
            self.settings.interactions_per_day * weights / max(weights.sum(), self.founding_weight, 1e-300)
        )
        return rates

    def expected_events(self, day: date) -> float:
        """Expected interactions on `day`: the signed-up users' rates on its weekday."""
        weekday = 7 * self.settings.weekday_weights[day.weekday()]
        return float(self.daily_rates(self.signed_up(day)).sum() * weekday)

    def expected_span_events(self, days: Iterable[date]) -> float:
        """Expected interactions over `days` (the `volume` check's reference)."""
        return sum(self.expected_events(day) for day in days)

    def signed_up(self, day: date) -> np.ndarray:
        """Rows of the users signed up by `day`."""
        return np.flatnonzero(self.signup_ordinals <= day.toordinal())


def build_model(settings: SimulationSettings, objects: pd.DataFrame, users: pd.DataFrame) -> SimulationModel:
    """Derive the timeless parts of the simulation from the catalog and the users."""
    objects = objects.sort_values("Object_Type", key=_type_order, kind="stable").reset_index(drop=True)
    type_codes = _type_order(objects["Object_Type"]).to_numpy()
    counts = np.bincount(type_codes, minlength=len(OBJECT_TYPES))
    missing = [t for t, c in zip(OBJECT_TYPES, counts, strict=True) if c == 0]
    if len(missing) == len(OBJECT_TYPES):
        raise ValueError("celestial_objects has no objects")
    offsets = np.concatenate([[0], np.cumsum(counts)])
    ranks = _appeal_ranks(settings, offsets)
    popularity = (
        lognormal_popularity(ranks, offsets, settings.object_popularity_sigma)
        if settings.object_popularity_sigma > 0
        else _zipf(ranks, offsets, settings.object_popularity_exponent)
    )
    favourite_popularity = _zipf(ranks, offsets, settings.favourite_popularity_exponent)
    catalog_slots = CatalogSlots.of(objects, type_codes, popularity, favourite_popularity)
    cdf = _cumulative_per_type(popularity, offsets)  # popularity alone: a user's order's fallback
    profile_codes = category_codes(users["Profile"], PROFILE_NAMES)
    if (profile_codes < 0).any():
        unknown = sorted(set(users.loc[profile_codes < 0, "Profile"].astype(str)))
        raise ValueError(f"users has unknown Profile values {unknown}; expected one of {list(PROFILE_NAMES)}")
    signups = date_ordinals(users["Signup_Date"])
    activity = users["Activity_Weight"].to_numpy(np.float64)
    # The per-user tables are made in the background, while the first day lays out its sessions.
    user_tables = in_background(lambda: _user_tables(settings, users, counts, catalog_slots))
    # The samplers' quantile tables (scipy, ~40 ms each the first time in a process), side by side.
    watch_ratio = (settings.watch_ratio_alpha, settings.watch_ratio_beta)
    shapes = [profile.session_length for profile in PROFILES] + [watch_ratio]
    *session_lengths, watch_ratios = map_in_threads(lambda shape: beta_quantiles(*shape), shapes)
    habits = None
    if needs_habits(settings):
        hour_cdf = np.cumsum(settings.hour_weights)
        habits = in_background(lambda: build_habits(settings, signups, hour_cdf))
    return SimulationModel(
        settings=settings,
        object_type_codes=type_codes,
        object_ids=objects["Object_ID"].to_numpy(np.int64),
        object_durations=objects["Duration_Sec"].to_numpy(np.float64),
        type_offsets=offsets,
        popularity=popularity,
        catalog_slots=catalog_slots,
        stacked_popularity_cdf=cdf + type_codes,
        user_ids=users["User_ID"].to_numpy(np.int64),
        signup_ordinals=signups,
        activity=activity,
        founding_weight=float(activity[signups < settings.signup_start_date.toordinal()].sum()),
        profile_codes=profile_codes,
        user_tables=user_tables,
        session_length_quantiles=np.stack(session_lengths),
        watch_ratio_quantiles=watch_ratios,
        habits=habits,
    )


def _user_tables(
    settings: SimulationSettings, users: pd.DataFrame, counts: np.ndarray, slots: CatalogSlots
) -> UserTables:
    """Each user's choice of type and category (their tastes), favourites and rating distributions."""
    log_odds = slot_log_odds(taste_log_odds(settings, users))
    choosing = slot_weights(log_odds, slots.mass, settings.taste_choice_strength)
    liking = segment_probabilities(slot_weights(log_odds, slots.mass, settings.taste_like_strength))
    type_probabilities = _user_type_probabilities(settings, users, counts, choosing)
    slot_cdf = np.concatenate([segment_cdf(segment_probabilities(choosing)), segment_cdf(liking)])
    favourite_cdf = segment_cdf(
        segment_probabilities(slot_weights(log_odds, slots.favourite_mass, settings.taste_favourite_strength))
    )
    # The favourites (one stream) are drawn while the rating tables are made.
    favourites, rating_grid = side_by_side(
        lambda: _favourites(settings, len(users), counts, favourite_cdf, slots),
        lambda: RatingGrid(settings),
    )
    rated_share = _rated_share(type_probabilities, liking, favourites, slots)
    return UserTables(
        rating_bias=users["Rating_Bias"].to_numpy(np.float64),
        rating_shift=rating_shifts(log_odds, rated_share, settings.taste_rating_shift),
        rating_grid=rating_grid,
        type_probabilities=type_probabilities,
        type_cdf=_type_cdf(type_probabilities),
        slot_cdf=slot_cdf,
        favourites=favourites,
    )


def _rated_share(
    type_probabilities: np.ndarray, liking: np.ndarray, favourites: np.ndarray, slots: CatalogSlots
) -> np.ndarray:
    """(users, slots) where a user's ratings fall: a fresh object by their liking, or (a typical
    `TYPICAL_REVISIT` of them) one of their favourites; centring the taste shift of ratings on it keeps
    each user's mean rating their own."""
    n, types, k = favourites.shape
    favourite_slots = slots.slot_of_row[favourites.reshape(n, types * k)]
    per_favourite = np.repeat(type_probabilities, k, axis=1) / k
    revisited = np.zeros((n, liking.shape[1]))
    np.add.at(revisited, (np.repeat(np.arange(n), types * k), favourite_slots.ravel()), per_favourite.ravel())
    fresh = type_probabilities[:, SLOT_TYPE] * liking
    share: NDArray[np.float64] = (1 - TYPICAL_REVISIT) * fresh + TYPICAL_REVISIT * revisited
    return share


def _type_cdf(probabilities: np.ndarray) -> np.ndarray:
    """Cumulative type probabilities, exactly 1 from the last type with objects on (so rounding
    never draws a type the catalog has none of)."""
    cdf = np.cumsum(probabilities, axis=1)
    rest = np.cumsum(probabilities[:, ::-1], axis=1)[:, ::-1]  # probability of this type and the later ones
    later = np.c_[rest[:, 1:], np.zeros(len(rest))]
    return np.where(later == 0, 1.0, cdf)


def _type_order(types: pd.Series) -> pd.Series:
    return types.map({t: i for i, t in enumerate(OBJECT_TYPES)})


def _appeal_ranks(settings: SimulationSettings, offsets: np.ndarray) -> np.ndarray:
    """Each object's rank (1 = most appealing) within its type, in a seeded random order."""
    rng = stream(settings.seed, "objects:popularity")
    return np.concatenate([rng.permutation(offsets[t + 1] - offsets[t]) + 1 for t in range(len(OBJECT_TYPES))])


def _zipf(ranks: np.ndarray, offsets: np.ndarray, exponent: float) -> np.ndarray:
    """Zipf probabilities of the ranks, normalised within each type."""
    weights = ranks.astype(float) ** -exponent
    for t in range(len(OBJECT_TYPES)):
        part = slice(offsets[t], offsets[t + 1])
        if offsets[t + 1] > offsets[t]:
            weights[part] /= weights[part].sum()
    return weights


def _cumulative_per_type(probabilities: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    cdf = np.empty_like(probabilities)
    for t in range(len(OBJECT_TYPES)):
        part = slice(offsets[t], offsets[t + 1])
        cdf[part] = np.cumsum(probabilities[part])
        if offsets[t + 1] > offsets[t]:
            cdf[offsets[t + 1] - 1] = 1.0  # no gap above the last object from rounding
    return cdf


def _user_type_probabilities(
    settings: SimulationSettings, users: pd.DataFrame, counts: np.ndarray, slot_weights: np.ndarray
) -> np.ndarray:
    """(users, types): catalog-size shares weighted by the user's taste for the type's objects (their
    mean weight under popularity: 1 for an indifferent user), or `preferred_type_share` on a preferred
    type and the rest in those proportions."""
    probabilities = counts * np.add.reduceat(slot_weights, SEGMENTS[:-1], axis=1)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    preferred = category_codes(users["Preferred_Type"], OBJECT_TYPES)  # -1: none (or not a type)
    # A type without objects cannot be preferred, nor be the only other one.
    base = counts / counts.sum()
    usable = (preferred >= 0) & (counts[np.maximum(preferred, 0)] > 0) & (base[np.maximum(preferred, 0)] < 1)
    has = np.flatnonzero(usable)
    if len(has):
        codes = preferred[has]
        others = probabilities[has]
        others[np.arange(len(codes)), codes] = 0.0
        others *= (1 - settings.preferred_type_share) / others.sum(axis=1, keepdims=True)
        others[np.arange(len(codes)), codes] = settings.preferred_type_share
        probabilities[has] = others
    return probabilities


def _favourites(
    settings: SimulationSettings, num_users: int, counts: np.ndarray, category_cdf: np.ndarray, slots: CatalogSlots
) -> np.ndarray:
    """Each user's favourite objects per type (duplicates allowed): a category by the user's liking and
    the favourite popularity of its objects, then an object of it by its favourite popularity.

    Drawn a block of users at a time (the same draws: a stream's numbers come in order however
    they are cut), so the temporaries stay in cache instead of taking hundreds of MB per type.
    """
    rng = stream(settings.seed, "users:favourites")
    k = settings.favourites_per_type
    out = np.empty((num_users, len(OBJECT_TYPES), k), dtype=np.int32)
    for t in range(len(OBJECT_TYPES)):
        first_slot = SEGMENTS[t]
        if counts[t] == 0:  # no objects of this type: no favourites (-1), and nobody draws the type
            out[:, t, :] = -1
            continue
        for first in range(0, num_users, FAVOURITE_BLOCK_USERS):
            block = min(FAVOURITE_BLOCK_USERS, num_users - first)
            category_draws, object_draws = rng.random((block, k)), rng.random((block, k))
            cdf = category_cdf[first : first + block, first_slot : SEGMENTS[t + 1]]
            found = (cdf[:, None, :] <= category_draws[:, :, None]).sum(axis=2)
            chosen = first_slot + np.minimum(found, SEGMENTS[t + 1] - first_slot - 1)
            out[first : first + block, t, :] = slots.draw_objects(
                chosen.ravel(), object_draws.ravel(), favourite=True
            ).reshape(block, k)
    return out
