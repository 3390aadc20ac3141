"""Layer 3's shrinkage rule, the popularity baseline and the engine's 0-10 values."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES, INDIFFERENCE
from poppy_pipeline.preferences.models import (
    TYPE_OF_CATEGORY,
    Population,
    engine_table,
    fit_hierarchical,
    fit_popularity,
    hierarchical_scores,
    preference_values,
)

K = len(ENGINE_CATEGORIES)
EXPOSURE = np.full(K, 1.0 / K)
RNG = np.random.default_rng(3)
POPULATION_EVENTS = RNG.poisson(5.0, size=(200, K, 4)).astype(float)


def test_a_user_without_events_gets_the_population_s_preferences():
    scores = fit_hierarchical(POPULATION_EVENTS, EXPOSURE)(np.zeros((1, K)))
    popular = fit_popularity(POPULATION_EVENTS, EXPOSURE)(np.zeros((1, K)))
    assert np.allclose(scores, popular)


def test_each_event_moves_a_user_from_the_population_towards_their_own_shares():
    population = Population.of(POPULATION_EVENTS.sum(axis=2), EXPOSURE)
    mine = np.zeros(K)
    mine[0] = 1.0  # they only ever look at A stars
    lifts = [hierarchical_scores(mine[None, :] * n, population)[0, 0] for n in (0, 3, 30, 3000)]
    assert lifts == sorted(lifts) and lifts[-1] > lifts[0] + 1.0
    # With many events, the user's own shares (type, then category) dominate: log(1 / exposure).
    assert abs(lifts[-1] - np.log(1 / EXPOSURE[0])) < 0.05
    stars = TYPE_OF_CATEGORY == 0
    others = hierarchical_scores(mine[None, :] * 3000, population)[0]
    assert (others[stars][1:] < lifts[-1]).all()


def test_a_category_without_objects_reads_indifferent():
    exposure = EXPOSURE.copy()
    exposure[3] = 0.0
    exposure /= exposure.sum()
    scores = fit_hierarchical(POPULATION_EVENTS, exposure)(POPULATION_EVENTS[:5].sum(axis=2))
    assert np.isnan(scores[:, 3]).all()
    assert (preference_values(scores)[:, 3] == INDIFFERENCE).all()


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (4, K), elements=st.floats(-30, 30)))
def test_values_are_0_to_10_with_the_median_category_at_indifference(scores):
    values = preference_values(scores)
    assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 10
    assert np.allclose(np.median(values, axis=1), INDIFFERENCE, atol=1e-3)
    order = np.argsort(scores, axis=1, kind="stable")
    assert (np.diff(np.take_along_axis(values, order, axis=1), axis=1) >= 0).all()  # the order is kept


def test_the_engine_table_has_user_id_first():
    table = engine_table(np.array([7, 9]), np.full((2, K), 5.0))
    assert table.columns[0] == "User_ID" and table["User_ID"].tolist() == [7, 9]
