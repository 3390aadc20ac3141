"""Each user's own rating distribution: `rating_weights` exponentially tilted to the user's bias.

Shifting and clipping ratings loses most of a positive bias at the top (two thirds of ratings are
4-5); tilting the base distribution by exp(θ·stars) moves its mean by exactly the bias, within
what 1-5 allows. `interactions.build_model` draws every `Rate` from these distributions.
"""

from __future__ import annotations

import numpy as np

from poppy_pipeline.simulation.settings import SimulationSettings

RATING_TILT_LIMIT = 20.0  # |θ| beyond which a user rates (almost) only 1 or only 5
# Offsets (a user's bias plus a category's taste shift) are solved on a grid of this step and range:
# biases are rounded to 3 decimals, so a grid point is every bias exactly; beyond ±6 stars the mean
# is pinned at 1 or 5 long before.
OFFSET_STEP = 0.001
OFFSET_LIMIT = 6.0


def user_rating_distributions(settings: SimulationSettings, bias: np.ndarray) -> np.ndarray:
    """(users, 5): `rating_weights` tilted by exp(θ·stars), θ solved per user (bisection) so
    that the mean is the base mean + `Rating_Bias` (as near as 1-5 allows).

    Biases are rounded to 3 decimals, so a million users share a few thousand: each distinct
    bias is solved once (the same arithmetic per row, so the same bits).
    """
    distinct, user_bias = np.unique(bias, return_inverse=True)
    return tilted_distributions(settings, distinct)[user_bias.reshape(-1)]


def tilted_distributions(settings: SimulationSettings, bias: np.ndarray) -> np.ndarray:
    stars = np.arange(1, 6, dtype=np.float64)
    base = np.asarray(settings.rating_weights, dtype=np.float64)
    target = base @ stars + np.nan_to_num(bias)
    low, high = np.full(len(bias), -RATING_TILT_LIMIT), np.full(len(bias), RATING_TILT_LIMIT)

    def tilted(theta: np.ndarray) -> np.ndarray:
        weights = base * np.exp(np.outer(theta, stars - 3))
        return weights / weights.sum(axis=1, keepdims=True)

    for _ in range(50):
        mid = (low + high) / 2
        below = tilted(mid) @ stars < target
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    return tilted((low + high) / 2)


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
        return 1 + (uniform[:, None] >= self.cdf[index]).sum(axis=1)
