"""Seed 000's pattern measures as they were before issue 14, kept as the reference the per-day
accumulator must equal.

They measured a concatenated span at once (its memory grows with the span's events).
`poppy_pipeline/simulation/span_patterns.py` now accumulates the same figures one day at a time, and
`patterns.py` measures one frame with it; `simulation/test_span_patterns.py` checks that both give the
same results on many spans and on broken ones.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from poppy_pipeline.simulation.settings import INTERACTION_TYPES, SimulationSettings

TYPE_MIX_TOLERANCE = 0.02
HIGH_RATING_MIN_SHARE = 0.80
RATING_BIAS_MIN_CORRELATION = 0.5
RATING_BIAS_MIN_RATINGS = 5
# Below this many users a correlation's standard error (≈ 1/√(n − 3) > 0.37) spans the whole
# range the claim is about; a week of 30 users has about five raters with three ratings.
RATING_BIAS_MIN_USERS = 10
PREFERRED_TYPE_TOLERANCE = 0.05
REPEAT_SHARE_TOLERANCE = 0.05
TOP_DECILE_MIN_SHARE = 0.30
EVENING_MIN_SHARE = 0.35
NIGHT_MAX_SHARE = 0.20
STANDARD_ERRORS = 4.0
VOLUME_TOLERANCE = 0.15


@dataclass
class PatternResult:
    name: str
    passed: bool
    value: float
    target: str
    details: dict = field(default_factory=dict)
    not_applicable: str | None = None  # why the span cannot measure it; None when it can

    def describe(self) -> str:
        if self.not_applicable:
            return f"{self.name} not applicable: {self.not_applicable}"
        verdict = "holds" if self.passed else "FAILS"
        return f"{self.name} {verdict}: measured {self.value:.4f}, target {self.target}"


def _tolerance(spec: float, share: float, n: int) -> float:
    if n == 0:
        return math.inf
    return max(spec, STANDARD_ERRORS * math.sqrt(max(share * (1 - share), 1e-12) / n))


def type_mix(interactions: pd.DataFrame, settings: SimulationSettings) -> PatternResult:
    n = len(interactions)
    counts = interactions["Interaction_Type"].value_counts()
    shares = {t: float(counts.get(t, 0) / n) if n else 0.0 for t in INTERACTION_TYPES}
    deviations = {t: shares[t] - settings.interaction_type_weights[t] for t in INTERACTION_TYPES}
    worst = max(INTERACTION_TYPES, key=lambda t: abs(deviations[t]))
    tolerance = _tolerance(TYPE_MIX_TOLERANCE, settings.interaction_type_weights[worst], n)
    return PatternResult(
        "type_mix",
        n > 0 and abs(deviations[worst]) <= tolerance,
        abs(deviations[worst]),
        f"every type within {tolerance:.3f} of {dict(settings.interaction_type_weights)}",
        {"shares": shares, "events": n, "worst_type": worst},
    )


def rating_distribution(interactions: pd.DataFrame) -> PatternResult:
    ratings = interactions["Interaction_Rating"]
    is_rate = (interactions["Interaction_Type"] == "Rate").to_numpy()
    has_rating = ratings.notna().to_numpy()
    misplaced = int((is_rate != has_rating).sum())
    values = ratings[has_rating].to_numpy(np.int64)
    out_of_range = int(((values < 1) | (values > 5)).sum())
    high = float((values >= 3).mean()) if len(values) else 0.0
    tolerance = _tolerance(0.0, HIGH_RATING_MIN_SHARE, len(values))
    return PatternResult(
        "rating_distribution",
        misplaced == 0 and out_of_range == 0 and len(values) > 0 and high >= HIGH_RATING_MIN_SHARE - tolerance,
        high,
        f"ratings only on Rate, 1-5, ≥ {HIGH_RATING_MIN_SHARE:.0%} of them 3-5",
        {
            "ratings": len(values),
            "share_3_to_5": high,
            "histogram": {str(k): int((values == k).sum()) for k in range(1, 6)},
            "ratings_off_rate_or_missing": misplaced,
            "ratings_outside_1_5": out_of_range,
        },
    )


def rating_bias_correlation(interactions: pd.DataFrame, users: pd.DataFrame) -> PatternResult:
    rated = interactions[interactions["Interaction_Rating"].notna()]
    per_user = rated.groupby("User_ID")["Interaction_Rating"].agg(["mean", "size"])
    per_user = per_user[per_user["size"] >= RATING_BIAS_MIN_RATINGS]
    bias = users.set_index("User_ID")["Rating_Bias"].reindex(per_user.index)
    measurable = len(per_user) >= RATING_BIAS_MIN_USERS
    correlation = (
        float(np.corrcoef(per_user["mean"].astype(float), bias.astype(float))[0, 1]) if measurable else float("nan")
    )
    return PatternResult(
        "rating_bias_correlation",
        measurable and bool(correlation >= RATING_BIAS_MIN_CORRELATION),
        correlation,
        f"corr(user mean rating, Rating_Bias) ≥ {RATING_BIAS_MIN_CORRELATION}"
        f" over users with ≥ {RATING_BIAS_MIN_RATINGS} ratings",
        {"users": len(per_user), "ratings": len(rated)},
        None
        if measurable
        else f"only {len(per_user)} users have ≥ {RATING_BIAS_MIN_RATINGS} ratings in this span"
        f" (a correlation needs {RATING_BIAS_MIN_USERS}); a longer span has more",
    )


def preferred_type_share(
    interactions: pd.DataFrame, users: pd.DataFrame, settings: SimulationSettings
) -> PatternResult:
    preference = users["Preferred_Type"]
    names = text_values(preference)
    user_rows = _user_rows(interactions, users)
    preferred_code = np.append(type_codes(preference, names), -1)[user_rows]  # -1: none (or unknown user)
    mine = preferred_code >= 0
    n = int(mine.sum())
    share = float((type_codes(interactions["Object_Type"], names)[mine] == preferred_code[mine]).mean()) if n else 0.0
    target = settings.preferred_type_share
    tolerance = _tolerance(PREFERRED_TYPE_TOLERANCE, target, n)
    return PatternResult(
        "preferred_type_share",
        n > 0 and abs(share - target) <= tolerance,
        share,
        f"{target:.2f} ± {tolerance:.3f} of a preferring user's interactions on the preferred type",
        {"events_of_preferring_users": n, "preferring_users": int(preference.notna().sum())},
    )


def repeat_share(interactions: pd.DataFrame, expected: float) -> PatternResult:
    """Share of events that, in timestamp order, repeat an earlier (user, type, object)."""
    # In any order, the events that repeat an earlier key are all but the first of each key.
    pairs, pair_count, _ = _object_pairs(interactions)
    users, _ = small_codes(interactions["User_ID"])
    n = len(interactions)
    repeats = n - len(pd.unique(users * pair_count + pairs))
    share = repeats / n if n else 0.0
    tolerance = _tolerance(REPEAT_SHARE_TOLERANCE, expected, n)
    return PatternResult(
        "repeat_share",
        n > 0 and abs(share - expected) <= tolerance,
        share,
        f"{expected:.3f} ± {tolerance:.3f}",
        {"events": n, "repeats": repeats},
    )


def top_decile_share(counts: pd.Series, population: int) -> float:
    """Share of all events made by the busiest 10% of `population` members."""
    if population == 0 or counts.sum() == 0:
        return 0.0
    top = max(1, math.ceil(population / 10))
    return float(np.sort(counts.to_numpy())[::-1][:top].sum() / counts.sum())


def concentration(interactions: pd.DataFrame, users: pd.DataFrame, objects: pd.DataFrame) -> PatternResult:
    """The busiest tenth of the users signed up by the span's last day (inactive ones count as
    0), and of the catalog's objects: users who had not signed up cannot be in the span."""
    last_day = _days(interactions["Timestamp"]).max() if len(interactions) else None
    signed_up = int((_days(users["Signup_Date"]) <= last_day).sum()) if last_day is not None else 0
    users_seen = interactions["User_ID"].dropna()
    user_share = top_decile_share(pd.Series(np.bincount(small_codes(users_seen)[0])), signed_up)
    pairs, _, missing = _object_pairs(interactions)
    object_share = top_decile_share(pd.Series(np.bincount(pairs[~missing])), len(objects))
    return PatternResult(
        "activity_concentration",
        user_share >= TOP_DECILE_MIN_SHARE and object_share >= TOP_DECILE_MIN_SHARE,
        min(user_share, object_share),
        f"top 10% of users and of objects each ≥ {TOP_DECILE_MIN_SHARE:.0%} of interactions",
        {
            "top_decile_users_share": user_share,
            "top_decile_objects_share": object_share,
            "users": signed_up,
            "objects": len(objects),
        },
    )


