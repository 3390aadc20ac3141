"""How users' tastes steer their choice of objects: a category first, then an object inside it.

An event's object type is drawn first (`model.py`). Within the type, the user picks an object o with
probability ∝ `popularity(o) · exp(strength · z[u, c(o)])` (z: the user's log-odds for o's category,
`tastes.py`; strength: `taste_choice_strength` for views and clicks, `taste_like_strength` for
favourites and ratings): a category c with probability ∝ `mass(c) · exp(strength · z[u, c])`, mass
being the popularity of c's objects, then an object of c by its popularity. At strength 0 this is the
Zipf popularity of `model.py`, and an indifferent user's events fall on categories as their objects'
popularity does. A user's favourites are drawn the same way from the favourite popularity. Objects
whose category is none of the engine's 21 share one "other" category per type, at indifference.

The categories ("slots") are laid out type by type: the type's engine categories in the engine's
order, then its "other" slot; `segments[t]:segments[t + 1]` are type t's. Every table here is on
whole arrays; a day's draws are one gather and one comparison per type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.preferences.categories import TYPE_CATEGORIES, category_codes
from poppy_pipeline.simulation.sampling import SortedLookup
from poppy_pipeline.simulation.settings import INTERACTION_TYPES, OBJECT_TYPES
from poppy_pipeline.simulation.tastes import preference_values

# Slot layout: per type its engine categories, then "other".
SLOT_ENGINE: np.ndarray = np.array(
    [code for t in OBJECT_TYPES for code in (*TYPE_CATEGORIES[t], -1)], dtype=np.int64
)  # engine category of each slot, -1 for a type's "other"
SEGMENTS: np.ndarray = np.cumsum([0] + [len(TYPE_CATEGORIES[t]) + 1 for t in OBJECT_TYPES])
SLOT_TYPE: np.ndarray = np.repeat(np.arange(len(OBJECT_TYPES)), np.diff(SEGMENTS))
SLOTS = int(SEGMENTS[-1])
# Buckets per slot of the objects' lookup tables: a few per mille of the draws land in a bucket that
# holds an object's edge and are searched; 98,304 buckets for the 24 slots.
LOOKUP_RESOLUTION = 1 << 12
# Events whose object follows `taste_like_strength`: the ones that say the user likes it.
LIKING_KINDS = ("Favorite", "Rate")
LIKING_KIND_CODES = np.array([INTERACTION_TYPES.index(k) for k in LIKING_KINDS], dtype=np.int8)


ENGINE_SLOT: np.ndarray = np.argsort(np.where(SLOT_ENGINE >= 0, SLOT_ENGINE, SLOTS), kind="stable")[
    : int((SLOT_ENGINE >= 0).sum())
]  # slot of each engine category


def object_slots(type_codes: np.ndarray, engine_codes: np.ndarray) -> np.ndarray:
    """Slot of each catalog row: its engine category's, or its type's "other"."""
    known = engine_codes >= 0
    out = SEGMENTS[1:][type_codes] - 1  # the type's "other"
    out[known] = ENGINE_SLOT[engine_codes[known]]
    slots: NDArray[np.int64] = out.astype(np.int64)
    return slots


@dataclass(frozen=True)
class CatalogSlots:
    """The catalog by slot: each slot's popularity and the cumulative popularity inside each."""

    slot_of_row: np.ndarray  # (objects,) slot of each catalog row
    mass: np.ndarray  # (SLOTS,) popularity of the slot's objects (within their type)
    favourite_mass: np.ndarray  # (SLOTS,) the same for the favourite popularity
    rows_by_slot: np.ndarray  # catalog rows ordered by slot (stable)
    offsets: np.ndarray  # (SLOTS + 1,) rows_by_slot[offsets[s]:offsets[s + 1]] are slot s's
    # Cumulative popularity within the slot + slot code (one search for all slots), and the same for
    # how likely an object is to be a favourite; searched through bucket tables made once.
    stacked_popularity: SortedLookup
    stacked_favourite: SortedLookup

    @classmethod
    def of(
        cls, objects: pd.DataFrame, type_codes: np.ndarray, popularity: np.ndarray, favourite: np.ndarray
    ) -> CatalogSlots:
        slot_of_row = object_slots(type_codes, category_codes(objects))
        order = np.argsort(slot_of_row, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(slot_of_row, minlength=SLOTS))])
        return cls(
            slot_of_row=slot_of_row,
            mass=np.bincount(slot_of_row, weights=popularity, minlength=SLOTS),
            favourite_mass=np.bincount(slot_of_row, weights=favourite, minlength=SLOTS),
            rows_by_slot=order.astype(np.int32),
            offsets=offsets,
            stacked_popularity=SortedLookup(
                _stacked(popularity[order], slot_of_row[order], offsets), LOOKUP_RESOLUTION
            ),
            stacked_favourite=SortedLookup(_stacked(favourite[order], slot_of_row[order], offsets), LOOKUP_RESOLUTION),
        )

    def within_slot(self, weights: np.ndarray) -> np.ndarray:
        """(objects,) each object's share of its slot under `weights` (popularity, per catalog row)."""
        totals = np.bincount(self.slot_of_row, weights=weights, minlength=SLOTS)
        shares: NDArray[np.float64] = weights / totals[self.slot_of_row]
        return shares

    def draw_objects(self, slots: np.ndarray, uniform: np.ndarray, favourite: bool = False) -> np.ndarray:
        """Catalog row of an object of each slot, by popularity inside it (`uniform` in [0, 1))."""
        stacked = self.stacked_favourite if favourite else self.stacked_popularity
        picks = stacked.search(slots + uniform)
        rows: NDArray[np.int32] = self.rows_by_slot[np.minimum(picks, self.offsets[slots + 1] - 1)]
        return rows


