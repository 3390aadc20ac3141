"""Simulated interactions, one day at a time, on whole numpy arrays.

How a day is made (every step vectorised over the day's events):

1. Each user signed up by then makes a Poisson number of events: their heavy-tailed
   `Activity_Weight`'s share of `interactions_per_day` among all users, so traffic grows with
   the users and nobody gets busier because few others have signed up yet; `weekday_weights`
   scales each weekday (flat by default); with `active_day_share` < 1 a user is active on that
   share of days only, at their rate / share (the bursty days of real users).
2. A user's events come in sessions (10-300 s long by the user's profile), which start at an
   hour drawn from `hour_weights` (evening peak); events fall uniformly inside their session.
   With `session_gap_median_sec` > 0 a session is a sitting instead: its events follow one
   another after log-normal gaps, as long as they take (`sittings.py`).
3. Interaction type from `interaction_type_weights`.
4. Each event picks an object type (a user's `Preferred_Type` gets `preferred_type_share` of
   their events, the others follow the user's tastes), then an object: with probability
   `revisit_probability` one of the user's favourites of that type, otherwise a category of the
   type by the user's tastes (more strongly for a Favorite or a Rate: `taste_choices.py`) and an
   object of it by its Zipf popularity. The favourites are the same every day, which is what makes
   users come back to objects across days without any day reading another; `revisit_probability`
   is solved so that `repeat_share` of a window of `repeat_reference_days` repeats an earlier
   (user, type, object).
5. A `Rate` gets 1-5 stars from the user's own rating distribution: `rating_weights`
   exponentially tilted until its mean is the base mean plus the user's `Rating_Bias` plus the
   rated category's taste shift (so the shift is exact within 1-5; shifting and clipping lost it
   at the top, where two thirds of ratings are 4-5); a `View` gets a watch time of a
   Beta-distributed share of the object's media.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.common.threads import side_by_side
from poppy_pipeline.simulation.habits import day_counts, personal_hours
from poppy_pipeline.simulation.model import SimulationModel
from poppy_pipeline.simulation.profiles import session_length_seconds
from poppy_pipeline.simulation.repeats import revisit_probability
from poppy_pipeline.simulation.sampling import sample_quantiles, searchsorted_right
from poppy_pipeline.simulation.settings import INTERACTION_TYPES, OBJECT_TYPES, SimulationSettings
from poppy_pipeline.simulation.sittings import browsing_cuts, burst_offsets, sitting_offsets
from poppy_pipeline.simulation.taste_choices import LIKING_KIND_CODES, draw_slots
from poppy_pipeline.simulation.type_labels import labelled_types
from poppy_pipeline.simulation.user_orders import draw_ordered_objects

SECONDS_PER_DAY = 86_400
# Interaction and session IDs are YYYYMMDD * ID_BLOCK + sequence: unique across days, readable.
ID_BLOCK = 100_000_000


def simulate_day(model: SimulationModel, day: date) -> pd.DataFrame:
    """All interactions of one day, in time order; depends only on the model, the seed and `day`."""
    users, seconds, session_rank = _events_in_time_order(model, day)
    n = len(users)
    if n >= ID_BLOCK:
        raise ValueError(f"{day}: {n} interactions exceed the {ID_BLOCK - 1} a day that IDs allow")
    # Given its user, every remaining draw is made directly in time order, each from a stream of
    # its own; the kind comes first (the object follows tastes more strongly for a Favorite or a
    # Rate), and the watch times are drawn while the ratings are.
    kinds = _draw_interaction_types(model.settings, day, n)
    type_codes, rows = _draw_types_and_objects(model, day, users, kinds)
    ratings, watch = side_by_side(
        lambda: _draw_ratings(model, day, users, kinds, rows),
        lambda: _draw_watch_times(model, day, rows, kinds),
    )
    day_code = day.year * 10_000 + day.month * 100 + day.day
    return pd.DataFrame(
        {
            "Interaction_ID": day_code * ID_BLOCK + np.arange(1, n + 1, dtype=np.int64),
            "User_ID": model.user_ids[users],
            "Object_Type": pd.Categorical.from_codes(type_codes, categories=pd.Index(OBJECT_TYPES)),
            "Object_ID": model.object_ids[rows],
            "Interaction_Type": labelled_types(model.settings, day, kinds),
            "Interaction_Rating": pd.arrays.IntegerArray(ratings, ratings == 0),
            "Timestamp": np.datetime64(day, "s") + seconds.astype("timedelta64[s]"),
            "Session_ID": day_code * ID_BLOCK + 1 + session_rank,
            "Watch_Time_Sec": pd.arrays.IntegerArray(watch, watch < 0),
        },
        copy=False,
    )


def _events_in_time_order(model: SimulationModel, day: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user row, second of day, session rank) of each event in time order; ties keep user order."""
    users = _daily_users(model, day)
    sessions = _sessions(model, day, users)
    order = stable_order_by_second(sessions.event_seconds)
    return users[order], sessions.event_seconds[order], sessions.session_rank[order]


