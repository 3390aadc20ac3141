"""The fit of a log's habits (`simulation/habits.py`, `user_orders.py`): popularity and repeats,
active days × events per active day with a floor, a personal hour, same-second bursts.

Each `fit_*` puts its parameters through `put(name, value, method)`, as `fit.py` does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from poppy_pipeline.fidelity.estimators import zipf_exponent
from poppy_pipeline.fidelity.habit_estimators import (
    DaysActivity,
    chance_repeat_share,
    fit_days_activity,
    fit_popularity,
    personal_hour_share,
    rank_weights,
)
from poppy_pipeline.simulation.settings import INTERACTION_TYPES

Put = Callable[[str, object, str], None]
# What other vocabularies mean in the simulation's (seed 002's events; the poppy/csv ones map to themselves).
TYPE_ROLES = {
    "impression": "View",
    "view": "View",
    "like": "Favorite",
    "comment": "Click",
    "share": "Click",
    "follow_creator": "Click",
}

# Below this share of the repeats drawing with replacement would make by chance, users do not
# repeat by chance: each goes down an order of their own.
ORDER_BELOW_CHANCE = 0.75
# A personal hour or same-second share below these is noise, not a habit.
MIN_PERSONAL_HOUR_SHARE = 0.05
MIN_SAME_SECOND_SHARE = 0.02
MIN_POPULARITY_SIGMA = 0.02


def fit_popularity_and_repeats(
    put: Put,
    catalog_counts: list[np.ndarray],
    events_per_user: np.ndarray,
    distinct_per_user: np.ndarray,
    repeat: float,
) -> None:
    """Popularity by likelihood (Zipf or log-normal); an order per user where the log repeats far
    less than drawing with replacement would by chance (then popularity is fitted without replacement)."""
    with_replacement = fit_popularity(catalog_counts)
    zipf = zipf_exponent(catalog_counts)
    put("object_popularity_exponent", round(float(zipf), 4), "Zipf maximum likelihood, events per object")
    pooled = _pooled_weights(catalog_counts, with_replacement.family, with_replacement.value)
    chance = chance_repeat_share(pooled, events_per_user) if pooled.size else 0.0
    ordered = chance > 0.01 and repeat < ORDER_BELOW_CHANCE * chance
    popularity = fit_popularity(catalog_counts, distinct_per_user) if ordered else with_replacement
    how = "without replacement, each user's distinct objects" if ordered else "events per object"
    if popularity.family == "lognormal":
        # Objects ranked by their own counts look spread even when all are alike: Poisson noise
        # gives log counts a variance of about 1 / mean count, which the ranks read as popularity.
        objects = sum(len(c) for c in catalog_counts)
        noise = objects / max(sum(float(np.sum(c)) for c in catalog_counts), 1e-12)
        sigma = float(np.sqrt(max(popularity.value**2 - noise, 0.0)))
        if sigma < MIN_POPULARITY_SIGMA:  # alike but for the noise: flat popularity
            put("object_popularity_exponent", 0.0, f"flat: the log-normal σ {popularity.value:.3f} is Poisson noise")
        else:
            put(
                "object_popularity_sigma",
                round(sigma, 4),
                f"log-normal over ranks, likelier than Zipf (maximum likelihood, {how}; σ² less the Poisson noise"
                f" 1 / mean count, from {popularity.value:.4f})",
            )
    elif ordered:
        put("object_popularity_exponent", round(float(popularity.value), 4), f"Zipf maximum likelihood, {how}")
    if ordered:
        put(
            "user_object_order",
            True,
            f"the log repeats {repeat:.3f} of its events, drawing with replacement would {chance:.3f}:"
            " each user goes down an order of their own",
        )


def _pooled_weights(catalog_counts: list[np.ndarray], family: str, value: float) -> np.ndarray:
    """Each object's probability over the whole catalog (type shares × popularity within the type)."""
    seen = [np.asarray(c, float) for c in catalog_counts if np.sum(c) > 0]
    if not seen or not np.isfinite(value):
        return np.empty(0)
    total = sum(c.sum() for c in seen)
    return np.concatenate([c.sum() / total * rank_weights(family, value, len(c)) for c in seen])


def fit_active_days(
    put: Put, events_per_user: np.ndarray, active_days: np.ndarray, days: int, population: int | None
) -> DaysActivity:
    """Active days × events per active day, jointly by likelihood; a floor when every user has at
    least a few events and the log knows no silent users (a log that kept only such users)."""
    active = len(events_per_user)
    silent = max(0, (population or 0) - active)
    lowest = int(events_per_user.min())
    floor = lowest if not silent and lowest >= 2 else 0
    fit = fit_days_activity(active_days, events_per_user, days, floor, silent)
    how = f"joint maximum likelihood of each user's active days and events ({days}-day window"
    how += f", users with ≥ {floor} events" if floor else ""
    how += f", {silent} silent users)" if silent else ")"
    put("active_day_alpha", round(float(fit.alpha), 4), f"Beta-binomial active days, {how}")
    put("active_day_beta", round(float(fit.beta), 4), "as active_day_alpha")
    put(
        "day_events_shape",
        round(float(fit.shape), 4),
        "negative binomial extra events per active day, as active_day_alpha",
    )
    put("day_events_scale", round(float(fit.scale), 4), "as day_events_shape")
    put("day_events_activity_exponent", round(float(fit.exponent), 4), "as day_events_shape")
    put("min_events_per_user", floor, "the fewest events of a user, when every user has ≥ 2 (a kept-users floor)")
    put("num_users", max(1, round(active / max(fit.observed_share, 1e-9))), f"{active} users / their share in the log")
    return fit


def fit_personal_hour(put: Put, session_users: np.ndarray, session_hours: np.ndarray, hours: list[float]) -> None:
    share = personal_hour_share(session_users, session_hours, np.asarray(hours))
    if share >= MIN_PERSONAL_HOUR_SHARE:
        put(
            "personal_hour_share",
            round(float(share), 4),
            "two sessions of a user share their hour with probability h² + (1 − h²)·Σp²: solved for h",
        )


def fit_type_labels(put: Put, kinds: pd.Series) -> None:
    """A log's own event types (seed 002's six), each labelling events of the simulation's type it maps
    to, in its share among them: the regenerated log keeps them."""
    counts = kinds.astype(str).value_counts()
    own = [k for k in counts.index if k not in INTERACTION_TYPES]
    if not own:
        return
    roles = {k: (k if k in INTERACTION_TYPES else TYPE_ROLES.get(k, "View")) for k in counts.index}
    per_role = {role: sum(counts[k] for k in roles if roles[k] == role) for role in set(roles.values())}
    put("interaction_type_labels", {k: roles[k] for k in sorted(counts.index)}, "the log's event types and their roles")
    put(
        "interaction_type_label_weights",
        {k: round(float(counts[k] / per_role[roles[k]]), 6) for k in sorted(counts.index)},
        "each log type's share among the events of its role",
    )