def _stacked(weights: np.ndarray, slots: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Cumulative `weights` within each slot (ending at exactly 1), plus the slot code: one search for all."""
    cdf = np.empty(len(weights))
    for s in range(len(offsets) - 1):
        part = slice(offsets[s], offsets[s + 1])
        if offsets[s + 1] > offsets[s]:
            cdf[part] = np.cumsum(weights[part]) / weights[part].sum()
            cdf[offsets[s + 1] - 1] = 1.0
    stacked: NDArray[np.float64] = cdf + slots
    return stacked


def slot_log_odds(engine_log_odds: np.ndarray) -> np.ndarray:
    """(users, SLOTS) log-odds per slot; "other" slots are at indifference (0)."""
    out = np.zeros((len(engine_log_odds), SLOTS))
    known = SLOT_ENGINE >= 0
    out[:, known] = engine_log_odds[:, SLOT_ENGINE[known]]
    return out


def slot_weights(log_odds: np.ndarray, mass: np.ndarray, strength: float) -> np.ndarray:
    """(users, SLOTS) `mass(c) · exp(strength · z)`: how much each slot draws a user's events."""
    return mass * np.exp(strength * log_odds)


def segment_probabilities(weights: np.ndarray) -> np.ndarray:
    """Weights normalised within each type's segment: P(slot | user, type)."""
    totals = np.add.reduceat(weights, SEGMENTS[:-1], axis=1)
    return weights / np.where(totals > 0, totals, 1.0)[:, SLOT_TYPE]  # a type without objects: all 0


def segment_cdf(probabilities: np.ndarray) -> np.ndarray:
    """(users, SLOTS) float32 cumulative probabilities within each segment, each ending at exactly 1."""
    cdf = np.empty(probabilities.shape, dtype=np.float32)
    for t in range(len(OBJECT_TYPES)):
        part = slice(SEGMENTS[t], SEGMENTS[t + 1])
        cdf[:, part] = np.cumsum(probabilities[:, part], axis=1)
        cdf[:, SEGMENTS[t + 1] - 1] = 1.0
    return cdf


def cdf_probabilities(cdf: np.ndarray) -> np.ndarray:
    """(users, SLOTS) probabilities back from `segment_cdf`'s cumulative ones."""
    probabilities = np.diff(cdf.astype(np.float64), axis=1, prepend=0.0)
    probabilities[:, SEGMENTS[:-1]] = cdf[:, SEGMENTS[:-1]]
    return probabilities


def draw_slots(cdf: np.ndarray, rows: np.ndarray, type_codes: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """The slot of each event: `cdf[rows]`'s segment of its type, searched for `uniform` (one gather
    and one comparison per type; an empty slot's cumulative value repeats, so it is never drawn)."""
    slots = np.empty(len(rows), dtype=np.int64)
    for t in range(len(OBJECT_TYPES)):
        events = np.flatnonzero(type_codes == t)
        if len(events) == 0:
            continue
        block = cdf[rows[events], SEGMENTS[t] : SEGMENTS[t + 1]]
        found = (block <= uniform[events, None]).sum(axis=1)
        slots[events] = SEGMENTS[t] + np.minimum(found, SEGMENTS[t + 1] - SEGMENTS[t] - 1)
    return slots


def rating_shifts(log_odds: np.ndarray, rated_slot_share: np.ndarray, stars_per_ten_points: float) -> np.ndarray:
    """(users, SLOTS) stars a rating of each slot moves: `stars_per_ten_points · (p - p̄) / 10`, where p̄
    is the user's mean preference over the slots they rate (`rated_slot_share`), so that the user's
    mean rating stays their own."""
    preference = preference_values(log_odds)
    mean = (rated_slot_share * preference).sum(axis=1, keepdims=True)
    shifts: NDArray[np.float32] = (stars_per_ten_points * (preference - mean) / 10.0).astype(np.float32)
    return shifts
