"""Each user's own rating distribution: `rating_weights` exponentially tilted to the user's bias.

Shifting and clipping ratings loses most of a positive bias at the top (two thirds of ratings are
4-5); tilting the base distribution by exp(θ·stars) moves its mean by exactly the bias, within
what 1-5 allows. `interactions.build_model` draws every `Rate` from these distributions.
"""

from __future__ import annotations

import numpy as np

from poppy_pipeline.simulation.settings import SimulationSettings

RATING_TILT_LIMIT = 20.0  # |θ| beyond which a user rates (almost) only 1 or only 5


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
