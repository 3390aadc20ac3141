"""What a span of interactions says about each user's categories, added up one day at a time.

Every event is coded once: its user (by row of `users`, others as they come), its object's engine
category (`categories.py`; events on objects of none of the 21 are counted and left out), its kind
and rating. The span's last `held_out_days` days are held out from fitting, to judge the models on
days they never saw. What is kept grows with users × 21 categories, not with events:

- `slices`: per user and category, the weighted events of the fitting days, each event in one of
  `SLICES` random slices (a seeded stream per day), so a model can learn to predict one slice from
  the others (Layer 4) and the slices add up to the whole;
- `recent`: the same for the held-out days (the published models fit every day: `everything`);
- `held_out_likes`: per user and category, the held-out days' Likes and ratings of 4-5 stars, the
  positives that real data (without a truth) is judged on;
- `strongest`: the back end's own signal, the largest Like (1) or rating (1-5) per user and category
  on the fitting days, and `like_rows`, those events one by one: the service's two models read them.

The pipeline's `Favorite` is the back end's `Like`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.common.codes import CodedDay, InteractionCodes
from poppy_pipeline.common.randomness import stream
from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES, category_codes

SLICES = 4
# How much an event says about a user's taste: a Like or a rating twice a view or a click (they follow
# taste more closely); kinds not listed (a real log's own) count as a view.
EVENT_WEIGHTS: dict[str, float] = {"View": 1.0, "Click": 1.0, "Favorite": 2.0, "Rate": 2.0}
LIKE = "Favorite"  # the back end's Like
RATE = "Rate"
HIGH_RATING = 4
CATEGORIES = len(ENGINE_CATEGORIES)


@dataclass
class Evidence:
    """The accumulated arrays, a row per user of the span (who made at least one event on a category)."""

    user_ids: pd.Index
    slices: np.ndarray  # (users, 21, SLICES) weighted events of the fitting days
    recent: np.ndarray  # (users, 21, SLICES) weighted events of the held-out days
    held_out_likes: np.ndarray  # (users, 21) Likes and 4-5 star ratings of the held-out days
    strongest: np.ndarray  # (users, 21) the largest Like (1) or rating on the fitting days, 0 where none
    like_rows: tuple[np.ndarray, np.ndarray, np.ndarray]  # (user row, category, strength) of those events
    exposure: np.ndarray  # (21,) each category's share of the catalog's objects
    events: int
    outside_categories: int  # events on objects of no engine category
    fitting_days: list[str] = field(default_factory=list)
    held_out_days: list[str] = field(default_factory=list)

    @property
    def fitting(self) -> np.ndarray:
        """(users, 21) weighted events of the fitting days."""
        fitting: NDArray[np.float32] = self.slices.sum(axis=2)
        return fitting

    @property
    def everything(self) -> np.ndarray:
        """(users, 21, SLICES) weighted events of every day (what the published models fit)."""
        everything: NDArray[np.float32] = self.slices + self.recent
        return everything


def catalog_exposure(objects: pd.DataFrame) -> np.ndarray:
    """Each engine category's share of the catalog's objects: where an indifferent user's events fall."""
    codes = category_codes(objects)
    counts = np.bincount(codes[codes >= 0], minlength=CATEGORIES).astype(np.float64)
    total = counts.sum()
    return counts / total if total else np.full(CATEGORIES, 1.0 / CATEGORIES)


