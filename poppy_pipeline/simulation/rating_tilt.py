"""Each user's own rating distribution: `rating_weights` tilted to the user's bias, high ratings kept high.

Seed 000 claims two things of ratings: 3-5 stars are more common (its weights give 85% of them),
and users have habits of their own, rating "higher or lower by ~0.5 points". A user's mean rating
is the base mean plus their `Rating_Bias`, as near as 1-5 allows. A generous user's distribution is
tilted up by exp(θ·stars) (more 4s and 5s, fewer low stars). A critical user's is tilted down
*within* the low stars (1-2) and within the high stars (3-5), the two groups' masses fixed: they
rate 3 where others rate 4 or 5, and their share of 3-5 ratings stays the base share; only a bias
beyond what that reaches (a mean below 2.7 stars with seed 000's weights, 1.8 standard deviations
of `Rating_Bias` down) moves mass from the high stars to the low. So the share of 3-5 ratings of a
span stays at or above the base share whichever few busy users rated in it (with the seed's
weights and a plain tilt, spans of 100 users measured 0.76-0.80 in 15 of 80 spans).

Shifting and clipping ratings would lose most of a positive bias at the top (two thirds of ratings
are 4-5); tilting moves the mean by exactly the bias. `model.build_model` draws every `Rate` from
these distributions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from poppy_pipeline.simulation.settings import SimulationSettings

RATING_TILT_LIMIT = 20.0  # |θ| beyond which the mass sits (almost) all on the extreme stars
STARS = np.arange(1, 6, dtype=np.float64)
HIGH = STARS >= 3  # the stars whose share seed 000 fixes
# Offsets (a user's bias plus a category's taste shift) are solved on a grid of this step and range:
# biases are rounded to 3 decimals, so a grid point is every bias exactly; beyond ±6 stars the mean
# is pinned at 1 or 5 long before.
OFFSET_STEP = 0.001
OFFSET_LIMIT = 6.0


def user_rating_distributions(settings: SimulationSettings, bias: np.ndarray) -> np.ndarray:
    """(users, 5): `rating_weights` tilted so that each mean is the base mean + `Rating_Bias`.

    Biases are rounded to 3 decimals, so a million users share a few thousand: each distinct
    bias is solved once (the same arithmetic per row, so the same bits).
    """
    distinct, user_bias = np.unique(bias, return_inverse=True)
    return tilted_distributions(settings, distinct)[user_bias.reshape(-1)]


def tilted_distributions(settings: SimulationSettings, bias: np.ndarray) -> np.ndarray:
    """(len(bias), 5): a plain tilt up for a positive bias; for a negative one, within-group tilts
    where they reach the target mean, else each group on its lowest star with the high group's
    mass solved in closed form."""
    base = np.asarray(settings.rating_weights, dtype=np.float64)
    target = np.clip(base @ STARS + np.nan_to_num(bias), 1.0, 5.0)
    out = np.empty((len(target), len(STARS)))
    up = target >= base @ STARS
    out[up] = _tilted(base, _solve_theta(lambda theta: _tilted(base, theta), target[up]))
    high_mass = base[HIGH].sum()
    if high_mass in (0.0, 1.0):  # one group only: within it is the whole distribution
        out[~up] = _within_groups(base, _solve_theta(lambda theta: _within_groups(base, theta), target[~up]))
        return out
    lowest = _lowest_atoms(base) @ STARS  # the lowest mean a within-group tilt reaches
    within = ~up & (target > lowest)
    out[within] = _within_groups(base, _solve_theta(lambda theta: _within_groups(base, theta), target[within]))
    out[~up & ~within] = _between_groups(base, target[~up & ~within])
    return out


def _tilted(base: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """base·exp(θ·stars), normalised."""
    weights = base * np.exp(np.outer(theta, STARS - 3))
    shares: NDArray[np.float64] = weights / weights.sum(axis=1, keepdims=True)
    return shares


def _within_groups(base: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """base·exp(θ·stars), renormalised within the low and the high group to their base masses."""
    weights = base * np.exp(np.outer(theta, STARS - 3))
    out = np.empty_like(weights)
    for group in (HIGH, ~HIGH):
        mass = base[group].sum()
        part = weights[:, group]
        out[:, group] = mass * part / np.maximum(part.sum(axis=1, keepdims=True), 1e-300) if mass else 0.0
    return out


def _solve_theta(family: Callable[[np.ndarray], np.ndarray], target: np.ndarray) -> np.ndarray:
    """θ per target mean, by bisection (the mean of either family grows with θ)."""
    low, high = np.full(len(target), -RATING_TILT_LIMIT), np.full(len(target), RATING_TILT_LIMIT)
    for _ in range(50):
        mid = (low + high) / 2
        # Row sums, not a matrix product: BLAS sums in another order for one row than for many.
        below = (family(mid) * STARS).sum(axis=1) < target
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    theta: NDArray[np.float64] = (low + high) / 2
    return theta


def _lowest_atoms(base: np.ndarray) -> np.ndarray:
    """Each group's base mass on its lowest star with base weight (the downward limit of the within-group tilt)."""
    atoms = np.zeros(len(STARS))
    for group in (HIGH, ~HIGH):
        stars = np.flatnonzero(group & (base > 0))
        if len(stars):
            atoms[stars[0]] = base[group].sum()
    return atoms


def _between_groups(base: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Below the within-group range: each group on its lowest star, the high group's mass solved
    so that the mean is the target (a two-point distribution: closed form)."""
    atoms = _lowest_atoms(base)
    low_star, high_star = np.flatnonzero(atoms * ~HIGH)[0], np.flatnonzero(atoms * HIGH)[0]
    share_high = np.clip((target - STARS[low_star]) / (STARS[high_star] - STARS[low_star]), 0.0, 1.0)
    out = np.zeros((len(target), len(STARS)))
    out[:, low_star], out[:, high_star] = 1.0 - share_high, share_high
    return out


class RatingGrid:
    """Cumulative rating distributions (1..4 stars) for offsets on a grid: a `Rate` event's offset is
    its user's `Rating_Bias` plus the taste shift of the rated object's category, looked up here."""

    def __init__(self, settings: SimulationSettings) -> None:
        steps = round(OFFSET_LIMIT / OFFSET_STEP)
        offsets = np.arange(-steps, steps + 1) / round(1 / OFFSET_STEP)
        self.steps = steps
        self.cdf = np.cumsum(tilted_distributions(settings, offsets), axis=1)[:, :4]

    def draw(self, offsets: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """1-5 stars for each offset, from `uniform` in [0, 1)."""
        index = np.clip(np.rint(offsets / OFFSET_STEP), -self.steps, self.steps).astype(np.int64) + self.steps
        stars: NDArray[np.int64] = 1 + (uniform[:, None] >= self.cdf[index]).sum(axis=1)
        return stars