def hour_profile(interactions: pd.DataFrame) -> PatternResult:
    hours = pd.DatetimeIndex(interactions["Timestamp"]).hour.to_numpy()
    n = len(hours)
    evening = float((hours >= 18).mean()) if n else 0.0
    night = float((hours < 6).mean()) if n else 0.0
    return PatternResult(
        "evening_peak",
        n > 0
        and evening >= EVENING_MIN_SHARE - _tolerance(0, EVENING_MIN_SHARE, n)
        and night < NIGHT_MAX_SHARE + _tolerance(0, NIGHT_MAX_SHARE, n),
        evening,
        f"≥ {EVENING_MIN_SHARE:.0%} between 18:00 and 24:00, < {NIGHT_MAX_SHARE:.0%} between 00:00 and 06:00",
        {"share_18_24": evening, "share_00_06": night, "per_hour": np.bincount(hours, minlength=24).tolist()},
    )


def integrity(
    interactions: pd.DataFrame, users: pd.DataFrame, objects: pd.DataFrame, check_signup: bool = True
) -> PatternResult:
    """Every object and user exists, no user acts before signing up, IDs are unique."""
    unknown_objects = _unknown_objects(interactions, objects)
    user_rows = _user_rows(interactions, users)
    known = user_rows >= 0
    unknown_users = int((~known).sum())
    signup = _days(users["Signup_Date"])[user_rows[known]]
    before_signup = int((_days(interactions["Timestamp"])[known] < signup).sum()) if check_signup else 0
    duplicate_ids = _duplicates(interactions["Interaction_ID"])
    problems = unknown_objects + unknown_users + before_signup + duplicate_ids
    rules = "unknown objects, unknown users, events before sign-up" if check_signup else "unknown objects, users"
    return PatternResult(
        "integrity",
        problems == 0,
        float(problems),
        f"0 {rules} and duplicate Interaction_IDs",  # only the rules it applied
        {
            "unknown_objects": unknown_objects,
            "unknown_users": unknown_users,
            **({"events_before_signup": before_signup} if check_signup else {}),
            "duplicate_interaction_ids": duplicate_ids,
            "events": len(interactions),
        },
    )


