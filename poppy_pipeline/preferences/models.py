"""Layer 3's model, the popularity baseline, and how scores become the engine's 0-10 values.

A user's events fall on a category c in proportion to its share of the catalog (its exposure) times
how much they like it; so `log(share of the user's events on c / exposure of c)`, the *lift*, measures
the preference. Layer 3 estimates each user's shares in two steps along the catalog's hierarchy:

    P(c | user) = P(type of c | user) · P(c | user, type)

each a share of the user's weighted events (`evidence.EVENT_WEIGHTS`) with pseudo-events added in
the population's proportions: `TYPE_PRIOR_EVENTS` for the split between stars, planets and moons,
`CATEGORY_PRIOR_EVENTS` within a type. That is the rule for users with few events: with none, a user
gets the population's shares (the popularity baseline); each event moves them away from it, and a
type the user rarely visits keeps the population's split of its categories. In the exploration that
chose it, this beat weighted ALS (ranks 3-10) and KL-NMF (ranks 6-21) on the same matrix against the
truth: low ranks smooth away the one to four categories a user loves, which is most of what sets a
user apart (docs/preferences.md).

Scores are lifts (natural-log units). The engine's value is `10 · sigmoid(lift - the user's median
lift)`: the user's median category reads as indifference (5), as most of a user's categories are,
and a category the catalog has no object of reads 5 (the engine's value for an unknown one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from poppy_pipeline.preferences.categories import (
    CATEGORY_TYPE,
    ENGINE_CATEGORIES,
    ENGINE_COLUMNS,
    INDIFFERENCE,
    USER_COLUMN,
)

TYPE_PRIOR_EVENTS = 10.0
CATEGORY_PRIOR_EVENTS = 30.0
TYPE_OF_CATEGORY = pd.factorize(pd.Series(CATEGORY_TYPE))[0]  # 0 Star, 1 Planet, 2 Moon
TYPES = int(TYPE_OF_CATEGORY.max()) + 1
VALUE_DECIMALS = 4
# A model: fitted on the training users' weighted events (users, 21, slices) and the catalog's exposure,
# it gives scores (lifts) for any users' weighted events (users, 21).
Scorer = Callable[[np.ndarray], np.ndarray]


def per_type(counts: np.ndarray) -> np.ndarray:
    """(users, types) sums of a (users, 21) matrix over each type's categories."""
    return np.stack([counts[:, t == TYPE_OF_CATEGORY].sum(axis=1) for t in range(TYPES)], axis=1)


@dataclass(frozen=True)
class Population:
    """The population's shares: of its events per type, and of each type's events per category."""

    type_share: np.ndarray  # (types,)
    category_share: np.ndarray  # (21,) within the category's type
    exposure: np.ndarray  # (21,) the catalog's share of objects

    @classmethod
    def of(cls, counts: np.ndarray, exposure: np.ndarray) -> Population:
        """From the training users' (users, 21) weighted events; half an event in the catalog's
        proportions keeps a category nobody touched above zero."""
        totals = counts.sum(axis=0) + 0.5 * len(ENGINE_CATEGORIES) * exposure
        by_type = np.bincount(TYPE_OF_CATEGORY, weights=totals, minlength=TYPES)
        return cls(
            type_share=by_type / by_type.sum(),
            category_share=totals / np.maximum(by_type[TYPE_OF_CATEGORY], 1e-300),
            exposure=exposure,
        )

    def lift(self, shares: np.ndarray) -> np.ndarray:
        """log(share / exposure); NaN for a category without objects (nothing can be learnt of it)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            lifts = np.log(shares) - np.log(self.exposure)
        return np.where(self.exposure > 0, lifts, np.nan)


def hierarchical_scores(
    counts: np.ndarray,
    population: Population,
    type_prior: float = TYPE_PRIOR_EVENTS,
    category_prior: float = CATEGORY_PRIOR_EVENTS,
) -> np.ndarray:
    """(users, 21) lifts of each user's shares, each level shrunk towards the population's."""
    by_type = per_type(counts)
    type_shares = (by_type + type_prior * population.type_share) / (by_type.sum(axis=1, keepdims=True) + type_prior)
    within = (counts + category_prior * population.category_share) / (by_type[:, TYPE_OF_CATEGORY] + category_prior)
    return population.lift(type_shares[:, TYPE_OF_CATEGORY] * within)


def fit_hierarchical(slices: np.ndarray, exposure: np.ndarray, seed: int = 0) -> Scorer:
    """Layer 3: the population's shares from the training users; each user's own, shrunk towards them."""
    population = Population.of(slices.sum(axis=2), exposure)
    return lambda counts: hierarchical_scores(counts, population)


def fit_popularity(slices: np.ndarray, exposure: np.ndarray, seed: int = 0) -> Scorer:
    """The baseline: everyone gets the population's mean preference (its shares' lifts)."""
    population = Population.of(slices.sum(axis=2), exposure)
    common = population.lift(population.type_share[TYPE_OF_CATEGORY] * population.category_share)
    return lambda counts: np.tile(common, (len(counts), 1))


def preference_values(scores: np.ndarray) -> np.ndarray:
    """0-10 per user and category: `10 · sigmoid(score - the user's median score)`; 5 where unknown."""
    scores = np.asarray(scores, dtype=np.float64)
    known = np.isfinite(scores)
    median = np.zeros(len(scores))
    rows = known.any(axis=1)
    if rows.any():
        median[rows] = np.nanmedian(np.where(known[rows], scores[rows], np.nan), axis=1)
    values = 10.0 * expit(np.where(known, scores, 0.0) - median[:, None])
    return np.round(np.where(known, values, INDIFFERENCE), VALUE_DECIMALS)


def engine_table(user_ids: pd.Index, values: np.ndarray) -> pd.DataFrame:
    """`User_ID` then the 21 categories, as the engine's files have them."""
    frame = pd.DataFrame(values, columns=list(ENGINE_CATEGORIES))
    frame.insert(0, USER_COLUMN, np.asarray(user_ids))
    return frame[ENGINE_COLUMNS]
