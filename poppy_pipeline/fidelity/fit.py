"""Fit the simulation to a real log: every parameter the log informs, with how it was estimated.

`fit_log` returns `{"parameters": {name: {"value", "method"}}, "not_informed": {name: why},
"measured": {...}}`; `settings_from_fit` turns it into `SimulationSettings`, and `run_config`
into the run config that makes `make run CONFIG=simulation_fit.yaml` simulate "more data like
the log". The simulation's users all exist from the window's first day (a log cannot say who
signed up without acting), and a user's expected events per day are their share of
`interactions_per_day`, so scaling `num_users` and `interactions_per_day` together (or running
more days) keeps every per-user statistic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from poppy_pipeline.common.codes import sorted_unique
from poppy_pipeline.fidelity.estimators import (
    SESSION_GAP_SEC,
    active_day_share,
    beta_moments,
    bias_spread,
    fit_activity,
    sessions,
    sitting_gaps,
    user_time_order,
)
from poppy_pipeline.fidelity.habit_fit import (
    MIN_SAME_SECOND_SHARE,
    TYPE_ROLES,
    fit_active_days,
    fit_personal_hour,
    fit_popularity_and_repeats,
    fit_type_labels,
)
from poppy_pipeline.simulation.settings import INTERACTION_TYPES, OBJECT_TYPES, SimulationSettings

# The fit as written by the `simulation_fit` asset: the parameters (JSON) and a run config (YAML).
FIT_FILE = "simulation_fit.json"
FIT_RUN_CONFIG_FILE = "simulation_fit.yaml"

CATALOG_SIZE_NAMES = {"Star": "num_stars", "Planet": "num_planets", "Moon": "num_moons"}
NOT_INFORMED = {
    "profile_weights": "browsing profiles (session_actions) are not in an interaction log",
    "mobile_share": "the log has no device",
    "favourites_per_type": "which objects a user keeps returning to is folded into repeat_share",
    "signup_start, signup_end, founding_user_share": "set so that every user exists from the window's first day",
}
PREFERENCE_MIN_EVENTS = 10
# Below this active-day share, activity's spread is read from events per active day.
BURSTY = 0.9
Put = Callable[[str, Any, str], None]  # records a parameter: name, value, how it was estimated


def fit_log(
    events: pd.DataFrame, objects: pd.DataFrame, days: list[str], population: int | None = None
) -> dict[str, Any]:
    """Estimate the simulation's parameters from `events` (the window `days` of a log).

    `population`: users known by the window's end (a users file); when larger than the active
    users, the silent ones enter the activity fit as zeros, else that fit is zero-truncated.
    """
    if events.empty:
        raise ValueError("the window has no events to fit")
    order, user_codes, seconds = user_time_order(events)
    ordered = events.iloc[order].reset_index(drop=True)
    type_map = object_type_map(ordered["Object_Type"])
    parameters: dict[str, dict[str, Any]] = {}

    def put(name: str, value: Any, method: str) -> None:
        parameters[name] = {"value": value, "method": method}

    counts = np.bincount(user_codes)
    activity = _fit_activity(put, counts, population, seconds // 86_400, user_codes, len(days))
    put("interaction_type_weights", _type_weights(ordered["Interaction_Type"]), "share of each event type")
    fit_type_labels(put, ordered["Interaction_Type"])

    sizes = objects.assign(sim_type=objects["Object_Type"].astype(str).map(type_map)).groupby("sim_type").size()
    for sim_type, name in CATALOG_SIZE_NAMES.items():
        put(name, int(sizes.get(sim_type, 0)), "objects of this type in the catalog (none: no phantom objects)")
    repeated = ordered.duplicated(["User_ID", "Object_Type", "Object_ID"]).to_numpy()
    # Time order for the repeat share (a user's order is the same either way).
    repeat = float(repeated.mean())
    put("repeat_share", round(repeat, 4), "share of events repeating an earlier (user, object)")
    put("repeat_reference_days", len(days), "the window's length")
    by_object = ordered.groupby(["Object_Type", "Object_ID"], observed=True).size()
    catalog_counts = [
        by_object.reindex(list(zip(group["Object_Type"], group["Object_ID"], strict=True)), fill_value=0).to_numpy()
        for _, group in objects.groupby("Object_Type")
    ]
    distinct = np.bincount(user_codes, weights=~repeated, minlength=len(counts))
    fit_popularity_and_repeats(put, catalog_counts, counts, distinct, repeat)
    put(
        "favourite_popularity_exponent",
        parameters["object_popularity_exponent"]["value"],
        "as object_popularity_exponent: a user returns to objects found the way everyone finds them",
    )
    _fit_preference(put, ordered, user_codes, type_map, objects)
    _fit_ratings(put, ordered)
    cut = sessions(user_codes, seconds, SESSION_GAP_SEC)
    start_hours = (cut.start_seconds % 86_400) // 3600
    put(
        "hour_weights", _shares(np.bincount(start_hours, minlength=24)), "share of sessions starting in each hour (UTC)"
    )
    session_users = user_codes[np.r_[0, np.cumsum(cut.sizes)[:-1]]]
    fit_personal_hour(put, session_users, start_hours, parameters["hour_weights"]["value"])
    put("weekday_weights", _weekday_weights(seconds, days), "mean events per weekday, Monday first")
    put(
        "interactions_per_session",
        _events_per_session(user_codes, seconds, len(cut.sizes)),
        f"the simulation's session cut within a user's day matched to the log's sessions (a new one after"
        f" {SESSION_GAP_SEC // 60} min without an event)",
    )
    sittings = _fit_sittings(put, cut.within_gaps)
    watch = _fit_watch(put, ordered, objects)
    user_days = sorted_unique(seconds // 86_400 * len(counts) + user_codes)
    return {
        "window": {"first_day": days[0], "last_day": days[-1], "days": len(days)},
        "log": {"events": len(events), "active_users": len(counts), "objects": len(objects), "population": population},
        "object_type_map": type_map,
        "parameters": parameters,
        "not_informed": {**NOT_INFORMED, **sittings, **watch},
        "measured": {
            "events_per_day": round(len(events) / len(days), 3),
            "active_users_per_day": round(len(user_days) / len(days), 3),
            "events_per_session": round(float(cut.sizes.mean()), 3),
            **activity,
            "within_session_gap_sec": _quantiles(cut.within_gaps),
        },
    }


def _fit_activity(
    put: Put, counts: np.ndarray, population: int | None, day_of_event: np.ndarray, user_codes: np.ndarray, days: int
) -> dict[str, Any]:
    """Users, their activity and their bursts: bursty logs (few active days) as active days ×
    events per active day with the log's floor (`habit_fit.py`), the others as Activity_Weight
    shares of the daily volume (Poisson-lognormal). Returns what the fit measured on the way."""
    active = len(counts)
    active_days = pd.Series(day_of_event).groupby(user_codes).nunique().to_numpy()
    bursts = active_day_share(counts, active_days, days)
    put(
        "active_day_share",
        round(bursts, 4),
        "share of days a user is active, solved so that users' expected active days are the log's",
    )
    put(
        "interactions_per_day",
        round(float(counts.sum()) / days, 3),
        "the log's events per day (all its users exist from day 1)",
    )
    if bursts < BURSTY:
        # Window counts of bursty users mix how many days they were active with how busy they are.
        per_active_day = np.log(counts / active_days)
        sigma = float(np.sqrt(max(per_active_day.var() - np.mean(1.0 / counts), 0.0)))
        put("activity_sigma", round(sigma, 4), "SD of log events per active day, less Poisson noise (bursty)")
        fitted = fit_active_days(put, counts, active_days, days, population)
        return {
            "active_share": round(fitted.observed_share, 4),
            "activity_log_likelihood": {"days": round(fitted.log_likelihood, 3)},
        }
    silent = max(0, (population or 0) - active)
    activity = fit_activity(counts, silent)
    how = "zero-truncated " if activity.truncated else f"with {silent} silent users as zeros, "
    put(
        "activity_sigma", round(activity.sigma, 4), f"Poisson-lognormal maximum likelihood, {how}per-user window counts"
    )
    num_users = max(1, round(active / max(activity.active_share, 1e-9)))
    put("num_users", num_users, f"{active} active users / estimated active share {activity.active_share:.3f}")
    return {
        "active_share": round(activity.active_share, 4),
        "activity_log_likelihood": {
            "poisson_lognormal": round(activity.log_likelihood, 3),
            "negative_binomial": round(activity.negative_binomial_log_likelihood, 3),
        },
    }


def object_type_map(types: pd.Series) -> dict[str, str]:
    """The simulation's Star/Planet/Moon for each of the log's object types: its own where it
    has them, otherwise the most frequent type becomes Star, the next Planet, the rest Moon."""
    ranked = [str(t) for t in types.value_counts().index]
    known = {t: t for t in ranked if t in OBJECT_TYPES}
    free = [t for t in OBJECT_TYPES if t not in known]
    others = [t for t in ranked if t not in known]
    return known | {t: free[min(i, len(free) - 1)] for i, t in enumerate(others)} if free else known


def poppy_type_codes(kinds: pd.Series) -> np.ndarray:
    """Each event's type as an index into INTERACTION_TYPES (seed 002's types mapped by TYPE_ROLES)."""
    codes, uniques = pd.factorize(kinds)
    names = [str(k) if str(k) in INTERACTION_TYPES else TYPE_ROLES.get(str(k), "View") for k in uniques]
    mapped = np.array([INTERACTION_TYPES.index(name) for name in names], dtype=np.int8)
    return mapped[codes] if len(codes) else np.empty(0, np.int8)


def _type_weights(kinds: pd.Series) -> dict[str, float]:
    counts = np.bincount(poppy_type_codes(kinds), minlength=len(INTERACTION_TYPES))
    return dict(zip(INTERACTION_TYPES, _shares(counts), strict=True))


def _fit_preference(
    put: Put, ordered: pd.DataFrame, user_codes: np.ndarray, type_map: dict[str, str], objects: pd.DataFrame
) -> None:
    """Users whose top type's share is beyond the catalog share (binomial, 2 SD) prefer it."""
    codes, uniques = pd.factorize(ordered["Object_Type"])
    sim_codes = np.array([OBJECT_TYPES.index(type_map[str(u)]) for u in uniques], dtype=np.int64)[codes]
    if len(np.unique(sim_codes)) < 2:  # the simulation's other types are placeholders: nobody may prefer them
        put("preferred_type_user_share", 0.0, "the log has one object type: nothing to prefer")
        return
    types = len(OBJECT_TYPES)
    shares = objects["Object_Type"].astype(str).map(type_map).value_counts(normalize=True)
    base = shares.reindex(list(OBJECT_TYPES), fill_value=0).to_numpy()
    table = np.bincount(user_codes * types + sim_codes, minlength=(user_codes.max() + 1) * types).reshape(-1, types)
    table = table[table.sum(axis=1) >= PREFERENCE_MIN_EVENTS]
    if len(table) == 0:
        return
    n = table.sum(axis=1)
    share = table.max(axis=1) / n
    expected = base[table.argmax(axis=1)]
    prefers = share > expected + 2 * np.sqrt(expected * (1 - expected) / n)
    put("preferred_type_user_share", round(float(prefers.mean()), 4), "users (≥ 10 events) beyond catalog share + 2 SD")
    if prefers.any():
        put("preferred_type_share", round(float(share[prefers].mean()), 4), "mean top-type share of those users")