# --- vectorised helpers: integer codes instead of strings, MultiIndexes and sorts ---


def text_values(values: pd.Series) -> pd.Index:
    """The distinct values, as text (a categorical's categories: no pass over the rows)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Index(pd.unique(values.cat.categories.astype(str)))
    return pd.Index(pd.unique(values.dropna().astype(str)))


def type_codes(values: pd.Series, names: pd.Index) -> np.ndarray:
    """Position of each value (as text) in `names`, -1 where it is missing or not among them."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # one lookup per category, not per row
        mapping = np.append(names.get_indexer(values.cat.categories.astype(str)), -1)
        return mapping[values.cat.codes.to_numpy()]
    codes = names.get_indexer(values.astype(str))
    codes[values.isna().to_numpy()] = -1
    return codes


def _object_pairs(interactions: pd.DataFrame) -> tuple[np.ndarray, int, np.ndarray]:
    """A key per event that is the same exactly when (Object_Type, Object_ID) is (missing values
    are values too), the number of possible keys, and where either is missing."""
    types = interactions["Object_Type"]
    type_code = type_codes(types, text_values(types)).astype(np.int64) + 1
    ids, id_count = small_codes(interactions["Object_ID"])
    missing = (type_code == 0) | interactions["Object_ID"].isna().to_numpy()
    return type_code * id_count + ids, (int(type_code.max(initial=0)) + 1) * id_count, missing


