"""Judging preferences on users and days the models never saw, against the truth or held-out Likes.

The protocol (the same for every model and baseline):

- the span's last `held_out_days` days are never fitted (`evidence.py`);
- at most `EVALUATION_USERS` users with events on the fitting days, drawn by the seed, are split into
  `FOLDS` folds; each fold's users are predicted by models fitted on every other user of the span
  (never on themselves), from their own fitting-day events;
- the service's two models (`service_models.py`) need their users in the fit (a user's row is a
  one-hot input or a factor of its own), so they are fitted on the evaluated users' fitting-day Likes
  and ratings, at most `SERVICE_USERS` of them, and judged on the same held-out measures.

Measures, per user, then averaged over users: in simulation, the Spearman correlation between the
predicted and the true preferences over the 21 categories, and NDCG@3 of the true top three (a
prediction's top three earn 1/log2(rank + 1) for each true top-three category, normalised by the
best possible); on any data, the held-out Like AUC: for each held-out Like or 4-5 star rating, the
probability that its category is predicted above that of an object drawn from the catalog at random
(ties count half), averaged per user. A category without objects is left out of every measure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata
from threadpoolctl import threadpool_limits

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.preferences.evidence import Evidence
from poppy_pipeline.preferences.models import Scorer, preference_values
from poppy_pipeline.preferences.service_models import one_hot_network, sgd_factorisation

FOLDS = 5
EVALUATION_USERS = 2_000
SERVICE_USERS = 100
TOP = 3
MIN_USERS = 10  # fewer evaluated users than this: no verdict
POPULARITY = "popularity"
SERVICE_MF = "service SGD MF (Layer 3 today)"
SERVICE_NN = "service one-hot network (Layer 4 today)"
Fitter = Callable[[np.ndarray, np.ndarray, int], Scorer]


@dataclass
class Judged:
    """Per evaluated user, each measure (NaN where it cannot be measured), for one model."""

    users: np.ndarray  # rows of the evidence
    values: np.ndarray  # (users, categories the catalog holds) the predicted 0-10 values
    truth: np.ndarray | None  # the same users' true values, when there is a truth
    spearman: np.ndarray
    ndcg: np.ndarray
    auc: np.ndarray

    def summary(self) -> dict[str, Any]:
        return {
            "users": len(self.users),
            "spearman": _mean(self.spearman),
            "ndcg_at_3": _mean(self.ndcg),
            "held_out_like_auc": _mean(self.auc),
            "users_with_held_out_likes": int(np.isfinite(self.auc).sum()),
        }


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


def spearman_per_user(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank correlation per row (average ranks for ties); 0 when either row is constant."""
    a = rankdata(predicted, axis=1)
    b = rankdata(truth, axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (a * b).sum(axis=1) / norm, 0.0)


def ndcg_at_top(predicted: np.ndarray, truth: np.ndarray, top: int = TOP) -> np.ndarray:
    """NDCG@top of the true top categories per row (ties in the prediction: the lower index first)."""
    relevant = np.zeros(truth.shape, dtype=bool)
    np.put_along_axis(relevant, np.argsort(-truth, axis=1, kind="stable")[:, :top], True, axis=1)
    ranked = np.argsort(-predicted, axis=1, kind="stable")[:, :top]
    discount = 1.0 / np.log2(np.arange(2, top + 2))
    gains: NDArray[np.float64] = (np.take_along_axis(relevant, ranked, axis=1) * discount).sum(axis=1) / discount.sum()
    return gains


def held_out_like_auc(predicted: np.ndarray, likes: np.ndarray, exposure: np.ndarray) -> np.ndarray:
    """Per row, P(a held-out Like's category is predicted above a random catalog object's), ties half;
    NaN for a user without held-out Likes."""
    above = (predicted[:, :, None] > predicted[:, None, :]).astype(np.float64)
    above += 0.5 * (predicted[:, :, None] == predicted[:, None, :])
    per_category = above @ (exposure / exposure.sum())  # (users, 21): vs a random object
    total = likes.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (likes * per_category).sum(axis=1) / total, np.nan)


def judge(rows: np.ndarray, scores: np.ndarray, evidence: Evidence, truth: np.ndarray | None) -> Judged:
    """The measures of `scores` (lifts of the evidence's `rows`) on the categories the catalog holds."""
    known = evidence.exposure > 0
    values = preference_values(scores)[:, known]
    likes = evidence.held_out_likes[rows][:, known]
    auc = held_out_like_auc(values, likes, evidence.exposure[known])
    spearman, ndcg = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    if truth is None:
        return Judged(rows, values, None, spearman, ndcg, auc)
    true = truth[rows][:, known]
    has = np.isfinite(true).all(axis=1)  # a user the truth does not know: no measure
    spearman[has] = spearman_per_user(values[has], true[has])
    ndcg[has] = ndcg_at_top(values[has], true[has])
    return Judged(rows, values, true, spearman, ndcg, auc)


