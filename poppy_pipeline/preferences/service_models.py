"""The Poppy ML service's two models, re-implemented from their description, as baselines.

Both read only the back end's signal: a `Like` (strength 1) or a `Rate` (strength = the rating) per
user and category (`evidence.Evidence.strongest` and `like_rows`).

- **Layer 3, SGD matrix factorisation.** Per object type, the users × categories pivot of the largest
  strength (0 where none) is factorised as P·Qᵀ with K = 7 (P, Q uniform in [0, 1)), by per-element
  SGD: for every cell holding a strength, e = r - p·q, then p += 0.01 · (2e·q - 0.02·p) and
  q += 0.01 · (2e·p - 0.02·q), 1,500 passes over every user and category; the reconstruction is the
  prediction. The service loops over users, then categories, in Python. Here each pass visits the
  same cells in diagonal waves (cell (i, j) in wave (j - i) mod max(users, 21)): a wave holds at
  most one cell per user and type and one per category, so its updates touch disjoint rows of P and
  Q and run as one vectorised step with exactly the per-element arithmetic; only the order of the
  cells within a pass differs. (`benchmarks/bench_preferences.py` times the service's own loop.)
- **Layer 4, a one-hot network.** One-hot user and one-hot category into 64-32-16 ReLU layers and a
  sigmoid output, trained on the min-max-scaled strengths of the individual events by 500 epochs of
  full-batch gradient descent (learning rate 0.01, mean squared error, He-initialised weights) on a
  random 80% of the rows (the other 20% is the service's validation split); the prediction for every
  user and category, scaled back, clipped to 1-5. The one-hot inputs are stored sparse: the same
  products as with dense one-hot vectors.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.preferences.models import TYPE_OF_CATEGORY, TYPES

FACTORS = 7
SGD_LEARNING_RATE = 0.01
SGD_REGULARISATION = 0.02
SGD_PASSES = 1_500
NETWORK_LAYERS = (64, 32, 16)
NETWORK_EPOCHS = 500
NETWORK_LEARNING_RATE = 0.01
TRAINING_SHARE = 0.8
PREDICTION_RANGE = (1.0, 5.0)


def sgd_factorisation(strongest: np.ndarray, seed: int, passes: int = SGD_PASSES) -> np.ndarray:
    """(users, 21) reconstruction of each type's pivot of strengths (`strongest`, 0 where none)."""
    users, categories = strongest.shape
    rng = stream(seed, "preferences:service_sgd")
    p = rng.random((users, TYPES, FACTORS))
    q = rng.random((categories, FACTORS))
    waves = _waves(strongest)
    for _ in range(passes):
        for rows, columns, types, values in waves:
            p_cell, q_cell = p[rows, types], q[columns]
            error = values - np.einsum("ck,ck->c", p_cell, q_cell)
            p_cell = p_cell + SGD_LEARNING_RATE * (2 * error[:, None] * q_cell - SGD_REGULARISATION * p_cell)
            q[columns] = q_cell + SGD_LEARNING_RATE * (2 * error[:, None] * p_cell - SGD_REGULARISATION * q_cell)
            p[rows, types] = p_cell
    predicted: NDArray[np.float64] = np.einsum("utk,ck->uct", p, q)[:, np.arange(categories), TYPE_OF_CATEGORY]
    return predicted


def _waves(strongest: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The cells holding a strength, in diagonal waves of disjoint users and categories."""
    users, categories = strongest.shape
    span = max(users, categories)
    rows, columns = np.nonzero(strongest > 0)
    wave = (columns - rows) % span
    order = np.lexsort((rows, wave))
    rows, columns, wave = rows[order], columns[order], wave[order]
    starts = np.flatnonzero(np.diff(wave, prepend=-1))
    bounds = np.append(starts, len(wave))
    return [
        (rows[a:b], columns[a:b], TYPE_OF_CATEGORY[columns[a:b]], strongest[rows[a:b], columns[a:b]])
        for a, b in pairwise(bounds)
    ]


def one_hot_network(
    like_rows: tuple[np.ndarray, np.ndarray, np.ndarray], users: int, categories: int, seed: int
) -> np.ndarray:
    """(users, categories) predictions, 1-5, of the service's network trained on the events' strengths."""
    user, category, strength = like_rows
    if not len(strength):
        return np.full((users, categories), PREDICTION_RANGE[0])
    low, high = float(strength.min()), float(strength.max())
    target = (strength - low) / (high - low) if high > low else np.full(len(strength), 0.5)
    rng = stream(seed, "preferences:service_network")
    training = rng.permutation(len(strength))[: max(1, int(TRAINING_SHARE * len(strength)))]
    widths = [users + categories, *NETWORK_LAYERS, 1]
    weights = [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)) for a, b in pairwise(widths)]
    biases = [np.zeros(b) for b in widths[1:]]
    inputs = _one_hot(user[training], category[training], users, categories)
    for _ in range(NETWORK_EPOCHS):
        _gradient_step(weights, biases, inputs, target[training])
    grid_users, grid_categories = np.meshgrid(np.arange(users), np.arange(categories), indexing="ij")
    grid = _one_hot(grid_users.ravel(), grid_categories.ravel(), users, categories)
    scaled = _forward(weights, biases, grid)[-1][:, 0]
    return np.clip(scaled * (high - low) + low, *PREDICTION_RANGE).reshape(users, categories)


def _one_hot(user: np.ndarray, category: np.ndarray, users: int, categories: int) -> sparse.csr_matrix:
    """The service's input rows: a one for the user, a one for the category (stored sparse)."""
    rows = np.repeat(np.arange(len(user)), 2)
    columns = np.column_stack([user, users + category]).ravel()
    return sparse.csr_matrix((np.ones(len(columns)), (rows, columns)), shape=(len(user), users + categories))


def _forward(weights: list[np.ndarray], biases: list[np.ndarray], inputs: sparse.csr_matrix) -> list[np.ndarray]:
    """Each layer's output."""
    outputs = [np.maximum(inputs @ weights[0] + biases[0], 0.0)]
    for w, b in zip(weights[1:-1], biases[1:-1], strict=True):
        outputs.append(np.maximum(outputs[-1] @ w + b, 0.0))
    outputs.append(1.0 / (1.0 + np.exp(-(outputs[-1] @ weights[-1] + biases[-1]))))
    return outputs


def _gradient_step(
    weights: list[np.ndarray], biases: list[np.ndarray], inputs: sparse.csr_matrix, target: np.ndarray
) -> None:
    """One full-batch step of gradient descent on the mean squared error."""
    outputs = _forward(weights, biases, inputs)
    prediction = outputs[-1]
    delta = 2.0 * (prediction - target[:, None]) / len(target) * prediction * (1.0 - prediction)
    for layer in range(len(weights) - 1, -1, -1):
        below = inputs if layer == 0 else outputs[layer - 1]
        grad_w, grad_b = below.T @ delta, delta.sum(axis=0)
        if layer:
            delta = (delta @ weights[layer].T) * (below > 0)
        weights[layer] -= NETWORK_LEARNING_RATE * grad_w
        biases[layer] -= NETWORK_LEARNING_RATE * grad_b
