"""Can a classifier tell real events from simulated ones? Out-of-fold AUC, split by user.

Per-event features: hour, weekday, event type, rating, the user's activity (log of their
events in the window), the object's popularity (log of its events over the log's mean per
object, to 0.1: the log's size must not give it away, nor a grid of values only one log has),
the log gap since the user's previous event, and whether the event repeats an earlier (user,
object). Folds never split a user, so a classifier cannot win by recognising
users, and every user weighs the same. 0.5: indistinguishable; 1: always told apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from poppy_pipeline.fit import poppy_type_codes

FEATURES = ["hour", "weekday", "type", "rating", "user_activity", "object_popularity", "log_gap", "repeat"]
MAX_EVENTS_PER_SIDE = 100_000
FOLDS = 3


def event_features(events: pd.DataFrame) -> pd.DataFrame:
    ordered = events.sort_values(["User_ID", "Timestamp"], kind="stable")
    users = ordered["User_ID"].to_numpy()
    seconds = ordered["Timestamp"].to_numpy("datetime64[s]").astype(np.int64)
    same_user = np.r_[False, users[1:] == users[:-1]]
    gap = np.where(same_user, np.log1p(np.maximum(np.diff(seconds, prepend=seconds[:1]), 0)), -1.0)
    per_user = ordered.groupby("User_ID")["User_ID"].transform("size").to_numpy(float)
    per_object = ordered.groupby(["Object_Type", "Object_ID"], observed=True)["User_ID"].transform("size")
    objects = ordered.groupby(["Object_Type", "Object_ID"], observed=True).ngroups
    return pd.DataFrame(
        {
            "hour": ordered["Timestamp"].dt.hour.to_numpy(),
            "weekday": ordered["Timestamp"].dt.day_of_week.to_numpy(),
            "type": poppy_type_codes(ordered["Interaction_Type"]),
            "rating": pd.to_numeric(ordered["Interaction_Rating"], errors="coerce").fillna(0).to_numpy(),
            "user_activity": np.log(per_user),
            "object_popularity": np.round(np.log(per_object.to_numpy(float) * objects / max(len(ordered), 1)), 1),
            "log_gap": gap,
            "repeat": ordered.duplicated(["User_ID", "Object_Type", "Object_ID"]).to_numpy().astype(float),
            "group": users.astype(str),
        }
    )


def detection_auc(real: pd.DataFrame, simulated: pd.DataFrame, seed: int = 0) -> float:
    """Out-of-fold ROC AUC of a gradient-boosted classifier, folds grouped by user."""
    sides = []
    for label, events in ((1, real), (0, simulated)):
        features = event_features(events)
        features["group"] = f"{label}:" + features["group"]
        if len(features) > MAX_EVENTS_PER_SIDE:  # whole users, so ranks and gaps stay intact
            users = features["group"].unique()
            keep_share = MAX_EVENTS_PER_SIDE / len(features)
            kept = np.random.default_rng(seed).random(len(users)) < keep_share
            features = features[features["group"].isin(users[kept])]
        sides.append(features.assign(label=label))
    data = pd.concat(sides, ignore_index=True)
    groups = data["group"].to_numpy()
    if min(data["label"].sum(), (1 - data["label"]).sum()) == 0 or len(np.unique(groups)) < FOLDS:
        return float("nan")
    scores = np.zeros(len(data))
    x, y = data[FEATURES].to_numpy(float), data["label"].to_numpy()
    # Every user weighs the same: a few heavy users must not decide (halves of one log differ
    # mostly in which heavy users they got).
    weights = 1.0 / data.groupby("group")["group"].transform("size").to_numpy(float)
    with threadpool_limits(1):  # threads fight over a shared machine's cores; one is faster
        for train, test in GroupKFold(n_splits=FOLDS).split(x, y, groups):
            model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
            model.fit(x[train], y[train], sample_weight=weights[train])
            scores[test] = model.predict_proba(x[test])[:, 1]
    return float(roc_auc_score(y, scores, sample_weight=weights))