def _fit_ratings(put: Put, ordered: pd.DataFrame) -> None:
    rated = ordered[ordered["Interaction_Rating"].notna()]
    if rated.empty:
        return
    stars = rated["Interaction_Rating"].astype(int).to_numpy()
    put("rating_weights", _shares(np.bincount(stars, minlength=6)[1:6]), "share of each rating 1-5")
    spread, users = bias_spread(rated["User_ID"].to_numpy(), stars)
    if np.isfinite(spread):
        put("rating_bias_sd", round(spread, 4), f"SD of {users} users' mean ratings, rating noise removed")


def _fit_sittings(put: Put, within_gaps: np.ndarray) -> dict[str, str]:
    """Sittings of log-normal gaps (the simulation then chains a session's events by them), with
    same-second bursts as a share of 0 s gaps where the log has them."""
    if len(within_gaps) == 0:
        why = f"no two events of a user within {SESSION_GAP_SEC // 60} min"
        return {"session_gap_median_sec, session_gap_sigma": why}
    same_second = float((within_gaps == 0).mean())
    if MIN_SAME_SECOND_SHARE <= same_second < 1:
        put(
            "session_gap_zero_share",
            round(float(same_second), 4),
            "share of 0 s gaps within a session (same-second bursts)",
        )
        within_gaps = within_gaps[within_gaps > 0]
    median, sigma = sitting_gaps(within_gaps)
    put("session_gap_median_sec", round(median, 3), "median gap between events of one session (of those > 0 s)")
    put("session_gap_sigma", round(sigma, 4), "SD of the log gaps within a session (log-normal)")
    return {}


