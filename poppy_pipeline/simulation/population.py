"""The simulated user population (the `users` asset).

Users arrive over time: a founding cohort signed up in the year before `signup_start`, the rest
uniformly between `signup_start` and `signup_end`, so windows inside that span contain new
users. IDs follow sign-up order, as a real user table's would.

The users signed up by any day are therefore a prefix of the table, and every window's
statistics are over such a prefix. So that a small prefix (the first weeks, 20-40 users) shows
the same heavy tail of activity as the whole population, `Activity_Weight` takes its quantiles
from a randomly shifted van der Corput sequence in sign-up order: every prefix spreads evenly
over the log-normal distribution (the busiest tenth of any 30 users is about as busy as that of
all of them), while each user's weight is still log-normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import ndtri

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.common.threads import side_by_side
from poppy_pipeline.simulation.profiles import PROFILE_NAMES
from poppy_pipeline.simulation.settings import OBJECT_TYPES, SimulationSettings

USER_COLUMNS = [
    "User_ID",
    "Signup_Date",
    "Profile",
    "Device",
    "Activity_Weight",
    "Preferred_Type",
    "Rating_Bias",
]
DEVICES = ("desktop", "mobile")
FOUNDING_PERIOD_DAYS = 365
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def generate_users(settings: SimulationSettings) -> pd.DataFrame:
    """One row per user; every column is drawn from its own named stream."""
    n = settings.num_users
    signups = np.sort(_signup_ordinals(settings, n))
    profiles = stream(settings.seed, "users:profile").choice(
        len(PROFILE_NAMES), size=n, p=[settings.profile_weights[p] for p in PROFILE_NAMES]
    )
    is_mobile_profile = profiles == PROFILE_NAMES.index("mobile_user")
    on_mobile = stream(settings.seed, "users:device").random(n) < settings.mobile_share
    sigma = settings.activity_sigma
    # Log-normal with mean 1: heavy-tailed like real activity (top 10% of users ≈ 39% at σ=1).
    activity_quantiles, bias_quantiles = side_by_side(
        lambda: _spread_quantiles(settings.seed, "users:activity", n, 2),
        lambda: _spread_quantiles(settings.seed, "users:rating_bias", n, 3),
    )
    activity = np.exp(-(sigma**2) / 2 + sigma * ndtri(activity_quantiles))
    preference_rng = stream(settings.seed, "users:preferred_type")
    has_preference = preference_rng.random(n) < settings.preferred_type_user_share
    preferred = preference_rng.integers(len(OBJECT_TYPES), size=n)
    bias = settings.rating_bias_sd * ndtri(bias_quantiles)
    return pd.DataFrame(
        {
            "User_ID": np.arange(1, n + 1, dtype=np.int64),
            "Signup_Date": ordinals_to_dates(signups),
            "Profile": labels(PROFILE_NAMES, profiles),
            "Device": labels(DEVICES, (is_mobile_profile | on_mobile).astype(np.int8)),
            "Activity_Weight": np.round(activity, 6),
            "Preferred_Type": labels(OBJECT_TYPES, preferred, where=has_preference),
            "Rating_Bias": np.round(bias, 3),
        }
    )[USER_COLUMNS]


def labels(names: Sequence[str], codes: np.ndarray, where: np.ndarray | None = None) -> pd.arrays.ArrowStringArray:
    """`names[codes]` as a string column (missing where `where` is False), made by Arrow: a
    million labels without a million Python strings."""
    indices = pa.array(codes, mask=None if where is None else ~where)
    # pandas-stubs list no pd.array overload for a pyarrow array (pandas takes one).
    strings: pd.arrays.ArrowStringArray = pd.array(pa.array(list(names)).take(indices), dtype="str")  # type: ignore[call-overload]
    return strings


def _signup_ordinals(settings: SimulationSettings, n: int) -> np.ndarray:
    rng = stream(settings.seed, "users:signup")
    start = settings.signup_start_date.toordinal()
    end = settings.signup_end_date.toordinal()
    founding = rng.random(n) < settings.founding_user_share
    founding_days = rng.integers(start - FOUNDING_PERIOD_DAYS, start, size=n)
    growth_days = rng.integers(start, end + 1, size=n)
    return np.where(founding, founding_days, growth_days)


def _spread_quantiles(seed: int, name: str, n: int, base: int) -> np.ndarray:
    """n quantiles in (0, 1), each uniform, yet evenly spread over every prefix of the users.

    The van der Corput sequence in `base` (base 2: 0, 1/2, 1/4, 3/4, ...) fills [0, 1) evenly
    at every length; one uniform shift (mod 1) from the seed makes each value uniform. Distinct
    bases for distinct traits keep the traits independent of each other (a Halton sequence).
    """
    index = np.arange(n, dtype=np.int64)
    radical, digit, term = np.zeros(n), np.empty(n, dtype=np.int64), np.empty(n)
    scale = 1.0 / base
    while n and index[-1]:  # the largest index is the last: its digits run out last
        np.divmod(index, base, out=(index, digit))  # one pass for the quotient and the digit
        np.multiply(digit, scale, out=term)
        radical += term
        scale /= base
    shift = stream(seed, name).random()
    return np.clip((radical + shift) % 1.0, 1e-12, 1 - 1e-12)


def ordinals_to_dates(ordinals: np.ndarray) -> np.ndarray:
    """Proleptic Gregorian ordinals -> `datetime.date` objects (written to CSV as YYYY-MM-DD)."""
    days = (np.asarray(ordinals) - EPOCH_ORDINAL).astype("timedelta64[D]")
    return (np.datetime64("1970-01-01", "D") + days).astype(object)


def date_ordinals(dates: pd.Series) -> np.ndarray:
    """`datetime.date` (or datetime64) values -> proleptic Gregorian ordinals."""
    days = pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)
    return days + EPOCH_ORDINAL
