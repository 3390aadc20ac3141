"""The click model of seed 001: trained honestly, calibrated, exported to ONNX (`onnx_export.py`).

**The model.** `StandardScaler → PolynomialFeatures(INTERACTION_DEGREE) → LogisticRegression`
on the 20 window features (`windows.FEATURE_NAMES`, in that order), fitted with balanced class
weights so that the rare positives (~6%) weigh as much as the negatives.

**Why linear (degree 1).** The 190 pairwise interaction terms of degree 2 bought nothing on 30
days and cost a lot on a week, where 210 coefficients fitted on a few dozen training users mostly
fit those users' noise and the gate blocked healthy weeks; neither a stronger L2 penalty nor
unbalanced class weights recovered the loss (`benchmarks/sweep_click_model.py`; the figures are
in docs/click-model.md, "Why the model is linear"). The polynomial step stays, at degree 1 (the features
themselves), so the exported graph keeps the operators the browser runtime evaluates.

**The calibration correction.** Balanced weights give each positive the weight n / (2·n₁) and each negative
n / (2·n₀). Weighting the likelihood is the same as training on data whose class prior is multiplied by the
weight ratio r = w₁ / w₀ = n₀ / n₁, so the fitted log-odds are the true log-odds plus log r, for every input:
the model ranks as well as ever but its mean prediction is ~0.4 at a 6% base rate. Subtracting log r from the
logistic regression's intercept (`correct_intercept`) undoes the prior shift exactly for a well-specified
model and nearly so otherwise; the coefficients, hence the ranking (AUC), are unchanged. The correction is
applied to the fitted `LogisticRegression` itself, so the pickle and the exported ONNX graph both carry it.

**Honest evaluation.** Windows of one user overlap and share the user's latent traits, so every split is by user:
`GroupKFold(5)` for the cross-validated AUC, and a held-out set of users (`HELD_OUT_SHARE`, drawn from the simulation
seed) for the final metrics and figures. The model that ships is the one fitted on the other users, so the held-out
figures describe it. The generator's exact `Oracle_Probability` on the same held-out windows is the ceiling. How sure
those figures are, and whether the model may replace the shipped one, is `click_model_gate`.

**What ships.** A `TrainedModel`: the fitted pipeline with its training days, held-out users,
seed and window settings, so that the ONNX export and its checks need nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poppy_pipeline.behaviour.features import FEATURE_NAMES, WindowSpec
from poppy_pipeline.click_model.onnx_export import export_onnx
from poppy_pipeline.common.codes import sorted_unique
from poppy_pipeline.common.randomness import stream

# scikit-learn is imported where it is used: loading the definitions (every `dagster` command,
# even one that materializes no model) would otherwise import it, about 0.7 s.
if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

CV_FOLDS = 5
# 1: the features alone; 2 would add their 190 pairwise products (see the module docstring).
INTERACTION_DEGREE = 1
# 30% of users are held out: at 100 users, 30 users and ~20,000 windows (~1,300 positives).
HELD_OUT_SHARE = 0.3
MAX_ITER = 100
# Probabilities are clipped this far from 0 and 1 for the log loss.
EPSILON = 1e-15

Fit = Callable[[np.ndarray, np.ndarray], "Pipeline"]


def build_pipeline() -> Pipeline:
    """The untrained model. Newton-Cholesky converges in a few steps (lbfgs: hundreds at degree 2)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("poly", PolynomialFeatures(degree=INTERACTION_DEGREE, interaction_only=True, include_bias=False)),
            (
                "logistic",
                LogisticRegression(class_weight="balanced", solver="newton-cholesky", max_iter=MAX_ITER),
            ),
        ]
    )


def prior_shift(labels: np.ndarray) -> float:
    """log(w₁ / w₀) of balanced class weights = log(n₀ / n₁): what balancing adds to the log-odds."""
    positives = int(np.sum(labels == 1))
    negatives = int(np.sum(labels == 0))
    if positives == 0 or negatives == 0:
        raise ValueError(f"training needs both classes, got {positives} positive and {negatives} negative windows")
    return float(np.log(negatives / positives))


def correct_intercept(model: Pipeline, labels: np.ndarray) -> Pipeline:
    """Subtract the balancing's prior shift from the fitted intercept, in place; returns the model."""
    model[-1].intercept_ = model[-1].intercept_ - prior_shift(labels)
    return model


def fit_calibrated(features: np.ndarray, labels: np.ndarray) -> Pipeline:
    """Fit the balanced pipeline, then correct its intercept so that it outputs calibrated probabilities."""
    model = build_pipeline().fit(features, labels)
    return correct_intercept(model, labels)


