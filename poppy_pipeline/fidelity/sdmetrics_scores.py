"""The field's own judge beside ours: SDMetrics (the Synthetic Data Vault's metrics library, MIT).

Both logs are flattened into one table of events: event type, rating, hour, weekday, the user's
event count and the object's event count in its own log. SDMetrics' QualityReport scores column
shapes (KS and total-variation complements) and pair trends (correlation and contingency
similarity, on the pairs the real log associates), and LogisticDetection (1 − how well a
logistic regression tells the tables apart, 1 = not at all). The same scores between the log's
two halves are the noise floor. At most `MAX_EVENTS` events a side are scored (a seeded sample
of events; the counts are the whole log's), so the report's time does not grow with the log.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

MAX_EVENTS = 10_000
SAMPLE_SEED = 29
METADATA = {
    "tables": {
        "events": {
            "columns": {
                "event_type": {"sdtype": "categorical"},
                "rating": {"sdtype": "categorical"},
                "hour": {"sdtype": "categorical"},
                "weekday": {"sdtype": "categorical"},
                "user_events": {"sdtype": "numerical"},
                "object_events": {"sdtype": "numerical"},
            }
        }
    }
}


def flattened(events: pd.DataFrame, seed: int = SAMPLE_SEED) -> pd.DataFrame:
    """One row per event (a seeded sample of MAX_EVENTS above it): the columns of METADATA."""
    user_events = events.groupby("User_ID")["User_ID"].transform("size").to_numpy(float)
    object_events = events.groupby(["Object_Type", "Object_ID"], observed=True)["User_ID"].transform("size")
    ratings = pd.to_numeric(events["Interaction_Rating"], errors="coerce").to_numpy(float)
    labels = np.array(["none", "1", "2", "3", "4", "5"])
    stars = np.where(np.isin(ratings, [1, 2, 3, 4, 5]), np.nan_to_num(ratings), 0).astype(np.int64)
    table = pd.DataFrame(
        {
            "event_type": events["Interaction_Type"].astype(str).to_numpy(),
            "rating": labels[stars],
            "hour": events["Timestamp"].dt.hour.astype(str).to_numpy(),
            "weekday": events["Timestamp"].dt.day_of_week.astype(str).to_numpy(),
            "user_events": user_events,
            "object_events": object_events.to_numpy(float),
        }
    )
    if len(table) <= MAX_EVENTS:
        return table
    # Events of every user, not whole users: SDMetrics takes rows as independent, and a sample of a
    # few dozen users' events shows their personal hours and days as associations between columns.
    kept = np.sort(np.random.default_rng(seed).choice(len(table), MAX_EVENTS, replace=False))
    return table.iloc[kept].reset_index(drop=True)


def sdmetrics_scores(real: pd.DataFrame, simulated: pd.DataFrame) -> dict[str, float | None]:
    """QualityReport (overall, column shapes, pair trends) and LogisticDetection of `simulated` against `real`."""
    from sdmetrics.reports import QualityReport  # imported here: the definitions load without it
    from sdmetrics.single_table import LogisticDetection

    a, b = flattened(real), flattened(simulated)
    if len(a) < 2 or len(b) < 2:
        return {"quality": None, "column_shapes": None, "column_pair_trends": None, "logistic_detection": None}
    with warnings.catch_warnings():  # its deprecation and convergence notices are not the report's
        warnings.simplefilter("ignore")
        report = QualityReport()
        report.generate({"events": a}, {"events": b}, METADATA, verbose=False)
        properties = report.get_properties().set_index("Property")["Score"]
        try:
            detection = LogisticDetection.compute(a, b, METADATA["tables"]["events"])
        except ValueError:  # its encoder knows only the real table's values: a small log lacks some hours
            detection = None
    return {
        "quality": _number(report.get_score()),
        "column_shapes": _number(properties.get("Column Shapes")),
        "column_pair_trends": _number(properties.get("Column Pair Trends")),
        "logistic_detection": _number(detection),
    }


def _number(value: Any) -> float | None:  # an SDMetrics score: untyped, a number or not one
    """Rounded, or None where SDMetrics had nothing to score (JSON has no NaN)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 4) if math.isfinite(number) else None