class EvidenceBuilder:
    """Takes the span's days one at a time (`add_day`), in any order; `evidence()` gives the arrays."""

    def __init__(
        self, users: pd.DataFrame, objects: pd.DataFrame, days: list[str], held_out_days: int, seed: int
    ) -> None:
        self.codes = InteractionCodes(users, objects)
        catalog_rows = self.codes.objects(self.codes.types.encode(objects["Object_Type"]), objects["Object_ID"])
        self.category_of_object = np.full(self.codes.catalog_objects, -1, dtype=np.int64)
        inside = catalog_rows < self.codes.catalog_objects
        self.category_of_object[catalog_rows[inside]] = category_codes(objects)[inside]
        self.exposure = catalog_exposure(objects)
        self.seed = seed
        cut = max(len(days) - held_out_days, 0)
        self.fitting_days, self.held_out_days = list(days[:cut]), list(days[cut:])
        self.held_out_start = np.datetime64(self.held_out_days[0]) if self.held_out_days else None
        size = len(self.codes.users)
        self.slices = np.zeros((size, CATEGORIES, SLICES), dtype=np.float32)
        self.recent = np.zeros((size, CATEGORIES, SLICES), dtype=np.float32)
        self.held_out_likes = np.zeros((size, CATEGORIES), dtype=np.float32)
        self.strongest = np.zeros((size, CATEGORIES), dtype=np.float32)
        self.like_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.events = 0
        self.outside = 0

    def add_day(self, frame: pd.DataFrame, day: str) -> None:
        """Count one day's events (`day`: its partition key, which seeds its slices)."""
        if not len(frame):
            return
        coded = CodedDay(frame, self.codes)
        users, objects = coded.users, coded.objects
        known = objects < len(self.category_of_object)
        category = np.full(len(frame), -1, dtype=np.int64)
        category[known] = self.category_of_object[objects[known]]
        self.events += len(frame)
        keep = np.flatnonzero(category >= 0)
        self.outside += len(frame) - len(keep)
        self._grow(len(self.codes.users))
        kinds = frame["Interaction_Type"].astype(str).to_numpy()[keep]
        ratings = frame["Interaction_Rating"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        users, category = users[keep], category[keep]
        weights = np.ones(len(keep))
        for kind, weight in EVENT_WEIGHTS.items():
            weights[kinds == kind] = weight
        slices = stream(self.seed, "preferences:slices", pd.Timestamp(day).date()).integers(0, SLICES, len(keep))
        held_out = self._held_out(coded, keep)
        fit = ~held_out
        np.add.at(self.slices, (users[fit], category[fit], slices[fit]), weights[fit])
        np.add.at(self.recent, (users[held_out], category[held_out], slices[held_out]), weights[held_out])
        liked = (kinds == LIKE) | ((kinds == RATE) & (ratings >= HIGH_RATING))
        np.add.at(self.held_out_likes, (users[held_out & liked], category[held_out & liked]), 1.0)
        strength = np.where(kinds == LIKE, 1.0, np.where(kinds == RATE, ratings, np.nan))
        signal = fit & np.isfinite(strength)
        np.maximum.at(self.strongest, (users[signal], category[signal]), strength[signal])
        self.like_parts.append((users[signal], category[signal], strength[signal]))

    def _held_out(self, coded: CodedDay, keep: np.ndarray) -> np.ndarray:
        if self.held_out_start is None:
            return np.zeros(len(keep), dtype=bool)
        held_out: NDArray[np.bool_] = coded.days[keep] >= self.held_out_start
        return held_out

    def _grow(self, size: int) -> None:
        """Room for the users coded so far (a real log's users the users table lacked arrive as they come)."""
        if size <= len(self.recent):
            return
        for name in ("slices", "recent", "held_out_likes", "strongest"):
            old = getattr(self, name)
            grown = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
            grown[: len(old)] = old
            setattr(self, name, grown)

    def evidence(self) -> Evidence:
        """A row per user with at least one event on an engine category (the missing User_ID left out)."""
        seen = (self.slices.sum(axis=(1, 2)) + self.recent.sum(axis=(1, 2))) > 0
        seen[self.codes.users.missing] = False
        rows = np.flatnonzero(seen)
        position = np.full(len(seen), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        parts = self.like_parts or [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))]
        like_users, like_categories, like_strengths = (np.concatenate(p) for p in zip(*parts, strict=True))
        like_rows = position[like_users]
        mine = like_rows >= 0  # not the missing User_ID's
        return Evidence(
            user_ids=self.codes.users.value_of(rows),
            slices=self.slices[rows].astype(np.float64),
            recent=self.recent[rows].astype(np.float64),
            held_out_likes=self.held_out_likes[rows].astype(np.float64),
            strongest=self.strongest[rows].astype(np.float64),
            like_rows=(like_rows[mine], like_categories[mine], like_strengths[mine]),
            exposure=self.exposure,
            events=self.events,
            outside_categories=self.outside,
            fitting_days=self.fitting_days,
            held_out_days=self.held_out_days,
        )