def small_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Codes that are equal exactly when the values are (missing ones included), and a bound on
    them: the values themselves when they are small non-negative integers (no hashing)."""
    array = values.to_numpy()
    if array.dtype.kind in "iu" and len(array) and array.min() >= 0 and array.max() < 4 * len(array) + 1_000_000:
        return array.astype(np.int64, copy=False), int(array.max()) + 1
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), max(len(uniques), 1)


def _unknown_objects(interactions: pd.DataFrame, objects: pd.DataFrame) -> int:
    """Events whose (Object_Type, Object_ID) is not in the catalog."""
    names = text_values(objects["Object_Type"])
    event_types = type_codes(interactions["Object_Type"], names)
    catalog_types = type_codes(objects["Object_Type"], names)
    known = np.zeros(len(interactions), dtype=bool)
    for code in range(len(names)):
        events = np.flatnonzero(event_types == code)
        catalog_ids = objects["Object_ID"].to_numpy()[catalog_types == code]
        known[events] = pd.Index(interactions["Object_ID"].iloc[events]).isin(catalog_ids)
    return int((~known).sum())


def _user_rows(interactions: pd.DataFrame, users: pd.DataFrame) -> np.ndarray:
    """Row in `users` of each event's user, -1 for a user not in it."""
    return pd.Index(users["User_ID"]).get_indexer(interactions["User_ID"])


def _days(values: pd.Series) -> np.ndarray:
    """Dates or timestamps as days (datetime64[D]; an aware timestamp's UTC day)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[D]")


def _duplicates(ids: pd.Series) -> int:
    values = ids.to_numpy()
    if values.dtype.kind in "iu" and (len(values) < 2 or (values[1:] > values[:-1]).all()):  # ascending: none
        return 0
    return int(ids.duplicated().sum())


def volume(span: pd.DataFrame, expected: float) -> PatternResult:
    """Rows of the span against the expected count: within 15%, or 4 Poisson standard errors."""
    if expected <= 0:
        reason = "the model expects no interactions in this span (no user has signed up)"
        return PatternResult(
            "volume",
            False,
            float(len(span)),
            f"{expected:,.0f} interactions ± inf%",
            {"interactions": len(span), "expected": expected, "ratio": math.nan},
            reason,
        )
    allowed = max(VOLUME_TOLERANCE, STANDARD_ERRORS / math.sqrt(expected))
    ratio = len(span) / expected
    return PatternResult(
        "volume",
        abs(ratio - 1) <= allowed,
        float(len(span)),
        f"{expected:,.0f} interactions ± {allowed:.0%}",
        {"interactions": len(span), "expected": expected, "ratio": ratio},
    )


def measure_span(
    span: pd.DataFrame,
    settings: SimulationSettings,
    users: pd.DataFrame,
    objects: pd.DataFrame,
    expected_repeats: float,
    check_signup: bool = True,
    measures=None,
    expected_events: float = 10_000.0,
) -> dict[str, PatternResult]:
    """The nine checks as `simulated_interactions` measured them on its span, by check name;
    `measures`: a module with these functions (this one by default, or `poppy_pipeline.simulation.patterns`)."""
    module = measures or sys.modules[__name__]
    return {
        "integrity": module.integrity(span, users, objects, check_signup=check_signup),
        "type_mix": module.type_mix(span, settings),
        "rating_distribution": module.rating_distribution(span),
        "rating_bias_correlation": module.rating_bias_correlation(span, users),
        "preferred_type_share": module.preferred_type_share(span, users, settings),
        "repeat_share": module.repeat_share(span, expected_repeats),
        "activity_concentration": module.concentration(span, users, objects),
        "evening_peak": module.hour_profile(span),
        "volume": module.volume(span, expected_events),
    }
