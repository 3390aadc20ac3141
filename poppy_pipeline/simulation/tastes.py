"""Each simulated user's true preference over the engine's 21 categories: the truth that Layers 3 and 4
are judged against (the `user_preferences` table), never read by a model.

A user's preference for category c is `10 · sigmoid(z)` (0-10, 5 = indifferent); its log-odds z adds:

- the population's taste for c: some categories are liked more by everyone (drawn per seed);
- the user's affinity to c's object type (stars, planets, moons), shared by the type's categories, so
  that preferences are correlated within a type; a `Preferred_Type` adds `PREFERRED_TYPE_SHIFT`;
- a strong liking (`LOVED_BOOST`) for a few categories (1-4, two on average), picked with the pull of
  the population's and the user's type tastes;
- a small part of the user's own.

So most categories sit near indifference (about 3.5-6.5) and a few near 9. Behaviour follows the
odds `p / (10 - p) = exp(z)`: the simulation weighs a category by `exp(strength · z)` when a user
picks an object (`model.py`), and moves ratings with p (`taste_rating_shift`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import expit

from poppy_pipeline.common.codes import category_codes as value_codes
from poppy_pipeline.common.randomness import stream
from poppy_pipeline.preferences.categories import CATEGORY_TYPE, ENGINE_CATEGORIES, ENGINE_COLUMNS, USER_COLUMN
from poppy_pipeline.simulation.settings import OBJECT_TYPES, SimulationSettings

POPULATION_SD = 0.4
TYPE_SD = 0.35
PREFERRED_TYPE_SHIFT = 0.7
LOVED_EXTRA = (3, 0.35)  # 1 + Binomial(3, 0.35) loved categories per user: 1-4, two on average
LOVED_BOOST = (1.5, 3.0)  # uniform range of a loved category's extra log-odds
OWN_SD = 0.3
PREFERENCE_DECIMALS = 3
# Each category's object type, as a code into OBJECT_TYPES.
CATEGORY_TYPE_CODES = np.array([OBJECT_TYPES.index(t) for t in CATEGORY_TYPE], dtype=np.int64)


def taste_log_odds(settings: SimulationSettings, users: pd.DataFrame) -> np.ndarray:
    """(users, 21) log-odds z of each user's preference for each engine category, in users-table order."""
    n, k = len(users), len(ENGINE_CATEGORIES)
    population = stream(settings.seed, "tastes:population").normal(0.0, POPULATION_SD, size=k)
    rng = stream(settings.seed, "users:tastes")
    type_affinity = rng.normal(0.0, TYPE_SD, size=(n, len(OBJECT_TYPES)))
    preferred = value_codes(users["Preferred_Type"], OBJECT_TYPES)
    has = np.flatnonzero(preferred >= 0)
    type_affinity[has, preferred[has]] += PREFERRED_TYPE_SHIFT
    shared = population + type_affinity[:, CATEGORY_TYPE_CODES]
    loved = _loved(rng, shared)
    boost = rng.uniform(*LOVED_BOOST, size=(n, k))
    own = rng.normal(0.0, OWN_SD, size=(n, k))
    return shared + np.where(loved, boost, 0.0) + own


def _loved(rng: np.random.Generator, pull: np.ndarray) -> np.ndarray:
    """(users, 21) whether each category is among the user's few loved ones: 1-4 categories drawn
    without replacement with probabilities ∝ exp(pull) (the Gumbel top-k trick, on whole arrays)."""
    n, k = pull.shape
    trials, chance = LOVED_EXTRA
    count = 1 + rng.binomial(trials, chance, size=(n,))
    keys = pull + rng.gumbel(size=(n, k))
    rank = np.empty((n, k), dtype=np.int64)
    np.put_along_axis(rank, np.argsort(-keys, axis=1, kind="stable"), np.arange(k), axis=1)
    loved: NDArray[np.bool_] = rank < count[:, None]
    return loved


def preference_values(log_odds: np.ndarray) -> np.ndarray:
    """Preferences 0-10 from their log-odds (5 = indifferent)."""
    return 10.0 * expit(log_odds)


def true_preferences(settings: SimulationSettings, users: pd.DataFrame) -> pd.DataFrame:
    """The truth table: `User_ID` and the 21 engine categories (0-10), a row per user."""
    values = np.round(preference_values(taste_log_odds(settings, users)), PREFERENCE_DECIMALS)
    frame = pd.DataFrame(values, columns=list(ENGINE_CATEGORIES))
    frame.insert(0, USER_COLUMN, users["User_ID"].to_numpy())
    return frame[ENGINE_COLUMNS]