def _fit_watch(put: Put, ordered: pd.DataFrame, objects: pd.DataFrame) -> dict[str, str]:
    watch = pd.to_numeric(ordered["Watch_Time_Sec"], errors="coerce").to_numpy(float)
    watched = ordered.loc[watch > 0, ["Object_Type", "Object_ID"]]
    durations = objects.set_index(["Object_Type", "Object_ID"])["Duration_Sec"]
    ratios = watch[watch > 0] / durations.reindex(pd.MultiIndex.from_frame(watched)).to_numpy(float)
    shape = beta_moments(ratios)
    if shape is None:
        return {"watch_ratio_alpha, watch_ratio_beta": "the log has no watch times with media durations"}
    put("watch_ratio_alpha", round(shape[0], 4), f"Beta method of moments, {len(ratios)} watch ratios (≤ 1)")
    put("watch_ratio_beta", round(shape[1], 4), "as watch_ratio_alpha")
    return {}


def _events_per_session(user_codes: np.ndarray, seconds: np.ndarray, sessions_seen: int) -> float:
    """The simulation starts a new session at each event with probability 1/p within a user's
    day, so a user-day of c events has 1 + (c-1)/p sessions on average: p is solved so that the
    log's user-days give the log's number of sessions."""
    days = seconds // 86_400
    _, user_days = np.unique(
        user_codes.astype(np.int64) * (days.max() - days.min() + 1) + days - days.min(), return_counts=True
    )
    extra_sessions = sessions_seen - len(user_days)
    followers = float((user_days - 1).sum())
    if extra_sessions <= 0 or followers == 0:
        return round(max(1.0, float(user_days.max())), 3)
    return round(max(1.0, float(followers / extra_sessions)), 3)