def evaluation_users(evidence: Evidence, seed: int, limit: int = EVALUATION_USERS) -> np.ndarray:
    """Rows of at most `limit` users with fitting-day events, drawn by the seed (in row order)."""
    eligible = np.flatnonzero(evidence.fitting.sum(axis=1) > 0)
    if len(eligible) > limit:
        eligible = np.sort(stream(seed, "preferences:evaluation_users").choice(eligible, limit, replace=False))
    return eligible


def cross_validated(fit: Fitter, evidence: Evidence, rows: np.ndarray, seed: int) -> np.ndarray:
    """(len(rows), 21) scores of each fold's users by a model fitted on every other user of the span."""
    folds = stream(seed, "preferences:folds").permutation(len(rows)) % FOLDS
    scores = np.full((len(rows), evidence.slices.shape[1]), np.nan)
    everyone = np.arange(len(evidence.user_ids))
    for fold in range(FOLDS):
        held = rows[folds == fold]
        if not len(held):
            continue
        training = np.setdiff1d(everyone, held)
        scorer = fit(evidence.slices[training], evidence.exposure, seed)
        scores[folds == fold] = scorer(evidence.fitting[held])
    return scores


def service_scores(evidence: Evidence, rows: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The service's models on (at most `SERVICE_USERS` of) `rows`: their rows and predictions.

    Both preference assets of a run judge the same service models on the same users: the second
    finds the first's predictions in `_SERVICE_RESULTS` (keyed by everything they depend on)."""
    chosen = rows
    if len(rows) > SERVICE_USERS:
        chosen = np.sort(stream(seed, "preferences:service_users").choice(rows, SERVICE_USERS, replace=False))
    local = np.full(len(evidence.user_ids), -1, dtype=np.int64)
    local[chosen] = np.arange(len(chosen))
    user, category, strength = evidence.like_rows
    mine = local[user] >= 0
    like_rows = (local[user[mine]], category[mine], strength[mine])
    strongest = evidence.strongest[chosen]
    key = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in (strongest, *like_rows)))
    key.update(str((strongest.shape, seed)).encode())
    if key.digest() not in _SERVICE_RESULTS:
        categories = evidence.slices.shape[1]
        _SERVICE_RESULTS.clear()  # one run's worth
        with threadpool_limits(1):
            _SERVICE_RESULTS[key.digest()] = (
                sgd_factorisation(strongest, seed),
                one_hot_network(like_rows, len(chosen), categories, seed),
            )
    factorised, network = _SERVICE_RESULTS[key.digest()]
    return {SERVICE_MF: (chosen, factorised), SERVICE_NN: (chosen, network)}


_SERVICE_RESULTS: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}


def evaluate(
    models: dict[str, Fitter], evidence: Evidence, truth: np.ndarray | None, seed: int, with_service: bool = True
) -> dict[str, Judged]:
    """Every model, popularity and (unless `with_service` is off) the service's two models, judged.

    On one thread: threads fight over a shared machine's cores, and these products are small."""
    rows = evaluation_users(evidence, seed)
    with threadpool_limits(1):
        judged = {
            name: judge(rows, cross_validated(fit, evidence, rows, seed), evidence, truth)
            for name, fit in models.items()
        }
        if with_service and len(rows):
            for name, (chosen, predictions) in service_scores(evidence, rows, seed).items():
                judged[name] = judge(chosen, predictions, evidence, truth)
    return judged


@dataclass(frozen=True)
class Verdict:
    """Whether a model beats popularity on held-out data, and the sentence that says so."""

    passed: bool
    applicable: bool
    message: str
    measures: dict[str, Any]


def beats_popularity(model: str, judged: dict[str, Judged]) -> Verdict:
    """On the truth when there is one (Spearman and NDCG@3 both above popularity's), else on the
    held-out Like AUC; not applicable below `MIN_USERS` measured users."""
    mine, baseline = judged[model].summary(), judged[POPULARITY].summary()
    with_truth = mine["spearman"] is not None
    names = ("spearman", "ndcg_at_3") if with_truth else ("held_out_like_auc",)
    measured = mine["users"] if with_truth else mine["users_with_held_out_likes"]
    measures = {name: {"model": mine[name], "popularity": baseline[name]} for name in names}
    if measured < MIN_USERS or any(mine[n] is None or baseline[n] is None for n in names):
        why = f"only {measured} users could be measured on held-out data (a verdict needs {MIN_USERS})"
        return Verdict(True, False, why, measures)
    losing = [n for n in names if not mine[n] > baseline[n]]
    shown = ", ".join(f"{n} {mine[n]:.3f} vs {baseline[n]:.3f}" for n in names)
    if losing:
        return Verdict(False, True, f"{model} does not beat popularity on {', '.join(losing)} ({shown})", measures)
    return Verdict(True, True, f"{model} beats popularity ({shown}, {measured} users)", measures)
