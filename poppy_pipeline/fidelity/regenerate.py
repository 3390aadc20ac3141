"""More data like a log: simulate from its fit, and the fidelity report of the result.

`simulate_from_fit` generates the fitted world's catalog, users and every day of the window
with the ordinary simulation (`interactions.py`); `fidelity_report` compares it with the log,
next to the noise floor (the log's two halves, users split at random).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd

from poppy_pipeline.fidelity.closeness import compare, overall, split_by_user
from poppy_pipeline.fidelity.detection import detect, detection_auc
from poppy_pipeline.fidelity.fit import settings_from_fit
from poppy_pipeline.fidelity.sdmetrics_scores import sdmetrics_scores
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users


def simulate_from_fit(fit: dict[str, Any], days: list[str], seed: int = 42, scale_users: float = 1.0) -> pd.DataFrame:
    """The window's interactions of a simulation with the fitted settings (catalog generated)."""
    settings = settings_from_fit(fit, seed, scale_users)
    objects = build_catalog(settings, None).objects
    model = build_model(settings, objects, generate_users(settings))
    frames = [simulate_day(model, date.fromisoformat(day)) for day in days]
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def fidelity_report(real: pd.DataFrame, simulated: pd.DataFrame) -> dict[str, Any]:
    """Per statistic real vs simulated with closeness; overall; detection AUC; the noise floor."""
    statistics = compare(real, simulated)
    half_a, half_b = split_by_user(real)
    floor = compare(half_a, half_b)
    for name, row in statistics.items():
        row["noise_floor"] = floor[name]["closeness"]
    detection = detect(real, simulated)
    field_scores, field_floor = sdmetrics_scores(real, simulated), sdmetrics_scores(half_a, half_b)
    return {
        "events": {"real": len(real), "simulated": len(simulated)},
        "users": {"real": int(real["User_ID"].nunique()), "simulated": int(simulated["User_ID"].nunique())},
        "overall_closeness": _number(overall(statistics)),
        "noise_floor_closeness": _number(overall(floor)),
        "detection_auc": _number(detection.auc),
        "noise_floor_detection_auc": _number(detection_auc(half_a, half_b)),
        "detection_importance": detection.importance,
        # The field's judge beside ours (`sdmetrics_scores.py`): the same scores between the halves are its floor.
        "sdmetrics": {**field_scores, **{f"noise_floor_{name}": value for name, value in field_floor.items()}},
        "statistics": statistics,
    }


def _number(value: float) -> float | None:
    """Rounded, or None where the log is too small to measure it (JSON has no NaN)."""
    return round(float(value), 4) if math.isfinite(value) else None
