"""Seed 000's claimed patterns as verdicts: `PatternResult`, the targets and tolerances they are judged by.

`span_patterns.SpanPatterns` measures a span and returns a `PatternResult` per pattern (the
measured value, the target, whether it holds, or why the span cannot measure it); `patterns.py`
measures one frame with it, and seed 001's targets (`behaviour/window_targets.py`) use the same
verdict. Share-type tolerances widen to four standard errors when the span is too small for the
spec's tolerance to mean anything (`tolerance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TYPE_MIX_TOLERANCE = 0.02
HIGH_RATING_MIN_SHARE = 0.80
RATING_BIAS_MIN_CORRELATION = 0.5
# A user's mean of five ratings varies by about 0.45 stars around their own, less than the biases
# it is compared with (sd 0.625); of three it varied by 0.58, and weeks of 10-20 such users failed
# the bar by chance (8 of 240 weeks, seeds 1-40), though every 30-day span held it.
RATING_BIAS_MIN_RATINGS = 5
# Below this many users a correlation's standard error (≈ 1/√(n − 3) > 0.37) spans the whole
# range the claim is about; a week rarely has that many users with five ratings.
RATING_BIAS_MIN_USERS = 10
PREFERRED_TYPE_TOLERANCE = 0.05
REPEAT_SHARE_TOLERANCE = 0.05
TOP_DECILE_MIN_SHARE = 0.30
EVENING_MIN_SHARE = 0.35
NIGHT_MAX_SHARE = 0.20
STANDARD_ERRORS = 4.0
# Seed 000's headline volume (10,000 interactions in 30 days) within this share of what the model expects.
VOLUME_TOLERANCE = 0.15
MEASURES = (
    "integrity",
    "type_mix",
    "rating_distribution",
    "rating_bias_correlation",
    "preferred_type_share",
    "repeat_share",
    "activity_concentration",
    "evening_peak",
    "volume",
)
# Seed 000's claims that are constants of its world, not settings: a fitted world does not make them.
SEED_CLAIMS = ("rating_distribution", "rating_bias_correlation", "activity_concentration", "evening_peak")


@dataclass
class PatternResult:
    name: str
    passed: bool
    value: float
    target: str
    details: dict[str, Any] = field(default_factory=dict)
    not_applicable: str | None = None  # why the span cannot measure it; None when it can

    def describe(self) -> str:
        if self.not_applicable:
            return f"{self.name} not applicable: {self.not_applicable}"
        verdict = "holds" if self.passed else "FAILS"
        return f"{self.name} {verdict}: measured {self.value:.4f}, target {self.target}"


def tolerance(spec: float, share: float, n: int) -> float:
    if n == 0:
        return math.inf
    return max(spec, STANDARD_ERRORS * math.sqrt(max(share * (1 - share), 1e-12) / n))


def top_decile_share(counts: pd.Series, population: int) -> float:
    """Share of all events made by the busiest 10% of `population` members."""
    if population == 0 or counts.sum() == 0:
        return 0.0
    top = max(1, math.ceil(population / 10))
    values = counts.to_numpy()
    busiest = values if top >= len(values) else np.partition(values, len(values) - top)[len(values) - top :]
    return float(busiest.sum() / counts.sum())  # a partition, not a sort: the same members


def integrity_result(problems: np.ndarray, events: int, distinct_ids: int, check_signup: bool) -> PatternResult:
    """The integrity verdict from its counts: unknown objects, unknown users, events before sign-up
    (`problems`), and the events against their distinct Interaction_IDs."""
    unknown_objects, unknown_users, before_signup = (int(count) for count in problems)
    before_signup = before_signup if check_signup else 0
    duplicate_ids = events - distinct_ids
    total = unknown_objects + unknown_users + before_signup + duplicate_ids
    rules = "unknown objects, unknown users, events before sign-up" if check_signup else "unknown objects, users"
    return PatternResult(
        "integrity",
        total == 0,
        float(total),
        f"0 {rules} and duplicate Interaction_IDs",
        {
            "unknown_objects": unknown_objects,
            "unknown_users": unknown_users,
            **({"events_before_signup": before_signup} if check_signup else {}),
            "duplicate_interaction_ids": duplicate_ids,
            "events": events,
        },
    )