def _weekday_weights(seconds: np.ndarray, days: list[str]) -> list[float]:
    """Mean events on each weekday of the window, as shares; weekdays not in it get the mean."""
    epoch_days = np.array([(date.fromisoformat(d) - date(1970, 1, 1)).days for d in days])
    event_days = seconds // 86_400
    slot = np.minimum(np.searchsorted(epoch_days, event_days), len(days) - 1)
    in_window = epoch_days[slot] == event_days
    per_day = np.bincount(slot[in_window], minlength=len(days))
    weekdays = np.array([date.fromisoformat(d).weekday() for d in days])
    totals = np.bincount(weekdays, weights=per_day.astype(float), minlength=7)
    seen = np.bincount(weekdays, minlength=7)
    means = np.where(seen > 0, totals / np.maximum(seen, 1), np.nan)
    means = np.where(np.isnan(means), np.nanmean(means), means)
    return _shares(means)


def _shares(values: np.ndarray) -> list[float]:
    values = np.asarray(values, dtype=float)
    if values.sum() <= 0:
        return [float(v) for v in np.ones(len(values)) / len(values)]
    rounded = np.round(values / values.sum(), 6)
    rounded[np.argmax(rounded)] += 1 - rounded.sum()  # exactly 1 after rounding
    return [float(v) for v in rounded]


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    if len(values) == 0:
        return {"median": None, "p90": None, "count": 0}
    return {"median": float(np.median(values)), "p90": float(np.quantile(values, 0.9)), "count": len(values)}


