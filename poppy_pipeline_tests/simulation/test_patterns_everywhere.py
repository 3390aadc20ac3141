"""Seed 000's patterns hold in every span, not only the default one.

Seeds 1-11 and 42, 30-day spans spread over the whole sign-up period (from the founding cohort
alone, about 75 users, to the full population of 100), and the first 7 days of each. The pure
core only, so the sweep takes seconds.
"""

from datetime import date, timedelta

import pandas as pd
import pytest

from poppy_pipeline.simulation import patterns
from poppy_pipeline.simulation.repeats import expected_repeat_share
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import make_model, simulate_window

pytestmark = pytest.mark.slow  # seconds per test: left out of make test-fast

SEEDS = [*range(1, 12), 42]
STARTS = [
    date(2025, 10, 1),
    date(2025, 11, 1),
    date(2025, 12, 1),
    date(2026, 3, 1),
    date(2026, 6, 1),
    date(2026, 11, 7),
    date(2027, 6, 1),
]
# A user's mean rating is a mean of their ratings in the window: a week gives most users one
# or two, so whether the correlation can be measured depends on the window's length.
LENGTH_DEPENDENT = {"rating_bias_correlation"}


def measure(settings, model, objects, users, window: pd.DataFrame, last_day: date, days: int) -> dict:
    return {
        "integrity": patterns.integrity(window, users, objects),
        "type_mix": patterns.type_mix(window, settings),
        "rating_distribution": patterns.rating_distribution(window),
        "rating_bias_correlation": patterns.rating_bias_correlation(window, users),
        "preferred_type_share": patterns.preferred_type_share(window, users, settings),
        "repeat_share": patterns.repeat_share(window, expected_repeat_share(model, last_day, days)),
        "activity_concentration": patterns.concentration(window, users, objects),
        "evening_peak": patterns.hour_profile(window),
        "volume": patterns.volume(
            window, model.expected_span_events(last_day - timedelta(days=d) for d in range(days))
        ),
    }


@pytest.fixture(scope="module")
def sweep() -> list[tuple[int, date, int, dict, float]]:
    rows = []
    for seed in SEEDS:
        settings = SimulationSettings(seed=seed)
        model, objects, users = make_model(settings)
        for start in STARTS:
            days = [start + timedelta(days=d) for d in range(30)]
            month = simulate_window(model, days)
            for length in (30, 7):
                window = month[month["Timestamp"] < pd.Timestamp(days[length - 1] + timedelta(days=1))]
                results = measure(settings, model, objects, users, window, days[length - 1], length)
                expected = expected_repeat_share(model, days[length - 1], length)
                rows.append((seed, start, length, results, expected))
    return rows


def failures(rows, length: int, exempt: set[str] = frozenset()) -> list[str]:
    return [
        f"seed {seed} {start} ({days} days): {result.describe()}"
        for seed, start, days, results, _ in rows
        if days == length
        for name, result in results.items()
        if name not in exempt and not result.passed
    ]


def test_every_pattern_holds_on_30_day_spans(sweep):
    assert failures(sweep, 30) == []


def test_repeat_target_is_reachable_in_every_30_day_span(sweep):
    # The check compares with the model's own expectation; that must be the configured 40%,
    # not a floor forced by a few users making all the traffic.
    for seed, start, days, _, expected in sweep:
        if days == 30:
            assert expected == pytest.approx(0.40, abs=1e-3), (seed, start)


def test_every_30_day_span_has_the_seeds_volume_and_high_ratings(sweep):
    # Seed 000: 10,000 interactions in 30 days, 3-5 stars in ≥ 80% of ratings, measured (no tolerance).
    for seed, start, days, results, _ in sweep:
        if days == 30:
            assert 8_500 <= results["volume"].value <= 11_500, (seed, start)
            assert results["rating_distribution"].details["share_3_to_5"] >= 0.80, (seed, start)


def test_span_length_free_patterns_hold_on_7_day_spans(sweep):
    assert failures(sweep, 7, exempt=LENGTH_DEPENDENT) == []


def test_length_dependent_patterns_hold_or_say_why_on_7_day_spans(sweep):
    for seed, start, days, results, _ in sweep:
        if days == 7:
            for name in LENGTH_DEPENDENT:
                result = results[name]
                assert result.passed or result.not_applicable, f"seed {seed} {start}: {result.describe()}"


def test_the_issue_windows():
    # seed 42, 2025-11: the top 10% of objects got 23.8%; seed 4242, 2025-12-01..07: 0.24.
    for seed, first, last in (
        (42, date(2025, 11, 1), date(2025, 11, 30)),
        (4242, date(2025, 12, 1), date(2025, 12, 7)),
    ):
        settings = SimulationSettings(seed=seed)
        model, objects, users = make_model(settings)
        days = [first + timedelta(days=d) for d in range((last - first).days + 1)]
        result = patterns.concentration(simulate_window(model, days), users, objects)
        assert result.passed, result.describe()
