"""The Poppy ML service's two models, as its description gives them."""

import numpy as np
import pytest

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.preferences.models import TYPE_OF_CATEGORY, TYPES
from poppy_pipeline.preferences.service_models import (
    FACTORS,
    SGD_LEARNING_RATE,
    SGD_REGULARISATION,
    one_hot_network,
    sgd_factorisation,
)

K = len(TYPE_OF_CATEGORY)


def pivot(users: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    strongest = np.where(rng.random((users, K)) < 0.3, rng.integers(1, 6, (users, K)), 0).astype(float)
    return strongest


def per_element(strongest: np.ndarray, seed: int, passes: int, wave_order: bool) -> np.ndarray:
    """The description's loop, one cell at a time in Python: users then categories, or in waves."""
    users = len(strongest)
    rng = stream(seed, "preferences:service_sgd")
    p, q = rng.random((users, TYPES, FACTORS)), rng.random((K, FACTORS))
    cells = [(i, j) for i in range(users) for j in range(K) if strongest[i, j] > 0]
    if wave_order:
        span = max(users, K)
        cells.sort(key=lambda cell: ((cell[1] - cell[0]) % span, cell[0]))
    for _ in range(passes):
        for i, j in cells:
            t = TYPE_OF_CATEGORY[j]
            error = strongest[i, j] - p[i, t] @ q[j]
            p[i, t] = p[i, t] + SGD_LEARNING_RATE * (2 * error * q[j] - SGD_REGULARISATION * p[i, t])
            q[j] = q[j] + SGD_LEARNING_RATE * (2 * error * p[i, t] - SGD_REGULARISATION * q[j])
    return np.einsum("utk,ck->uct", p, q)[:, np.arange(K), TYPE_OF_CATEGORY]


@pytest.mark.parametrize("users", [4, 30])
def test_the_waves_do_the_per_element_arithmetic_in_their_order(users):
    strongest = pivot(users, users)
    waves = sgd_factorisation(strongest, seed=2, passes=20)
    assert np.allclose(waves, per_element(strongest, 2, 20, wave_order=True), rtol=1e-12, atol=1e-12)


def test_the_service_s_own_order_fits_as_closely():
    strongest = pivot(30, 5)
    observed = strongest > 0
    ours = sgd_factorisation(strongest, seed=1, passes=300)
    theirs = per_element(strongest, 1, 300, wave_order=False)
    error = lambda fit: np.sqrt(np.mean((fit[observed] - strongest[observed]) ** 2))  # noqa: E731
    assert error(ours) < 0.8 and abs(error(ours) - error(theirs)) < 0.1


def test_the_one_hot_network_predicts_every_cell_within_1_to_5():
    rng = np.random.default_rng(0)
    rows = (rng.integers(0, 12, 200), rng.integers(0, K, 200), rng.integers(1, 6, 200).astype(float))
    predictions = one_hot_network(rows, 12, K, seed=3)
    assert predictions.shape == (12, K)
    assert predictions.min() >= 1 and predictions.max() <= 5
    assert np.array_equal(predictions, one_hot_network(rows, 12, K, seed=3))  # the seed decides
