"""The measures: per-user Spearman, NDCG@3 of the true top three, held-out Like AUC; the verdict."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import spearmanr

from poppy_pipeline.preferences.evaluation import (
    POPULARITY,
    Judged,
    beats_popularity,
    held_out_like_auc,
    ndcg_at_top,
    spearman_per_user,
)


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # a constant row: 0 here, NaN there
@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, (3, 8), elements=st.integers(0, 5).map(float)),
    arrays(np.float64, (3, 8), elements=st.floats(0, 10)),
)
def test_spearman_per_user_is_scipy_s_row_by_row(predicted, truth):
    mine = spearman_per_user(predicted, truth)
    for row in range(3):
        expected = spearmanr(predicted[row], truth[row])[0]
        assert mine[row] == pytest.approx(0.0 if np.isnan(expected) else expected, abs=1e-9)


def test_ndcg_rewards_the_true_top_three_first():
    truth = np.array([[9.0, 8.0, 7.0, 1.0, 2.0, 3.0]])
    assert ndcg_at_top(truth, truth)[0] == pytest.approx(1.0)
    assert ndcg_at_top(-truth, truth)[0] == 0.0
    two_of_three = np.array([[9.0, 8.0, 1.0, 7.0, 2.0, 3.0]])  # third place wrong
    discount = 1 / np.log2([2, 3, 4])
    assert ndcg_at_top(two_of_three, truth)[0] == pytest.approx(discount[:2].sum() / discount.sum())


def test_held_out_like_auc_against_a_random_catalog_object():
    exposure = np.array([0.5, 0.25, 0.25])
    predicted = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    likes = np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    auc = held_out_like_auc(predicted, likes, exposure)
    # a Like on the top category beats 75% of objects and ties 25%; on the bottom one it ties 50%
    assert auc[0] == pytest.approx(0.75 + 0.125) and auc[1] == pytest.approx(0.25)
    assert auc[2] == pytest.approx(0.5)  # all tied
    assert np.isnan(held_out_like_auc(predicted[:1], np.zeros((1, 3)), exposure)[0])


def judged(spearman: float, ndcg: float, auc: float, users: int = 20) -> Judged:
    values = np.zeros((users, 3))
    return Judged(np.arange(users), values, None, np.full(users, spearman), np.full(users, ndcg), np.full(users, auc))


def test_the_verdict_needs_both_truth_measures_and_enough_users():
    results = {POPULARITY: judged(0.3, 0.3, 0.6), "model": judged(0.5, 0.6, 0.7)}
    assert beats_popularity("model", results).passed
    results["model"] = judged(0.5, 0.2, 0.7)
    verdict = beats_popularity("model", results)
    assert not verdict.passed and "ndcg_at_3" in verdict.message
    without_truth = {POPULARITY: judged(np.nan, np.nan, 0.6), "model": judged(np.nan, np.nan, 0.55)}
    assert not beats_popularity("model", without_truth).passed  # judged on the held-out Like AUC
    few = {POPULARITY: judged(0.3, 0.3, 0.6, users=5), "model": judged(0.1, 0.1, 0.5, users=5)}
    verdict = beats_popularity("model", few)
    assert verdict.passed and not verdict.applicable