def stable_order_by_second(seconds: np.ndarray) -> np.ndarray:
    """`argsort(seconds, kind="stable")` for seconds of a day, as a two-pass radix sort.

    NumPy radix-sorts 16-bit keys, so sorting by the low then the high 16 bits beats a comparison
    sort of int64 keys, with the same (stable) result.
    """
    low = (seconds & 0xFFFF).astype(np.uint16)
    high = (seconds >> 16).astype(np.uint16)
    order = np.argsort(low, kind="stable")
    return order[np.argsort(high[order], kind="stable")]


# --- one day ---------------------------------------------------------------------------------


def _daily_users(model: SimulationModel, day: date) -> np.ndarray:
    """User row of each event: each signed-up user's events of the day (`habits.day_counts`)."""
    rows, counts = day_counts(model, day)
    if rows.size == 0:
        return np.empty(0, dtype=np.int64)
    return np.repeat(rows.astype(np.int32), counts)


@dataclass(frozen=True)
class _Sessions:
    event_seconds: np.ndarray  # second of the day of each event
    session_rank: np.ndarray  # the session's rank by start time within the day


def _sessions(model: SimulationModel, day: date, users: np.ndarray) -> _Sessions:
    """Cut each user's events into sessions and place the events inside them."""
    s = model.settings
    rng = stream(s.seed, "interactions:sessions", day)
    n = len(users)
    if n == 0:
        return _Sessions(np.empty(0, np.int64), np.empty(0, np.int64))
    starts_session = rng.random(n, dtype=np.float32) < 1.0 / s.interactions_per_session
    starts_session[0] = True
    starts_session[1:] |= users[1:] != users[:-1]  # events arrive grouped by user
    session_of_event = np.cumsum(starts_session, dtype=np.int32) - 1
    session_users = users[starts_session]
    count = len(session_users)

    hour_cdf = np.cumsum(s.hour_weights)
    if s.session_gap_median_sec > 0:
        return _sittings(model, day, rng, users, starts_session, hour_cdf)
    trait = sample_quantiles(model.session_length_quantiles, rng.random(count), model.profile_codes[session_users])
    length = np.floor(session_length_seconds(trait)).astype(np.int32)
    hour = personal_hours(model, day, session_users, np.minimum(searchsorted_right(hour_cdf, rng.random(count)), 23))
    start = (hour * 3600 + rng.integers(0, 3600, size=count)).astype(np.int32)
    start = np.minimum(start, SECONDS_PER_DAY - 1 - length)  # a session ends on its own day
    offset = (rng.random(n, dtype=np.float32) * (length[session_of_event] + 1)).astype(np.int32)
    return _ranked(start[session_of_event] + offset, session_of_event, start)


def _sittings(
    model: SimulationModel,
    day: date,
    rng: np.random.Generator,
    users: np.ndarray,
    starts: np.ndarray,
    hour_cdf: np.ndarray,
) -> _Sessions:
    """Sessions as sittings of log-normal gaps, cut into browsing sessions of ≤ 300 s (`sittings.py`)."""
    s = model.settings
    sitting_of_event = np.cumsum(starts) - 1
    count = int(sitting_of_event[-1]) + 1
    hour = personal_hours(model, day, users[starts], np.minimum(searchsorted_right(hour_cdf, rng.random(count)), 23))
    start = hour * 3600 + rng.integers(0, 3600, size=count)
    uniforms = rng.random(len(starts))
    if s.session_gap_zero_share > 0:  # same-second bursts: their own stream, so the gaps' draws stay
        same_second = stream(s.seed, "interactions:same_second", day).random(len(starts)) < s.session_gap_zero_share
        offsets = burst_offsets(uniforms, same_second, starts, s.session_gap_median_sec, s.session_gap_sigma)
    else:
        offsets = sitting_offsets(uniforms, starts, s.session_gap_median_sec, s.session_gap_sigma)
    offset = np.minimum(offsets, SECONDS_PER_DAY - 1)
    span = np.maximum.reduceat(offset, np.flatnonzero(starts))
    start = np.maximum(np.minimum(start, SECONDS_PER_DAY - 1 - span), 0)  # a sitting ends on its own day
    seconds = start[sitting_of_event] + offset
    cuts = browsing_cuts(offset, starts)
    return _ranked(seconds, np.cumsum(cuts) - 1, seconds[cuts])


