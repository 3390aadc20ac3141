"""Layer 4's model: a small network that learns how much of a user's events to trust.

There is no truth to train on (it is never read by a model), so the network learns a task that only
a user's tastes can solve: given some of the user's events, where will the others fall? Each user's
events of the fitting days are dealt into `SLICES` random slices (`evidence.py`); an example is three
slices in and the fourth out, four examples per training user. The input is the user's lifts
(`models.hierarchical_scores`) at two strengths of shrinkage, plus how many events they have per
type; the output is a score per category: Layer 3's lift plus the network's correction, which, with
the log of the category's exposure, gives the softmax probability of the held-out slice's events (a
multinomial likelihood, weighted by its events). The correction starts at zero, so on little data
Layer 4 is Layer 3, and on more it learns from the data how far to move from the population for a
given amount of evidence: the rule for users with few events, learnt.

One hidden layer of `HIDDEN` ReLU units, Adam on full batches, stopped early on a fifth of the
examples kept aside (on little data, at the start: Layer 3 itself); at most `MAX_TRAINING_USERS`
users (drawn by the seed) train it, on one thread (threads fight over a shared machine's cores, and
these products are small).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.preferences.models import Population, Scorer, hierarchical_scores, per_type

HIDDEN = 64
EPOCHS = 200
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1e-3
MAX_TRAINING_USERS = 2_500
LIGHT_PRIOR, HEAVY_PRIOR = 3.0, 30.0  # pseudo-events of the two lifts the network reads
TINY = 1e-12
VALIDATION_SHARE = 0.2
CHECK_EVERY = 10


def features(counts: np.ndarray, population: Population) -> np.ndarray:
    """(users, 45): lifts shrunk lightly and heavily (NaN-free), and log events per type."""
    light = hierarchical_scores(counts, population, category_prior=LIGHT_PRIOR)
    heavy = hierarchical_scores(counts, population, category_prior=HEAVY_PRIOR)
    return np.hstack([np.nan_to_num(light), np.nan_to_num(heavy), np.log1p(per_type(counts))])


@dataclass
class Network:
    """Weights of the one-hidden-layer network, and the inputs' standardisation."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def correction(self, inputs: np.ndarray) -> np.ndarray:
        hidden = np.maximum((inputs - self.mean) / self.scale @ self.w1 + self.b1, 0.0)
        correction: NDArray[np.floating] = hidden @ self.w2 + self.b2
        return correction


def base_scores(counts: np.ndarray, population: Population) -> np.ndarray:
    """Layer 3's lifts, which the network corrects (0 for a category without objects)."""
    scores: NDArray[np.float64] = np.nan_to_num(hierarchical_scores(counts, population))
    return scores


