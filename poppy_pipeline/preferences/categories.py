"""The engine's 21 categories, and which one each catalog object belongs to.

The Poppy engine's `Layer3_User_Matrix_Object` (and Layer 4's user object) holds a 0-10 value per
category: star spectral classes, planet types, and moons by parent body. The files it reads name
them `A, B, F, G, K, M, O, Dwarf Planet, Gas Giant, Ice Giant, Terrestrial, Earth, Eris, Haumea,
Jupiter, Makemake, Mars, Neptune, Pluto, Saturn, Uranus` (spaces included), after `User_ID`.

The catalog's `Category` column holds a star's spectral letter, a planet's type (`GasGiant`, or
`Gas Giant` as the app's `Planets.Planet_Type` writes it) and a moon's parent body. An object
whose category is none of the 21 (a moon of an exoplanet, an `Unknown` type) is one the engine
scores as unknown; `category_codes` gives it -1.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

STAR_CLASSES: tuple[str, ...] = ("A", "B", "F", "G", "K", "M", "O")
PLANET_TYPES: tuple[str, ...] = ("Dwarf Planet", "Gas Giant", "Ice Giant", "Terrestrial")
MOON_PARENTS: tuple[str, ...] = (
    "Earth",
    "Eris",
    "Haumea",
    "Jupiter",
    "Makemake",
    "Mars",
    "Neptune",
    "Pluto",
    "Saturn",
    "Uranus",
)
# The engine's columns, in the order its files have them.
ENGINE_CATEGORIES: tuple[str, ...] = STAR_CLASSES + PLANET_TYPES + MOON_PARENTS
USER_COLUMN = "User_ID"
ENGINE_COLUMNS: list[str] = [USER_COLUMN, *ENGINE_CATEGORIES]
# The object type of each category, and each type's categories (positions in ENGINE_CATEGORIES).
CATEGORY_TYPE: tuple[str, ...] = ("Star",) * 7 + ("Planet",) * 4 + ("Moon",) * 10
TYPE_CATEGORIES: dict[str, tuple[int, ...]] = {
    t: tuple(i for i, owner in enumerate(CATEGORY_TYPE) if owner == t) for t in ("Star", "Planet", "Moon")
}
PREFERENCE_RANGE = (0.0, 10.0)
INDIFFERENCE = 5.0  # the engine boosts an object only above this (and scores unknown categories as this)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# What a catalog Category may say, per type, compared without case, spaces or underscores.
_BY_KEY: dict[tuple[str, str], int] = {
    **{("Star", _key(name)): i for i, name in enumerate(ENGINE_CATEGORIES) if CATEGORY_TYPE[i] == "Star"},
    **{("Planet", _key(name)): i for i, name in enumerate(ENGINE_CATEGORIES) if CATEGORY_TYPE[i] == "Planet"},
    **{("Moon", _key(name)): i for i, name in enumerate(ENGINE_CATEGORIES) if CATEGORY_TYPE[i] == "Moon"},
}


def category_code(object_type: str, category: str) -> int:
    """Position of an object's category among ENGINE_CATEGORIES, -1 when it is none of them."""
    return _BY_KEY.get((str(object_type), _key(str(category))), -1)


def category_codes(objects: pd.DataFrame) -> np.ndarray:
    """Per catalog row (`Object_Type`, `Category`), the engine category's position (-1: unknown).

    One lookup per distinct (type, category) pair, not per row."""
    if objects.empty:
        return np.empty(0, dtype=np.int64)
    pairs = pd.MultiIndex.from_arrays(
        [objects["Object_Type"].astype(str).to_numpy(), objects["Category"].astype(str).to_numpy()]
    )
    codes, uniques = pd.factorize(pairs)
    found = np.array([category_code(t, c) for t, c in uniques], dtype=np.int64)
    return found[codes]