def feature_matrix(windows: pd.DataFrame) -> np.ndarray:
    """The 20 features in training order, as float64."""
    return windows[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)


def held_out_users(user_ids: np.ndarray, seed: int, share: float = HELD_OUT_SHARE) -> np.ndarray:
    """A fixed random `share` of the distinct users (at least one, never all), from the seed."""
    users = sorted_unique(np.asarray(user_ids))
    if len(users) < 2:
        raise ValueError(f"a held-out set of users needs at least 2 users, got {len(users)}")
    count = min(max(1, round(share * len(users))), len(users) - 1)
    chosen = stream(seed, "click_model:held_out_users").permutation(len(users))[:count]
    return np.sort(users[chosen])


def cross_validate(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = CV_FOLDS, fit: Fit | None = None
) -> tuple[list[float], np.ndarray]:
    """AUC of each `GroupKFold` fold (no user on both sides) that holds both labels (a fold of a few
    users may have no positive window: it has no AUC), and the out-of-fold probabilities."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    fit = fit or fit_calibrated
    aucs, out_of_fold = [], np.zeros(len(labels))
    for train, test in GroupKFold(n_splits=folds).split(features, labels, groups):
        model = fit(features[train], labels[train])
        out_of_fold[test] = model.predict_proba(features[test])[:, 1]
        if len(np.unique(labels[test])) == 2:
            aucs.append(float(roc_auc_score(labels[test], out_of_fold[test])))
    return aucs, out_of_fold


def probability_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """AUC, Brier score and log loss of probabilities of the positive class."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    clipped = np.clip(probabilities, EPSILON, 1 - EPSILON)
    return {
        "auc": float(roc_auc_score(labels, probabilities)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "log_loss": float(log_loss(labels, clipped, labels=[0, 1])),
        "mean_probability": float(np.mean(probabilities)),
    }


@dataclass(frozen=True)
class TrainedModel:
    """What `click_model` ships: the fitted pipeline and what it was trained on and for."""

    pipeline: Pipeline
    days: tuple[str, ...]  # the training window's days, oldest first
    held_out_users: tuple[int, ...]  # never seen in training; the parity check scores their windows
    window: WindowSpec  # window, step, horizon and minimum actions of the features
    seed: int
    feature_names: tuple[str, ...] = field(default=tuple(FEATURE_NAMES))

    @property
    def training_window(self) -> str:
        return f"{self.days[0]}..{self.days[-1]}"

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(positive) of each row (features in `feature_names` order)."""
        return np.asarray(self.pipeline.predict_proba(features)[:, 1])  # scikit-learn is untyped: an array of Any

    def onnx_bytes(self) -> bytes:
        """The model as the ONNX file `click_model_onnx` publishes."""
        return export_onnx(self.pipeline, self.window.settings(), self.training_window, self.feature_names)


@dataclass
class TrainingResult:
    """The shipped model (fitted on the training users) and everything measured about it."""

    model: Pipeline
    report: dict[str, Any]
    held_out: pd.DataFrame  # the held-out windows with the model's `Probability`
    unseen: pd.DataFrame  # `User_ID, Label, Probability` of every window, by a model that never saw its user


def train_and_evaluate(
    windows: pd.DataFrame, seed: int, held_out_share: float = HELD_OUT_SHARE, fit: Fit | None = None
) -> TrainingResult:
    """Cross-validate on the training users, fit on them, measure on the held-out users.

    `fit` (default `fit_calibrated`) trains a model on (features, labels); tests pass a damaged one.
    """
    fit = fit or fit_calibrated
    user_ids = windows["User_ID"].to_numpy()
    test_users = held_out_users(user_ids, seed, held_out_share)
    is_test = np.isin(user_ids, test_users)
    features, labels = feature_matrix(windows), windows["Label"].to_numpy(dtype=np.int64)
    train_x, train_y = features[~is_test], labels[~is_test]
    cv, out_of_fold = cross_validate(train_x, train_y, user_ids[~is_test], fit=fit)
    started = time.perf_counter()
    model = fit(train_x, train_y)
    seconds = time.perf_counter() - started
    held_out = windows.loc[is_test].reset_index(drop=True)
    held_out["Probability"] = model.predict_proba(features[is_test])[:, 1]
    unseen = pd.DataFrame(
        {
            "User_ID": np.concatenate([user_ids[~is_test], held_out["User_ID"].to_numpy()]),
            "Label": np.concatenate([train_y, held_out["Label"].to_numpy(dtype=np.int64)]),
            "Probability": np.concatenate([out_of_fold, held_out["Probability"].to_numpy(dtype=np.float64)]),
        }
    )
    report = evaluation_report(held_out, cv) | {
        "training_rows": len(train_y),
        "training_users": len(sorted_unique(user_ids[~is_test])),
        "training_seconds": seconds,
        # Calibration in the large over every training user, each predicted by a model that never saw them.
        "cv_mean_prediction": float(out_of_fold.mean()),
        "cv_base_rate": float(train_y.mean()),
        **unseen_user_calibration(unseen),
        "training_iterations": int(np.max(model[-1].n_iter_)),
        "prior_shift": prior_shift(train_y),
        "held_out_share": held_out_share,
        "held_out_users": len(test_users),
        "held_out_seed": int(seed),
        "positive_share": float(labels.mean()),
        "windows": len(labels),
    }
    return TrainingResult(model, report, held_out, unseen)


def unseen_user_calibration(unseen: pd.DataFrame) -> dict[str, Any]:
    """Mean prediction vs base rate over every window, each predicted by a model that never saw its user.

    The training users' out-of-fold predictions and the held-out users' predictions by the shipped
    model: all the users, so the users' own click propensities average out (a small held-out set
    alone has a base rate of its own), and still no prediction of a seen user.
    """
    mean, base = float(unseen["Probability"].mean()), float(unseen["Label"].mean())
    return {
        "unseen_mean_prediction": mean,
        "unseen_base_rate": base,
        "calibration_error": abs(mean - base) / base if base else float("inf"),
    }


def evaluation_report(held_out: pd.DataFrame, cv_aucs: Sequence[float]) -> dict[str, Any]:
    """Held-out metrics of model and oracle, their ratio, and the CV AUC."""
    labels = held_out["Label"].to_numpy(dtype=np.int64)
    model = probability_metrics(labels, held_out["Probability"].to_numpy(dtype=np.float64))
    oracle_values = oracle_probabilities(held_out)
    oracle = probability_metrics(labels, oracle_values) if oracle_values is not None else None
    report = {
        "cv_folds": len(cv_aucs),
        "cv_aucs": [float(a) for a in cv_aucs],
        "cv_auc_mean": float(np.mean(cv_aucs)) if len(cv_aucs) else None,
        "cv_auc_std": float(np.std(cv_aucs)) if len(cv_aucs) else None,
        "held_out_rows": len(labels),
        "held_out_auc": model["auc"],
        "brier_model": model["brier"],
        "log_loss_model": model["log_loss"],
        "mean_prediction": model["mean_probability"],
        "base_rate": float(labels.mean()),
        "mean_prediction_standard_error": clustered_standard_error(
            labels, held_out["Probability"].to_numpy(dtype=np.float64), held_out["User_ID"].to_numpy()
        ),
        "oracle_auc": oracle["auc"] if oracle else None,
        "brier_oracle": oracle["brier"] if oracle else None,
        "log_loss_oracle": oracle["log_loss"] if oracle else None,
        "auc_ratio": model["auc"] / oracle["auc"] if oracle else None,
    }
    return report


def oracle_probabilities(windows: pd.DataFrame) -> np.ndarray | None:
    """The generator's `Oracle_Probability`, or None when a window has none (a real action log)."""
    values = pd.to_numeric(windows["Oracle_Probability"], errors="coerce").to_numpy(dtype=np.float64)
    return values if np.isfinite(values).all() else None


