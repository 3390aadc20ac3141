"""Estimators of a ratings log's habits (pure numpy/scipy; whole arrays, never per event).

- `fit_days_activity`: active days × events per active day, by maximum likelihood: a user's
  active days k of the window's T are Beta-binomial(T, α, β); their extra events n − k given k
  are negative binomial (Poisson with a Gamma(shape, scale·tilt) mean per day, summed over k days),
  where the tilt (E[a | k] / E[a])^γ lets users of many days be busier or quieter on each. A log
  that keeps only users with at least `floor` events (MovieLens: 20) is fitted conditional on it.
- `fit_popularity`: Zipf or log-normal popularity over ranks, whichever is likelier; drawn with
  replacement (counts ~ Poisson(N·w)) or, for users who never repeat, without: a user with n
  distinct objects has object i with probability 1 − exp(−λ·w_i), λ solved so the sum is n.
- `personal_hour_share`, `same_second_share`: from a log's sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

LAMBDA_GRID = np.exp(np.linspace(np.log(1e-3), np.log(1e9), 400))
MAX_USER_GROUPS = 96  # users of similar distinct counts share one λ (quantile groups)
MIN_ALPHA = 0.2


@dataclass(frozen=True)
class DaysActivity:
    alpha: float
    beta: float
    shape: float
    scale: float
    exponent: float
    observed_share: float  # P(a user is in the log: active, and at least the floor)
    log_likelihood: float


def fit_days_activity(
    active_days: np.ndarray, events: np.ndarray, days: int, floor: int = 1, silent_users: int = 0
) -> DaysActivity:
    """Maximum likelihood of (active days, events) per user over `days` days (see the module)."""
    from scipy import optimize  # imported here: the definitions load without it

    pairs, weights = np.unique(np.c_[active_days, events].astype(np.int64), axis=0, return_counts=True)
    if silent_users:
        pairs, weights = np.r_[[[0, 0]], pairs], np.r_[silent_users, weights]
    floor = max(1, int(floor)) if not silent_users else 0
    # Users of k < floor days with fewer than `floor` events in all are not in a log with that floor:
    # every such (k, extra events) pair, for P(in the log).
    low = [(kk, x) for kk in range(1, floor) for x in range(floor - kk)]
    below_k, below_x = (np.array(v, dtype=float) for v in zip(*low, strict=True)) if low else (np.empty(0),) * 2
    ks = np.r_[pairs[:, 0], below_k, 0.0]  # the last: k = 0
    xs = np.r_[pairs[:, 1] - pairs[:, 0], below_x]
    mine, acting = slice(0, len(pairs)), ks[: len(xs)] > 0
    binomial = special.gammaln(days + 1.0) - special.gammaln(ks + 1.0) - special.gammaln(days - ks + 1.0)
    x_factorial = special.gammaln(xs + 1.0)

    def unpack(params: np.ndarray) -> tuple[float, float, float, float, float]:
        alpha, beta, shape, scale = np.exp(np.clip(params[:4], -12, 12))
        # α below MIN_ALPHA would put most users at 0 active days: a log that knows only its active
        # users cannot tell how many silent ones there are, and the world would be mostly silent users.
        return float(MIN_ALPHA + alpha), float(beta), float(shape), float(scale), float(np.clip(params[4], -3, 3))

    def logs(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log P(k) of every k, and log P(extra events | k) of every (k, extra) pair with k > 0."""
        alpha, beta, shape, scale, gamma = unpack(params)
        days_log = binomial + special.betaln(ks + alpha, days - ks + beta) - special.betaln(alpha, beta)
        k = ks[: len(xs)][acting]
        tilt = ((alpha + k) / (alpha + beta + days) / (alpha / (alpha + beta))) ** gamma
        p = np.clip(1.0 / (1.0 + k * scale * tilt), 1e-300, 1.0)
        x = xs[acting]
        extra = np.zeros(len(xs))
        extra[acting] = (
            special.gammaln(x + shape)
            - special.gammaln(shape)
            - x_factorial[acting]
            + shape * np.log(p)
            + x * np.log1p(-p)
        )
        return days_log, extra

    def share_in_log(days_log: np.ndarray, extra: np.ndarray) -> float:
        share = -np.expm1(days_log[-1])
        if len(below_k):
            share -= float(np.exp(days_log[len(pairs) : len(xs)] + extra[len(pairs) :]).sum())
        return max(float(share), 1e-300)

    def negative_log_likelihood(params: np.ndarray) -> float:
        days_log, extra = logs(params)
        total = float(weights @ (days_log[mine] + extra[mine]))
        if not silent_users:
            total -= weights.sum() * np.log(share_in_log(days_log, extra))
        return -total if np.isfinite(total) else 1e300

    k, n = pairs[:, 0].astype(float), pairs[:, 1].astype(float)
    seen = k > 0
    share = float(np.average(k[seen] / days, weights=weights[seen]))
    per_day = float(np.average((n[seen] - k[seen]) / k[seen], weights=weights[seen]))
    start = np.array([np.log(0.5), np.log(0.7 * (1 - share) / max(share, 1e-3)), 0.0, np.log(max(per_day, 0.05)), 0.0])
    best = optimize.minimize(
        negative_log_likelihood, start, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-2, "maxiter": 1500}
    )
    alpha, beta, shape, scale, gamma = unpack(best.x)
    observed = 1.0 if silent_users else share_in_log(*logs(best.x))
    return DaysActivity(alpha, beta, shape, scale, gamma, observed, -float(best.fun))


