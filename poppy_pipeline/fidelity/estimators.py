"""Estimators the fit is built from: activity, popularity, sessions, watch ratios (pure numpy).

Each works on whole arrays (grouped counts, sorted times), never per event in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special  # `optimize` is imported where used: the definitions load without it (0.15 s)

# A user's events more than this apart start a new session (the usual web-analytics cut).
SESSION_GAP_SEC = 30 * 60
# Latent activity grid: z from -7 to 7 resolves Poisson peaks up to σ ≈ 3 at large counts.
Z_GRID = np.linspace(-7.0, 7.0, 561)
Z_LOG_WEIGHTS = -0.5 * Z_GRID**2 - np.log(np.sqrt(2 * np.pi)) + np.log(Z_GRID[1] - Z_GRID[0])


@dataclass(frozen=True)
class ActivityFit:
    """Per-user window counts as Poisson(exp(μ + σ·z)), z standard normal (a Poisson-lognormal)."""

    mu: float
    sigma: float
    active_share: float  # 1 - P(no event in the window)
    log_likelihood: float
    truncated: bool  # fitted on active users only (the log does not know its silent users)
    negative_binomial_log_likelihood: float  # the gamma-mixed alternative, for comparison


def fit_activity(counts: np.ndarray, silent_users: int = 0) -> ActivityFit:
    """Maximum likelihood over the distinct counts; zero-truncated when `silent_users` is 0."""
    values, weights = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
    if silent_users:
        values, weights = np.r_[0, values], np.r_[silent_users, weights]
    truncated = silent_users == 0
    log_k_factorial = special.gammaln(values + 1.0)

    def log_pmf(mu: float, sigma: float, ks: np.ndarray, lkf: np.ndarray) -> np.ndarray:
        log_lam = mu + sigma * Z_GRID
        terms = ks[:, None] * log_lam[None, :] - np.exp(log_lam)[None, :] - lkf[:, None] + Z_LOG_WEIGHTS[None, :]
        return special.logsumexp(terms, axis=1)

    def negative_log_likelihood(params: np.ndarray) -> float:
        mu, sigma = params[0], np.exp(params[1])
        logs = log_pmf(mu, sigma, values, log_k_factorial)
        if truncated:
            p0 = np.exp(log_pmf(mu, sigma, np.zeros(1), np.zeros(1))[0])
            logs = logs - np.log1p(-min(p0, 1 - 1e-12))
        return -float(weights @ logs)

    mean_log = float(np.average(np.log(np.maximum(values, 0.5)), weights=weights))
    spread = float(np.sqrt(np.average((np.log(np.maximum(values, 0.5)) - mean_log) ** 2, weights=weights)))
    start = np.array([mean_log, np.log(max(spread, 0.1))])
    from scipy import optimize

    best = optimize.minimize(negative_log_likelihood, start, method="Nelder-Mead", options={"xatol": 1e-4})
    mu, sigma = float(best.x[0]), float(np.exp(best.x[1]))
    p0 = float(np.exp(log_pmf(mu, sigma, np.zeros(1), np.zeros(1))[0]))
    return ActivityFit(mu, sigma, 1 - p0, -float(best.fun), truncated, _negative_binomial(values, weights, truncated))


def _negative_binomial(values: np.ndarray, weights: np.ndarray, truncated: bool) -> float:
    """Log-likelihood of the best (zero-truncated) negative binomial: a gamma-mixed Poisson."""

    def negative_log_likelihood(params: np.ndarray) -> float:
        size, mean = np.exp(params)
        p = size / (size + mean)
        logs = (
            special.gammaln(values + size)
            - special.gammaln(size)
            - special.gammaln(values + 1.0)
            + size * np.log(p)
            + values * np.log1p(-p)
        )
        if truncated:
            logs = logs - np.log1p(-min(p**size, 1 - 1e-12))
        return -float(weights @ logs)

    mean = float(np.average(values, weights=weights))
    from scipy import optimize

    best = optimize.minimize(negative_log_likelihood, np.log([1.0, max(mean, 0.1)]), method="Nelder-Mead")
    return -float(best.fun)


def zipf_exponent(counts_by_type: list[np.ndarray]) -> float:
    """Maximum-likelihood Zipf exponent a of p(rank) ∝ rank^-a, pooled over object types;
    each type's objects ranked by their count (objects never seen rank last)."""
    ranked = [np.sort(np.asarray(c, dtype=float))[::-1] for c in counts_by_type if np.sum(c) > 0]
    if not ranked:
        return float("nan")
    logs = [np.log(np.arange(1, len(c) + 1, dtype=float)) for c in ranked]

    def negative_log_likelihood(a: float) -> float:
        total = 0.0
        for c, log_rank in zip(ranked, logs, strict=True):
            total += a * float(c @ log_rank) + c.sum() * special.logsumexp(-a * log_rank)
        return total

    from scipy import optimize

    return float(optimize.minimize_scalar(negative_log_likelihood, bounds=(0.0, 4.0), method="bounded").x)