def scaled_to_population(fit: dict[str, Any], user_share: float) -> dict[str, Any]:
    """A fit made on a `user_share` sample of the users, for all of them: the users and the daily
    volume over the share (every other parameter is per user, event or object)."""
    if user_share >= 1:
        return fit
    parameters = fit["parameters"]
    for name, digits in (("num_users", None), ("interactions_per_day", 3)):
        entry = parameters[name]
        entry["value"] = (
            max(1, round(entry["value"] / user_share)) if digits is None else round(entry["value"] / user_share, digits)
        )
        entry["method"] += f", over the user sample's share {user_share:.4g}"
    return fit | {"sample": {"user_share": user_share, "note": "log and measured describe the sampled users"}}


def simulation_values(fit: dict[str, Any], seed: int = 42, scale_users: float = 1.0) -> dict[str, Any]:
    """The fitted values as `simulation` settings; every user exists from the window's first day."""
    values = {name: entry["value"] for name, entry in fit["parameters"].items()}
    values["num_users"] = max(1, round(values["num_users"] * scale_users))
    values["interactions_per_day"] = round(values["interactions_per_day"] * scale_users, 3)
    window = fit["window"]
    first = window["first_day"]
    log = " ".join(part for part in ("the", window.get("source"), "log") if part)
    fitted_to = f"{log} {first}..{window['last_day']}"
    return values | {
        "seed": seed,
        "founding_user_share": 1.0,
        "signup_start": first,
        "signup_end": first,
        "fitted_to": fitted_to,
    }


def settings_from_fit(fit: dict[str, Any], seed: int = 42, scale_users: float = 1.0) -> SimulationSettings:
    return SimulationSettings(**simulation_values(fit, seed, scale_users))


def run_config(
    fit: dict[str, Any],
    seed: int = 42,
    scale_users: float = 1.0,
    outputs_dir: str | None = None,
    event_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run config for `make run CONFIG=…`: simulate (no source path) with the fitted settings,
    into `outputs_dir` (so the real log's fit, report, users and catalog stay as they are); with
    the log's own event types, the engagement weights of those types."""
    resources: dict[str, Any] = {
        "simulation": {"config": simulation_values(fit, seed, scale_users)},
        "interaction_source": {"config": {"path": ""}},
    }
    if outputs_dir:
        resources["outputs"] = {"config": {"base_dir": outputs_dir}}
    config: dict[str, Any] = {"resources": resources}
    labels = fit["parameters"].get("interaction_type_labels", {}).get("value", {})
    if labels and event_weights:
        weights = {"config": {"event_weights": {label: event_weights.get(label, 0.0) for label in labels}}}
        config["ops"] = {"engagement_scores": weights, "trending_objects": weights}
    return config


def regenerated_folder(outputs: str, fit: dict[str, Any]) -> str:
    """Where the fitted world's run writes: a folder of its own inside the outputs folder (the one
    place run config may always name), so the real fit, report, users and catalog stay."""
    window = fit["window"]
    return f"{outputs.rstrip('/')}/fitted-{window['first_day']}-{window['last_day']}"


def regenerate_command(config_path: str, fit: dict[str, Any], partitions_start: str) -> str:
    """The command that simulates the fitted window into its own folder (the run config says which)."""
    first, last = fit["window"]["first_day"], fit["window"]["last_day"]
    older = f"POPPY_PARTITIONS_START={first} " if first < partitions_start else ""
    return f"{older}make run CONFIG={config_path} START={first} END={last}"
