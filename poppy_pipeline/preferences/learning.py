"""One preference asset's work: judge the model on held-out users and days, fit it on everything, and
report; the asset publishes the table only when the model beats popularity (`evaluation.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES, USER_COLUMN
from poppy_pipeline.preferences.evaluation import (
    FOLDS,
    POPULARITY,
    SERVICE_MF,
    SERVICE_NN,
    Fitter,
    Judged,
    Verdict,
    beats_popularity,
    evaluate,
)
from poppy_pipeline.preferences.evidence import EVENT_WEIGHTS, Evidence
from poppy_pipeline.preferences.figures import draw_figures
from poppy_pipeline.preferences.models import engine_table, fit_popularity, preference_values

MEASURES = {
    "spearman": "Spearman vs truth",
    "ndcg_at_3": "NDCG@3 of the true top 3",
    "held_out_like_auc": "held-out Like AUC",
}


@dataclass
class Learned:
    table: pd.DataFrame  # the engine's table: User_ID and the 21 categories, 0-10
    judged: dict[str, Judged]
    verdict: Verdict
    report: dict[str, Any]
    figures: dict[str, bytes]


def truth_matrix(truth: pd.DataFrame | None, user_ids: pd.Index) -> np.ndarray | None:
    """(users, 21) true values in the evidence's user order (NaN for a user it lacks); None without one."""
    if truth is None or truth.empty:
        return None
    by_user = truth.set_index(truth[USER_COLUMN].astype(str))[list(ENGINE_CATEGORIES)]
    return by_user.reindex(pd.Index(user_ids).astype(str)).to_numpy(dtype=np.float64)


def learn(
    name: str, fit: Fitter, evidence: Evidence, truth: np.ndarray | None, seed: int, with_service: bool = True
) -> Learned:
    """Judge `fit` (cross-validated, `evaluation.py`), then fit it on every day and user of the span."""
    judged = evaluate({name: fit, POPULARITY: fit_popularity}, evidence, truth, seed, with_service)
    verdict = beats_popularity(name, judged)
    with threadpool_limits(1):
        scorer = fit(evidence.everything, evidence.exposure, seed)
        values = preference_values(scorer(evidence.everything.sum(axis=2)))
    table = engine_table(evidence.user_ids, values)
    report = {
        "model": name,
        "fitting_days": f"{evidence.fitting_days[0]}..{evidence.fitting_days[-1]}" if evidence.fitting_days else None,
        "held_out_days": f"{evidence.held_out_days[0]}..{evidence.held_out_days[-1]}"
        if evidence.held_out_days
        else None,
        "events": evidence.events,
        "events_outside_categories": evidence.outside_categories,
        "users": len(table),
        "judged_against": "the simulation's truth" if truth is not None else "held-out Likes (no truth)",
        "folds": FOLDS,
        "event_weights": EVENT_WEIGHTS,
        "evaluation": {model: result.summary() for model, result in judged.items()},
        "verdict": {"passed": verdict.passed, "applicable": verdict.applicable, "message": verdict.message},
    }
    known = [category for category, share in zip(ENGINE_CATEGORIES, evidence.exposure, strict=True) if share > 0]
    return Learned(table, judged, verdict, report, draw_figures(name, judged[name], known))


def evaluation_table(report: dict[str, Any]) -> pd.DataFrame:
    """The report's measures as a table: a row per model (this one, popularity, the service's two)."""
    order = [report["model"], POPULARITY, SERVICE_MF, SERVICE_NN]
    rows = []
    for model in [m for m in order if m in report["evaluation"]]:
        summary = report["evaluation"][model]
        row = {"model": model, "users": summary["users"]}
        for key, label in MEASURES.items():
            value = summary[key]
            row[label] = "" if value is None else f"{value:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)