@dataclass(frozen=True)
class Sessions:
    """A log cut into sessions: per event, its session; per session, its start and size."""

    session_of_event: np.ndarray
    start_seconds: np.ndarray  # the session's first event, Unix seconds
    sizes: np.ndarray
    within_gaps: np.ndarray  # seconds between consecutive events of one session


def sessions(users: np.ndarray, seconds: np.ndarray, gap: float = SESSION_GAP_SEC) -> Sessions:
    """Sessions of events sorted by (user, time): a new one at each user or after `gap` seconds."""
    if len(users) == 0:
        empty = np.empty(0, dtype=np.int64)
        return Sessions(empty, empty, empty, np.empty(0))
    same_user = np.r_[False, users[1:] == users[:-1]]
    gaps = np.r_[np.inf, np.diff(seconds).astype(float)]
    starts = ~same_user | (gaps > gap)
    session_of_event = np.cumsum(starts) - 1
    within = gaps[~starts]
    return Sessions(session_of_event, seconds[starts], np.bincount(session_of_event), within)


def user_time_order(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, user codes, Unix seconds) of a log's events sorted by user then time."""
    user_codes = pd.factorize(frame["User_ID"])[0]
    seconds = frame["Timestamp"].to_numpy("datetime64[s]").astype(np.int64)
    in_time_order = len(seconds) < 2 or bool((np.diff(seconds) >= 0).all())
    # A log in time order (as the daily files are) needs only a stable sort by user.
    order = np.argsort(user_codes, kind="stable") if in_time_order else np.lexsort((seconds, user_codes))
    return order, user_codes[order], seconds[order]


def beta_moments(ratios: np.ndarray) -> tuple[float, float] | None:
    """Method-of-moments Beta(α, β) of shares in (0, 1]; None with too few or degenerate shares."""
    ratios = np.clip(ratios[np.isfinite(ratios)], 1e-3, 1 - 1e-3)
    if len(ratios) < 10 or ratios.var() == 0:
        return None
    mean, var = ratios.mean(), ratios.var()
    common = mean * (1 - mean) / var - 1
    if common <= 0:
        return None
    return float(mean * common), float((1 - mean) * common)


def bias_spread(users: np.ndarray, ratings: np.ndarray) -> tuple[float, int]:
    """SD of users' true mean ratings: the variance of their observed means minus the part the
    rating noise explains (pooled within-user variance / ratings), over users with ≥ 2 ratings."""
    frame = pd.DataFrame({"user": users, "rating": ratings.astype(float)})
    grouped = frame.groupby("user")["rating"].agg(["mean", "var", "count"])
    grouped = grouped[grouped["count"] >= 2]
    if len(grouped) < 3:
        return float("nan"), len(grouped)
    within = float(np.average(grouped["var"], weights=grouped["count"] - 1))
    between = float(grouped["mean"].var() - np.mean(within / grouped["count"]))
    return float(np.sqrt(max(between, 0.0))), len(grouped)


def active_day_share(events_per_user: np.ndarray, active_days_per_user: np.ndarray, days: int) -> float:
    """The share a of days a user is active on, when an active day has Poisson(rate / a) events:
    solved (bisection) so that the expected active days, Σ days·a·(1 − exp(−rate/a)), are the log's."""
    rates = np.asarray(events_per_user, float) / days
    observed = float(np.sum(active_days_per_user))

    def expected(a: float) -> float:
        return float(days * a * -np.expm1(-rates / a).sum())

    if expected(1.0) <= observed:
        return 1.0
    low, high = 1e-4, 1.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if expected(mid) < observed else (low, mid)
    return (low + high) / 2


def sitting_gaps(within_gaps: np.ndarray) -> tuple[float, float]:
    """(median, σ) of log-normal gaps between a sitting's events: the log's median gap within a
    session, and the SD of the gaps' logs (whole seconds; a 0 s gap counts as 0.5 s)."""
    logs = np.log(np.maximum(within_gaps, 0.5))
    return float(np.exp(np.median(logs))), float(logs.std())