@dataclass(frozen=True)
class Popularity:
    family: str  # "zipf" or "lognormal"
    value: float  # Zipf exponent or log-normal σ
    log_likelihood: float


def rank_weights(family: str, value: float, size: int) -> np.ndarray:
    """Popularity of ranks 1..size (sums to 1): Zipf rank^-value or log-normal quantiles with σ = value."""
    ranks = np.arange(1, size + 1, dtype=float)
    logs = -value * np.log(ranks) if family == "zipf" else value * special.ndtri(1 - (ranks - 0.5) / size)
    weights = np.exp(logs - logs.max())
    shares: NDArray[np.float64] = weights / weights.sum()
    return shares


def fit_popularity(counts_by_type: list[np.ndarray], distinct_per_user: np.ndarray | None = None) -> Popularity:
    """The likelier of Zipf and log-normal popularity, pooled over types (each type's objects
    ranked by their count; objects never seen rank last). With `distinct_per_user` (users who
    never repeat), objects are drawn without replacement."""
    from scipy import optimize

    ranked = [np.sort(np.asarray(c, dtype=float))[::-1] for c in counts_by_type if np.sum(c) > 0]
    if not ranked:
        return Popularity("zipf", float("nan"), float("nan"))
    shares = np.array([c.sum() for c in ranked]) / sum(c.sum() for c in ranked)
    groups = None if distinct_per_user is None else _user_groups(np.asarray(distinct_per_user, float))

    def log_likelihood(family: str, value: float) -> float:
        weights = [share * rank_weights(family, value, len(c)) for share, c in zip(shares, ranked, strict=True)]
        if groups is None:
            expected = [w * c.sum() / share for w, c, share in zip(weights, ranked, shares, strict=True)]
        else:
            expected = _without_replacement(np.concatenate(weights), groups, [len(c) for c in ranked])
            scale = sum(c.sum() for c in ranked) / max(sum(e.sum() for e in expected), 1e-300)
            expected = [e * scale for e in expected]
        return float(sum(c @ np.log(np.maximum(e, 1e-300)) - e.sum() for c, e in zip(ranked, expected, strict=True)))

    found = []
    for family, bounds in (("zipf", (0.0, 4.0)), ("lognormal", (0.0, 5.0))):
        best = optimize.minimize_scalar(
            lambda v, family=family: -log_likelihood(family, v), bounds=bounds, method="bounded"
        )
        found.append(Popularity(family, float(best.x), -float(best.fun)))
    return max(found, key=lambda p: p.log_likelihood)


def _user_groups(distinct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct objects, users) of at most MAX_USER_GROUPS groups of users with similar counts."""
    values, users = np.unique(distinct[distinct > 0], return_counts=True)
    if len(values) > MAX_USER_GROUPS:
        edges = np.quantile(np.repeat(values, users), np.linspace(0, 1, MAX_USER_GROUPS + 1))
        group = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, MAX_USER_GROUPS - 1)
        totals = np.bincount(group, weights=values * users)
        sizes = np.bincount(group, weights=users)
        kept = sizes > 0
        values, users = totals[kept] / sizes[kept], sizes[kept]
    return values, users


def _without_replacement(
    weights: np.ndarray, groups: tuple[np.ndarray, np.ndarray], sizes: list[int]
) -> list[np.ndarray]:
    """Expected events per object when each user of a group draws `distinct` objects without replacement."""
    distinct, users = groups
    # Σ_i (1 − exp(−λ w_i)) on a grid of λ, then λ of each group by interpolation (monotone).
    reach = -np.expm1(-np.outer(LAMBDA_GRID, weights)).sum(axis=1)
    lam = np.exp(np.interp(np.minimum(distinct, reach[-1]), reach, np.log(LAMBDA_GRID)))
    expected = (-np.expm1(-np.outer(lam, weights)) * users[:, None]).sum(axis=0)
    return np.split(expected, np.cumsum(sizes)[:-1])


def chance_repeat_share(weights_by_object: np.ndarray, events_per_user: np.ndarray) -> float:
    """Share of events repeating an earlier object by chance, drawing with replacement."""
    events, users = np.unique(np.asarray(events_per_user, float), return_counts=True)
    if users.sum() == 0:
        return 0.0
    distinct = -np.expm1(-np.outer(events, weights_by_object)).sum(axis=1)
    return float(1 - (distinct * users).sum() / (events * users).sum())


def personal_hour_share(session_users: np.ndarray, session_hours: np.ndarray, hour_shares: np.ndarray) -> float:
    """Share h of a user's sessions in their own hour: two sessions of a user share their hour
    with probability h² + (1 − h²)·Σp² (p the population's hours), solved from the log's pairs."""
    table = np.bincount(session_users * 24 + session_hours, minlength=(int(session_users.max()) + 1) * 24)
    per_user = table.reshape(-1, 24)
    pairs = (per_user * (per_user - 1) / 2).sum()
    all_pairs = (per_user.sum(axis=1) * (per_user.sum(axis=1) - 1) / 2).sum()
    if all_pairs == 0:
        return 0.0
    chance = float(np.sum(np.asarray(hour_shares) ** 2))
    same = pairs / all_pairs
    return float(np.sqrt(np.clip((same - chance) / max(1 - chance, 1e-12), 0.0, 1.0)))