def coefficient_table(model: Pipeline, feature_names: Sequence[str] = FEATURE_NAMES) -> pd.DataFrame:
    """The logistic regression's terms (`a`, `a b` for a product), by decreasing |coefficient|."""
    terms = model.named_steps["poly"].get_feature_names_out(list(feature_names))
    table = pd.DataFrame({"term": terms, "coefficient": model[-1].coef_[0]})
    order = table["coefficient"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def clustered_standard_error(labels: np.ndarray, probabilities: np.ndarray, users: np.ndarray) -> float:
    """Standard error of mean(label − probability) when windows of one user are not independent.

    The residuals are summed per user (the users, not the windows, are the independent draws:
    their latent traits move all their windows together); the cluster-robust variance of the
    mean is G/(G−1) · Σ_u (R_u − n_u·r̄)² / N².
    """
    residual = np.asarray(labels, dtype=np.float64) - np.asarray(probabilities, dtype=np.float64)
    frame = pd.DataFrame({"user": users, "r": residual})
    per_user = frame.groupby("user")["r"].agg(["sum", "size"])
    groups, total = len(per_user), len(residual)
    if groups < 2:
        return float("inf")
    mean = residual.mean()
    spread = ((per_user["sum"] - per_user["size"] * mean) ** 2).sum()
    return float(np.sqrt(groups / (groups - 1) * spread) / total)