def _ranked(seconds: np.ndarray, session_of_event: np.ndarray, session_start: np.ndarray) -> _Sessions:
    """The events' seconds and their session's rank by start time."""
    rank_of_session = np.empty(len(session_start), dtype=np.int64)
    rank_of_session[stable_order_by_second(session_start)] = np.arange(len(session_start))
    return _Sessions(seconds, rank_of_session[session_of_event])


def _draw_types_and_objects(
    model: SimulationModel, day: date, users: np.ndarray, kinds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if model.settings.user_object_order:  # each user down an order of their own (`user_orders.py`)
        return draw_ordered_objects(model, day, users)
    type_codes = _draw_object_types(model, day, users)
    return type_codes, _draw_objects(model, day, users, type_codes, kinds)


def _draw_object_types(model: SimulationModel, day: date, users: np.ndarray) -> np.ndarray:
    r = stream(model.settings.seed, "interactions:object_type", day).random(len(users))
    types: NDArray[np.int8] = (r >= model.tables.type_cdf[:, 0][users]).astype(np.int8) + (
        r >= model.tables.type_cdf[:, 1][users]
    )
    return types


def _draw_objects(
    model: SimulationModel, day: date, users: np.ndarray, type_codes: np.ndarray, kinds: np.ndarray
) -> np.ndarray:
    """Catalog row of each event: a favourite (revisit), or a category by the user's tastes and an
    object of it by popularity."""
    rng = stream(model.settings.seed, "interactions:object", day)
    n = len(users)
    k = model.settings.favourites_per_type
    revisit = rng.random(n, dtype=np.float32) < revisit_probability(model, day)
    slot = rng.integers(0, k, size=n)
    uniform = rng.random(n)
    category_draw = rng.random(n)
    rows = np.empty(n, dtype=np.int32)
    back = np.flatnonzero(revisit)
    rows[back] = model.tables.favourites.ravel()[
        (users[back].astype(np.int64) * len(OBJECT_TYPES) + type_codes[back]) * k + slot[back]
    ]
    fresh = np.flatnonzero(~revisit)
    # A Favorite or a Rate reads the liking half of the table (rows shifted by the number of users).
    liking = np.isin(kinds[fresh], LIKING_KIND_CODES)
    table_rows = users[fresh].astype(np.int64) + liking * len(model.user_ids)
    categories = draw_slots(model.tables.slot_cdf, table_rows, type_codes[fresh], category_draw[fresh])
    rows[fresh] = model.catalog_slots.draw_objects(categories, uniform[fresh])
    return rows


def _draw_interaction_types(settings: SimulationSettings, day: date, n: int) -> np.ndarray:
    cdf = np.cumsum([settings.interaction_type_weights[t] for t in INTERACTION_TYPES])
    draws = searchsorted_right(cdf, stream(settings.seed, "interactions:type", day).random(n))
    kinds: NDArray[np.int8] = np.minimum(draws, len(INTERACTION_TYPES) - 1).astype(np.int8)
    return kinds


def _draw_ratings(
    model: SimulationModel, day: date, users: np.ndarray, kinds: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """1-5 stars for Rate events (0 elsewhere), from the user's own rating distribution moved by the
    rated object's category (`taste_rating_shift`)."""
    rng = stream(model.settings.seed, "interactions:rating", day)
    rated = np.flatnonzero(kinds == INTERACTION_TYPES.index("Rate"))
    tables, raters = model.tables, users[rated]
    offsets = tables.rating_bias[raters] + tables.rating_shift[raters, model.catalog_slots.slot_of_row[rows[rated]]]
    ratings = np.zeros(len(users), dtype=np.int64)
    ratings[rated] = tables.rating_grid.draw(offsets, rng.random(len(rated)))
    return ratings


def _draw_watch_times(model: SimulationModel, day: date, rows: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Whole seconds watched for View events (-1 elsewhere): a Beta share of the media."""
    rng = stream(model.settings.seed, "interactions:watch_time", day)
    viewed = np.flatnonzero(kinds == INTERACTION_TYPES.index("View"))
    share = sample_quantiles(model.watch_ratio_quantiles, rng.random(len(viewed)))
    watch = np.full(len(rows), -1, dtype=np.int64)
    watch[viewed] = np.maximum(1, np.rint(share * model.object_durations[rows[viewed]]))
    return watch
