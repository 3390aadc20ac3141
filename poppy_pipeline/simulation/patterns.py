"""Measure the patterns seed 000 claims, on any frame of interactions taken as one span.

Each function returns a `PatternResult` (`pattern_results.py`): the measured value, the target,
and whether it holds. The tests assert them; the asset measures its span a day at a time with the
accumulator these functions use on a single frame (`span_patterns.SpanPatterns`), so both give the
same figures. Share-type tolerances widen to four standard errors when the span is too small for
the spec's tolerance to be meaningful. A pattern that a span cannot measure at all says so
(`not_applicable`, with the reason) instead of passing or failing.
"""

from __future__ import annotations

import pandas as pd

from poppy_pipeline.simulation.pattern_results import PatternResult
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.span_patterns import SpanPatterns


def _one_span(
    measure: str,
    interactions: pd.DataFrame,
    settings: SimulationSettings | None = None,
    users: pd.DataFrame | None = None,
    objects: pd.DataFrame | None = None,
) -> SpanPatterns:
    patterns = SpanPatterns(settings, users, objects, measures=[measure])
    patterns.add_day(interactions)
    return patterns


def type_mix(interactions: pd.DataFrame, settings: SimulationSettings) -> PatternResult:
    return _one_span("type_mix", interactions, settings).type_mix()


def rating_distribution(interactions: pd.DataFrame) -> PatternResult:
    return _one_span("rating_distribution", interactions).rating_distribution()


def rating_bias_correlation(interactions: pd.DataFrame, users: pd.DataFrame) -> PatternResult:
    return _one_span("rating_bias_correlation", interactions, users=users).rating_bias_correlation()


def preferred_type_share(
    interactions: pd.DataFrame, users: pd.DataFrame, settings: SimulationSettings
) -> PatternResult:
    return _one_span("preferred_type_share", interactions, settings, users).preferred_type_share()


def repeat_share(interactions: pd.DataFrame, expected: float) -> PatternResult:
    """Share of events that, in timestamp order, repeat an earlier (user, type, object)."""
    return _one_span("repeat_share", interactions).repeat_share(expected)


def volume(interactions: pd.DataFrame, expected: float) -> PatternResult:
    """The frame's interactions against the number the model expects (model.expected_events summed)."""
    return _one_span("volume", interactions).volume(expected)


def concentration(interactions: pd.DataFrame, users: pd.DataFrame, objects: pd.DataFrame) -> PatternResult:
    """The busiest tenth of the users signed up by the span's last day, and of the catalog's objects."""
    return _one_span("activity_concentration", interactions, users=users, objects=objects).activity_concentration()


def hour_profile(interactions: pd.DataFrame) -> PatternResult:
    return _one_span("evening_peak", interactions).evening_peak()


def integrity(
    interactions: pd.DataFrame, users: pd.DataFrame, objects: pd.DataFrame, check_signup: bool = True
) -> PatternResult:
    """Every object and user exists, no user acts before signing up, IDs are unique."""
    return _one_span("integrity", interactions, users=users, objects=objects).integrity(check_signup)
