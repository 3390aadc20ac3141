"""The revisit probability that makes `repeat_share` hold, and the repeat share to expect.

A repeat is an event whose (user, type, object) occurred earlier in the span. Users repeat by
chance (they draw the same popular object of a category they like twice) and by revisiting a favourite; the revisit
probability is solved per day for the users signed up by then, from the expected number of
distinct objects each user sees in the reference span.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from poppy_pipeline.simulation.habits import expected_daily_events
from poppy_pipeline.simulation.settings import OBJECT_TYPES
from poppy_pipeline.simulation.taste_choices import LIKING_KINDS, cdf_probabilities

if TYPE_CHECKING:
    from poppy_pipeline.simulation.model import SimulationModel

CALIBRATION_MAX_USERS = 1_000


def revisit_probability(model: SimulationModel, day: date) -> float:
    """The revisit probability that gives `repeat_share` over `repeat_reference_days`.

    Solved for the users signed up by then (their mix of busy and quiet users sets how often
    they repeat by chance), by bisection: the expected share is monotone in the probability.
    Clipped to [0, 1] when the target is out of reach. Cached per signed-up population, which
    changes only on sign-up days.
    """
    if model.settings.user_object_order:  # revisits among the objects a user had (`user_orders.py`)
        return model.settings.repeat_share
    key = model.signed_up(day).tobytes()
    if key not in model.revisit_cache:
        model.revisit_cache[key] = _solve_revisit_probability(model, day)
    return model.revisit_cache[key]


def _solve_revisit_probability(model: SimulationModel, day: date) -> float:
    s = model.settings
    span = _RepeatSpan.of(model, day, s.repeat_reference_days)
    if span.share(1.0) <= s.repeat_share:
        return 1.0
    if span.share(0.0) >= s.repeat_share:
        return 0.0
    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if span.share(mid) < s.repeat_share else (low, mid)
    return (low + high) / 2


def feasible_repeat_shares(model: SimulationModel, day: date) -> tuple[float, float]:
    """The repeat shares reachable over the reference span: never / always revisiting.

    The floor is set by the busiest users, who must repeat once they exhaust the catalog.
    """
    if model.settings.user_object_order:  # no repeat by chance: any share from 0 up
        return 0.0, 1.0
    span = _RepeatSpan.of(model, day, model.settings.repeat_reference_days)
    return span.share(0.0), span.share(1.0)


def expected_repeat_share(model: SimulationModel, last_day: date, days: int) -> float:
    """Expected repeat share of the `days`-long span ending on `last_day` (for checks)."""
    if model.settings.user_object_order:  # every event but a user's first revisits with this probability
        return model.settings.repeat_share
    return _RepeatSpan.of(model, last_day, days).share(revisit_probability(model, last_day))


@dataclass(frozen=True)
class _RepeatSpan:
    """Expected repeats in a span, as a function of the revisit probability.

    With Poisson counts, a user expected to make λ events with object probabilities q sees
    E[distinct] = Σ_i (1 - exp(-λ q_i)) objects, so the share is 1 - Σ E[distinct] / Σ λ.
    Users are subsampled evenly above `CALIBRATION_MAX_USERS`.
    """

    lam: np.ndarray  # (users,) expected events in the span
    per_type: np.ndarray  # (users, objects) probability of the object's type
    favourite: np.ndarray  # (users, objects) share among the user's favourites of the type
    popular: np.ndarray  # (users, objects) probability of a fresh draw within the type (tastes, popularity)

    @classmethod
    def of(cls, model: SimulationModel, day: date, days: int) -> _RepeatSpan:
        active = model.signed_up(day)
        size = min(len(active), CALIBRATION_MAX_USERS)
        picked = np.unique(np.linspace(0, len(active) - 1, size).astype(np.int64)) if size else np.empty(0, np.int64)
        sample = active[picked]
        lam = days * expected_daily_events(model, active)[picked]
        per_type = model.tables.type_probabilities[sample][:, model.object_type_codes]
        return cls(lam, per_type, _favourite_shares(model, sample), _fresh_shares(model, sample))

    def share(self, revisit: float) -> float:
        if self.lam.sum() == 0:
            return 0.0
        q = self.per_type * (revisit * self.favourite + (1 - revisit) * self.popular)
        distinct = -np.expm1(-self.lam[:, None] * q).sum(axis=1)
        return float(1 - distinct.sum() / self.lam.sum())


def _fresh_shares(model: SimulationModel, users: np.ndarray) -> np.ndarray:
    """(users, objects): probability of each object in a fresh draw of its type: the user's choice of its
    category (views and clicks, or favourites and ratings, in the kinds' proportions) times its share
    of the category's popularity."""
    weights = model.settings.interaction_type_weights
    liking = sum(weights[kind] for kind in LIKING_KINDS)
    cdf, everyone = model.tables.slot_cdf, len(model.user_ids)
    categories = (1 - liking) * cdf_probabilities(cdf[users]) + liking * cdf_probabilities(cdf[users + everyone])
    slots = model.catalog_slots
    shares: NDArray[np.float64] = categories[:, slots.slot_of_row] * slots.within_slot(model.popularity)
    return shares


def _favourite_shares(model: SimulationModel, users: np.ndarray) -> np.ndarray:
    """(users, objects): how often each object appears among the user's favourites of its type."""
    k = model.settings.favourites_per_type
    out = np.zeros((len(users), len(model.object_ids)))
    flat = model.tables.favourites[users].reshape(len(users), len(OBJECT_TYPES) * k)
    rows = np.repeat(np.arange(len(users)), flat.shape[1])
    kept = flat.ravel() >= 0  # -1: a type without objects
    np.add.at(out, (rows[kept], flat.ravel()[kept]), 1.0 / k)
    return out