def training_examples(slices: np.ndarray, population: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (other slices → one slice) example with events in the slice held out: inputs, base, targets."""
    inputs, bases, targets = [], [], []
    total = slices.sum(axis=2)
    for held in range(slices.shape[2]):
        target = slices[:, :, held]
        keep = target.sum(axis=1) > 0
        rest = total[keep] - target[keep]
        inputs.append(features(rest, population))
        bases.append(base_scores(rest, population))
        targets.append(target[keep])
    return np.vstack(inputs), np.vstack(bases), np.vstack(targets)


def train(inputs: np.ndarray, base: np.ndarray, targets: np.ndarray, exposure: np.ndarray, seed: int) -> Network:
    """Adam on the multinomial log-likelihood of the targets (full batches), stopped early: a
    `VALIDATION_SHARE` of the examples is kept aside, and the weights of the epoch (checked every
    `CHECK_EVERY`) with the lowest loss on it are kept, the starting ones (Layer 3) included."""
    rng = stream(seed, "preferences:network")
    validation = rng.random(len(inputs)) < VALIDATION_SHARE
    fitting = ~validation if (~validation).any() and validation.any() else np.ones(len(inputs), dtype=bool)
    mean, scale = inputs[fitting].mean(axis=0), inputs[fitting].std(axis=0) + 1e-9
    x = ((inputs - mean) / scale).astype(np.float32)  # single precision: twice the products per second
    width, categories = x.shape[1], targets.shape[1]
    params = [
        rng.normal(0.0, np.sqrt(2.0 / width), (width, HIDDEN)).astype(np.float32),
        np.zeros(HIDDEN, dtype=np.float32),
        np.zeros((HIDDEN, categories), dtype=np.float32),  # the correction starts at zero: Layer 3
        np.zeros(categories, dtype=np.float32),
    ]
    offset = (base + np.log(np.maximum(exposure, TINY))).astype(np.float32)
    targets = targets.astype(np.float32)
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    best, best_loss = [p.copy() for p in params], _loss(params, x[validation], offset[validation], targets[validation])
    for step in range(1, EPOCHS + 1):
        grads = _gradients(params, x[fitting], offset[fitting], targets[fitting])
        for i, grad in enumerate(grads):
            moments[i] = 0.9 * moments[i] + 0.1 * grad
            squares[i] = 0.999 * squares[i] + 0.001 * grad * grad
            corrected = moments[i] / (1 - 0.9**step)
            params[i] -= LEARNING_RATE * corrected / (np.sqrt(squares[i] / (1 - 0.999**step)) + 1e-8)
        if step % CHECK_EVERY == 0:
            loss = _loss(params, x[validation], offset[validation], targets[validation])
            if loss < best_loss:
                best, best_loss = [p.copy() for p in params], loss
    w1, b1, w2, b2 = best
    return Network(w1, b1, w2, b2, mean=mean, scale=scale)


def _probabilities(params: list[np.ndarray], x: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w1, b1, w2, b2 = params
    hidden = np.maximum(x @ w1 + b1, 0.0)
    logits = hidden @ w2 + b2 + offset
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    return hidden, probabilities / probabilities.sum(axis=1, keepdims=True)


def _loss(params: list[np.ndarray], x: np.ndarray, offset: np.ndarray, targets: np.ndarray) -> float:
    """Mean negative log-likelihood per event (0 without examples)."""
    if not len(x):
        return 0.0
    _, probabilities = _probabilities(params, x, offset)
    return float(-(targets * np.log(np.maximum(probabilities, TINY))).sum() / max(targets.sum(), TINY))


def _gradients(params: list[np.ndarray], x: np.ndarray, offset: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
    """Of the mean negative log-likelihood per event, plus weight decay on the weights."""
    w1, _, w2, _ = params
    hidden, probabilities = _probabilities(params, x, offset)
    events = targets.sum(axis=1, keepdims=True)
    error = (probabilities * events - targets) / max(events.sum(), TINY)
    back = (error @ w2.T) * (hidden > 0)
    return [x.T @ back + WEIGHT_DECAY * w1, back.sum(axis=0), hidden.T @ error + WEIGHT_DECAY * w2, error.sum(axis=0)]


def fit_network(slices: np.ndarray, exposure: np.ndarray, seed: int = 0) -> Scorer:
    """Layer 4: the network trained on (at most `MAX_TRAINING_USERS` of) the training users' slices."""
    population = Population.of(slices.sum(axis=2), exposure)
    if len(slices) > MAX_TRAINING_USERS:
        chosen = np.sort(stream(seed, "preferences:network_users").permutation(len(slices))[:MAX_TRAINING_USERS])
        slices = slices[chosen]
    inputs, base, targets = training_examples(slices, population)
    if not len(inputs):  # nobody has events in two slices: Layer 3
        return lambda counts: hierarchical_scores(counts, population)
    with threadpool_limits(1):
        network = train(inputs, base, targets, exposure, seed)

    def scores(counts: np.ndarray) -> np.ndarray:
        corrected = base_scores(counts, population) + network.correction(features(counts, population))
        return np.where(exposure > 0, corrected, np.nan)  # a category without objects: nothing learnt

    return scores
