"""Each user's own order over the objects, drawn forward day by day (`user_object_order`).

A ratings log has no repeats: a user rates a movie once. Drawing every event from popularity
repeats by chance (a fifth of a MovieLens-like log's events), and a day cannot know which objects
a user had on other days without reading them. Here each user has a fixed order over the catalog:
weighted sampling without replacement, by their type probabilities × popularity (the Gumbel top-L
of the log weights). A fresh event takes the next object of the user's order; `habits.fresh_before`
says how far the user had gone before the day (recounted from the same per-day draws, not read
from files). A revisit (probability `repeat_share`, never a user's first event) takes one of
the objects the user already had, uniformly, so the repeat share is the revisits' share.

An order holds twice a user's fresh events over the reference span (`repeat_reference_days` from
`signup_start`), plus a margin, at most the catalog; beyond it (a run far longer than the span),
events fall back to popularity draws and may repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation.habits import day_plan, expected_daily_events, fresh_before, habits_of
from poppy_pipeline.simulation.sampling import searchsorted_right

if TYPE_CHECKING:
    from poppy_pipeline.simulation.model import SimulationModel

ORDER_MARGIN = 16
BLOCK_KEYS = 1 << 22  # Gumbel keys drawn at a time (users × objects)


@dataclass(frozen=True)
class UserOrders:
    objects: np.ndarray  # catalog rows, each user's order one after another
    offsets: np.ndarray  # user u's order is objects[offsets[u]:offsets[u + 1]]


def build_orders(model: SimulationModel, expected_fresh: np.ndarray) -> UserOrders:
    """Each user's first min(catalog, 2 · expected fresh events + margin) objects, in order."""
    s = model.settings
    catalog = len(model.object_ids)
    lengths = np.minimum(catalog, np.ceil(2 * expected_fresh).astype(np.int64) + ORDER_MARGIN)
    offsets = np.r_[0, np.cumsum(lengths)]
    objects = np.empty(int(offsets[-1]), dtype=np.int32)
    log_popularity = np.log(np.maximum(model.popularity, 1e-300))
    type_probabilities = model.tables.type_probabilities
    rng = stream(s.seed, "users:object_order")
    block = max(1, BLOCK_KEYS // max(catalog, 1))
    for first in range(0, len(lengths), block):
        users = np.arange(first, min(first + block, len(lengths)))
        with np.errstate(divide="ignore"):
            keys = np.log(type_probabilities[users][:, model.object_type_codes]) + log_popularity
        keys += rng.gumbel(size=keys.shape)
        for row, user in enumerate(users):
            size = int(lengths[user])
            top = np.argpartition(-keys[row], size - 1)[:size] if size < catalog else np.arange(catalog)
            objects[offsets[user] : offsets[user + 1]] = top[np.argsort(-keys[row, top], kind="stable")]
    return UserOrders(objects, offsets)


def _orders(model: SimulationModel) -> UserOrders:
    """The users' orders, made on first use and kept with the model."""
    orders = model.habit_state.get("orders")
    if not isinstance(orders, UserOrders):
        orders = model.habit_state["orders"] = build_orders(model, expected_fresh_events(model))
    return orders


def expected_fresh_events(model: SimulationModel) -> np.ndarray:
    """Each user's fresh events over the reference span from signup_start (counted from the same
    per-day draws as the days themselves), or the expected ones where that is larger."""
    s = model.settings
    habits = habits_of(model)
    per_day = expected_daily_events(model, np.arange(len(model.user_ids)))
    span_end = s.signup_start_date + timedelta(days=s.repeat_reference_days)
    counted = fresh_before(model, span_end) - fresh_before(model, s.signup_start_date)
    expected: NDArray[np.float64] = np.maximum(counted, per_day * s.repeat_reference_days * (1 - habits.revisit))
    return expected


def draw_ordered_objects(model: SimulationModel, day: date, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(type codes, catalog rows) of a day's events (`users` in time order): fresh events down
    each user's order, revisits among the objects the user already had."""
    before = fresh_before(model, day)
    rows, _, revisits = day_plan(model, day, before)
    revisits_of = np.zeros(len(before), dtype=np.int64)
    revisits_of[rows] = revisits
    rng = stream(model.settings.seed, "orders:events", day)
    n = len(users)
    keys, picks = rng.random(n), rng.random(n)
    by_user = np.argsort(users, kind="stable")  # each user's events, in time order
    grouped = users[by_user]
    first = np.r_[True, grouped[1:] != grouped[:-1]] if n else np.empty(0, bool)
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else np.empty(0, np.int64)
    ranked_keys = keys[by_user]
    ranked_keys[first & (before[grouped] == 0)] = 2.0  # a user's very first event is fresh
    # The user's `revisits` events with the lowest keys revisit.
    by_key = np.lexsort((ranked_keys, grouped))
    rank = np.empty(n, dtype=np.int64)
    rank[by_key] = np.arange(n) - group_start
    revisit = rank < revisits_of[grouped]
    fresh = (~revisit).astype(np.int64)
    fresh_earlier = np.cumsum(fresh) - fresh
    fresh_earlier -= fresh_earlier[group_start]  # fresh events of the user earlier today
    seen = before[grouped] + fresh_earlier
    position = np.where(revisit, np.floor(picks[by_user] * np.maximum(seen, 1)).astype(np.int64), seen)
    catalog_rows = _objects_at(model, day, grouped, position)
    out = np.empty(n, dtype=np.int32)
    out[by_user] = catalog_rows
    return model.object_type_codes[out].astype(np.int8), out


def _objects_at(model: SimulationModel, day: date, users: np.ndarray, position: np.ndarray) -> np.ndarray:
    """The object at each position of its user's order; past the order's end, a popularity draw."""
    orders = _orders(model)
    start, stop = orders.offsets[users], orders.offsets[users + 1]
    inside = start + position < stop
    rows = np.empty(len(users), dtype=np.int32)
    rows[inside] = orders.objects[(start + position)[inside]]
    beyond = np.flatnonzero(~inside)
    if beyond.size:
        rng = stream(model.settings.seed, "orders:beyond", day)
        type_cdf = model.tables.type_cdf[users[beyond]]
        types = (rng.random(beyond.size)[:, None] >= type_cdf[:, :-1]).sum(axis=1)
        picks = searchsorted_right(model.stacked_popularity_cdf, types + rng.random(beyond.size))
        rows[beyond] = np.minimum(picks, model.type_offsets[types + 1] - 1)
    return rows
