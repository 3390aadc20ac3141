"""Can a classifier tell real events from simulated ones? Out-of-fold AUC, split by user.

Per-event features: hour, weekday, event type, rating, the user's activity (log of their
events in the window), the object's popularity rank in its own log (`object_popularity_rank`),
the log gap since the user's previous event, and whether the event repeats an earlier (user,
object). Folds never split a user, so a classifier cannot win by recognising users; each fold
holds a third of each side's users, and every user weighs the same. 0.5: indistinguishable;
1: always told apart. With few users (tens a side) the AUC of two halves of one log spreads by
about ±0.1-0.15 around 0.5, below it too: a model that learns its training users' quirks
mispredicts unseen ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from poppy_pipeline.fidelity.fit import poppy_type_codes

FEATURES = ["hour", "weekday", "type", "rating", "user_activity", "object_popularity", "log_gap", "repeat"]
MAX_EVENTS_PER_SIDE = 100_000
FOLDS = 3


def object_popularity_rank(object_codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each event's object's popularity rank in its log (1 = most events; ties in random order),
    less U[0, 1) per event, as a log.

    A rank, not a count over the log's mean: divided by its own log's mean, the counts of a
    small log sit on a grid of values only that log has, and the most popular objects get values
    of their own, which the classifier recognised across folds (folds split users, not objects):
    it told two halves of one 45-user log apart at AUC 0.99 by popularity alone. Ranks mean the
    same in both logs, and the jitter spreads an object's events over its rank's unit interval,
    so what is left to compare is how many events each rank gets.
    """
    rng = np.random.default_rng(seed)
    counts = np.bincount(object_codes)
    by_popularity = np.lexsort((rng.random(len(counts)), -counts))
    rank = np.empty(len(counts))
    rank[by_popularity] = np.arange(1, len(counts) + 1)
    jittered: NDArray[np.float64] = np.log(rank[object_codes] - rng.random(len(object_codes)))
    return jittered


def event_features(events: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    ordered = events.sort_values(["User_ID", "Timestamp"], kind="stable")
    users = ordered["User_ID"].to_numpy()
    seconds = ordered["Timestamp"].to_numpy("datetime64[s]").astype(np.int64)
    same_user = np.r_[False, users[1:] == users[:-1]]
    gap = np.where(same_user, np.log1p(np.maximum(np.diff(seconds, prepend=seconds[:1]), 0)), -1.0)
    per_user = ordered.groupby("User_ID")["User_ID"].transform("size").to_numpy(float)
    object_codes = ordered.groupby(["Object_Type", "Object_ID"], observed=True).ngroup().to_numpy()
    return pd.DataFrame(
        {
            "hour": ordered["Timestamp"].dt.hour.to_numpy(),
            "weekday": ordered["Timestamp"].dt.day_of_week.to_numpy(),
            "type": poppy_type_codes(ordered["Interaction_Type"]),
            "rating": pd.to_numeric(ordered["Interaction_Rating"], errors="coerce").fillna(0).to_numpy(),
            "user_activity": np.log(per_user),
            "object_popularity": object_popularity_rank(object_codes, seed),
            "log_gap": gap,
            "repeat": ordered.duplicated(["User_ID", "Object_Type", "Object_ID"]).to_numpy().astype(float),
            "group": users.astype(str),
        }
    )


@dataclass(frozen=True)
class Detection:
    auc: float  # out of fold; NaN when a side has fewer users than folds
    # Per feature, how much the AUC drops when that feature is shuffled among the held-out
    # events: what the classifier tells the logs apart by (about 0 for every feature at AUC 0.5).
    importance: dict[str, float] = field(default_factory=dict)


def detection_auc(
    real: pd.DataFrame, simulated: pd.DataFrame, seed: int = 0, features: Sequence[str] = FEATURES
) -> float:
    """Out-of-fold ROC AUC of a gradient-boosted classifier on `features`, folds grouped by user."""
    return detect(real, simulated, seed, features).auc


def detect(real: pd.DataFrame, simulated: pd.DataFrame, seed: int = 0, features: Sequence[str] = FEATURES) -> Detection:
    """The detection AUC and each feature's permutation importance."""
    # Imported here, so that loading the definitions (every `dagster` command) skips scikit-learn.
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    sides = []
    for label, events in ((1, real), (0, simulated)):
        table = event_features(events, seed + label)
        if len(table) > MAX_EVENTS_PER_SIDE:  # whole users, so ranks and gaps stay intact
            users = table["group"].unique()
            kept = rng.random(len(users)) < MAX_EVENTS_PER_SIDE / len(table)
            table = table[table["group"].isin(users[kept])]
        sides.append(table.assign(label=label, fold=_user_folds(table["group"].to_numpy(), rng)))
    if min(side["group"].nunique() for side in sides) < FOLDS:
        return Detection(float("nan"))
    data = pd.concat(sides, ignore_index=True)
    x, y, folds = data[list(features)].to_numpy(float), data["label"].to_numpy(), data["fold"].to_numpy()
    # Every user weighs the same: a few heavy users must not decide (halves of one log differ
    # mostly in which heavy users they got).
    weights = 1.0 / data.groupby(["label", "group"])["group"].transform("size").to_numpy(float)
    scores = np.zeros(len(data))
    shuffled = np.zeros((len(features), len(data)))
    with threadpool_limits(1):  # threads fight over a shared machine's cores; one is faster
        for fold in range(FOLDS):
            test = folds == fold
            model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
            model.fit(x[~test], y[~test], sample_weight=weights[~test])
            scores[test] = model.predict_proba(x[test])[:, 1]
            for column in range(len(features)):
                held_out = x[test].copy()
                held_out[:, column] = rng.permutation(held_out[:, column])
                shuffled[column, test] = model.predict_proba(held_out)[:, 1]
    auc = float(roc_auc_score(y, scores, sample_weight=weights))
    drops = {
        f: round(auc - float(roc_auc_score(y, shuffled[i], sample_weight=weights)), 4) for i, f in enumerate(features)
    }
    return Detection(auc, drops)


def _user_folds(users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each event's fold: one side's users shuffled and dealt out in turn, so every fold holds a
    third of each side's users. (Folds that split the users unevenly between the sides skew the
    class balance the model learns against the one it is tested on: with 20 users a side, two
    halves of one log scored AUCs of 0.26-0.36 instead of about 0.5.)"""
    codes, uniques = pd.factorize(users)
    fold_of_user = np.empty(len(uniques), dtype=np.int64)
    fold_of_user[rng.permutation(len(uniques))] = np.arange(len(uniques)) % FOLDS
    return fold_of_user[codes]
