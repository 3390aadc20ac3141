"""How sure the click model's gate can be: bootstrap intervals over users, champion against challenger.

The resampling is `user_bootstrap.py`'s (users drawn with replacement, as count rows; groups of
users past `MAX_GROUPS`): a week of 100 users is ~30 independent held-out draws, not ~15,000.

**The AUC of a resample, exactly and for all resamples at once.** The AUC is the share of
(positive, negative) window pairs ranked right, ties counting half. `pair_wins` counts those
pairs once per pair of users: `wins[u, v]` for u's positive windows against v's negative ones. A
resample that draws user u `c[u]` times has AUC `c·wins·c / ((c·positives)(c·negatives))`: two
quadratic forms, evaluated for every resample as matrix products. Model and oracle (or champion
and challenger) on the same resamples give paired intervals: their shared noise (which users
happen to be drawn) cancels in the ratio or difference.

**The verdicts.** A check fails only when the data show the bar is missed: the whole 90%
interval on the wrong side of it (`Interval.below`, `Interval.outside`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from poppy_pipeline.click_model import onnx_export
from poppy_pipeline.click_model import training as core
from poppy_pipeline.common.user_bootstrap import LEVEL, RESAMPLES, Interval, resampling_units, user_resamples

# Positive windows × users per block of `pair_wins` (a few MB of int64).
BLOCK_CELLS = 500_000


def _resamples(count: int, seed: int, name: str) -> np.ndarray:
    return user_resamples(count, seed, f"click_model:bootstrap:{name}")


def pair_wins(scores: np.ndarray, labels: np.ndarray, users: np.ndarray, user_count: int) -> np.ndarray:
    """(G, G): pairs of u's positive and v's negative windows that `scores` rank right (ties: half).

    Negatives are sorted by (user, score rank); each positive window looks up, for every user at
    once, how many of that user's negatives rank below it and how many tie (`searchsorted`).
    """
    ranks = np.unique(scores, return_inverse=True)[1].astype(np.int64)
    span = int(ranks.max()) + 1 if len(ranks) else 1
    negative = labels == 0
    keys = np.sort(users[negative].astype(np.int64) * span + ranks[negative])
    user_base = np.arange(user_count, dtype=np.int64) * span
    starts = np.searchsorted(keys, user_base)
    order = np.argsort(users[~negative], kind="stable")
    positive_users, positive_ranks = users[~negative][order], ranks[~negative][order]
    wins = np.zeros((user_count, user_count))
    block = max(1, BLOCK_CELLS // max(user_count, 1))
    for first in range(0, len(positive_ranks), block):
        queries = user_base[None, :] + positive_ranks[first : first + block, None]
        below = np.searchsorted(keys, queries, side="left") - starts
        ties = np.searchsorted(keys, queries, side="right") - starts - below
        block_users = positive_users[first : first + block]
        owners, segment_starts = np.unique(block_users, return_index=True)
        wins[owners] += np.add.reduceat(below + 0.5 * ties, segment_starts, axis=0)
    return wins


def resampled_aucs(scores: np.ndarray, labels: np.ndarray, users: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The AUC of `scores` on every resample (rows of `counts`); NaN where a resample lacks a class."""
    user_count = counts.shape[1]
    wins = pair_wins(np.asarray(scores), np.asarray(labels), users, user_count)
    positives = np.bincount(users, weights=labels, minlength=user_count)
    negatives = np.bincount(users, minlength=user_count) - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        aucs: NDArray[np.float64] = ((counts @ wins) * counts).sum(axis=1) / (
            (counts @ positives) * (counts @ negatives)
        )
        return aucs


@dataclass(frozen=True)
class HeldOutIntervals:
    """The held-out AUC and, where there is an oracle, its ratio to the oracle's AUC."""

    auc: Interval
    oracle_auc: Interval | None
    ratio: Interval | None


def held_out_intervals(
    labels: np.ndarray, model: np.ndarray, oracle: np.ndarray | None, user_ids: np.ndarray, seed: int
) -> HeldOutIntervals:
    """Paired bootstrap of the model's and the oracle's AUC on the held-out users."""
    users, count = resampling_units(user_ids, seed)
    counts = _resamples(count, seed, "held_out")
    full = np.ones((1, count))
    model_aucs = resampled_aucs(model, labels, users, np.vstack([full, counts]))
    auc = Interval.of(model_aucs[0], model_aucs[1:])
    if oracle is None:
        return HeldOutIntervals(auc, None, None)
    oracle_aucs = resampled_aucs(oracle, labels, users, np.vstack([full, counts]))
    ratios = model_aucs / oracle_aucs
    return HeldOutIntervals(auc, Interval.of(oracle_aucs[0], oracle_aucs[1:]), Interval.of(ratios[0], ratios[1:]))


def calibration_interval(labels: np.ndarray, predictions: np.ndarray, user_ids: np.ndarray, seed: int) -> Interval:
    """(mean prediction − base rate) / base rate, signed, with its interval over users."""
    users, count = resampling_units(user_ids, seed)
    predicted = np.bincount(users, weights=predictions, minlength=count)
    observed = np.bincount(users, weights=labels, minlength=count)
    counts = np.vstack([np.ones((1, count)), _resamples(count, seed, "calibration")])
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = (counts @ predicted - counts @ observed) / (counts @ observed)
    return Interval.of(errors[0], errors[1:])


def compare_with_champion(
    labels: np.ndarray, challenger: np.ndarray, champion: np.ndarray, user_ids: np.ndarray, seed: int
) -> dict[str, Any]:
    """AUC of challenger − champion on the same windows, paired over the same resampled users.

    The challenger is `rejected` when the whole interval of the difference lies below 0.
    """
    users, count = resampling_units(user_ids, seed)
    counts = np.vstack([np.ones((1, count)), _resamples(count, seed, "champion")])
    new, old = (resampled_aucs(s, labels, users, counts) for s in (challenger, champion))
    difference = Interval.of(new[0] - old[0], new[1:] - old[1:])
    return {
        "challenger_auc": float(new[0]),
        "champion_auc": float(old[0]),
        "auc_difference": difference.estimate,
        "auc_difference_interval": difference.as_list(),
        "rejected": difference.below(0.0),
    }


def gate_report(result: core.TrainingResult, seed: int) -> dict[str, Any]:
    """The intervals the checks judge: held-out AUC, its ratio to the oracle's, the calibration bias."""
    held_out = result.held_out
    intervals = held_out_intervals(
        held_out["Label"].to_numpy(dtype=np.int64),
        held_out["Probability"].to_numpy(dtype=np.float64),
        core.oracle_probabilities(held_out),
        held_out["User_ID"].to_numpy(),
        seed,
    )
    unseen = result.unseen
    calibration = calibration_interval(
        unseen["Label"].to_numpy(dtype=np.float64),
        unseen["Probability"].to_numpy(dtype=np.float64),
        unseen["User_ID"].to_numpy(),
        seed,
    )
    return {
        "held_out_auc_interval": intervals.auc.as_list(),
        "oracle_auc_interval": intervals.oracle_auc.as_list() if intervals.oracle_auc else None,
        "auc_ratio_interval": intervals.ratio.as_list() if intervals.ratio else None,
        "calibration_bias": calibration.estimate,
        "calibration_bias_interval": calibration.as_list(),
        "bootstrap": {"resamples": RESAMPLES, "level": LEVEL, "unit": "user", "seed": int(seed)},
    }


def auc_passes(report: dict[str, Any], min_auc: float) -> bool:
    """Fails only when the whole interval of the held-out AUC lies below `min_auc`."""
    return not Interval.from_report(report, "held_out_auc").below(min_auc)


def oracle_ratio_passes(report: dict[str, Any], min_ratio: float) -> bool:
    """Fails only when the whole interval of AUC / oracle AUC lies below `min_ratio` (no oracle: passes)."""
    return report["auc_ratio"] is None or not Interval.from_report(report, "auc_ratio").below(min_ratio)


def calibration_passes(report: dict[str, Any], max_error: float) -> bool:
    """Fails only when the whole interval of the relative calibration bias lies beyond ±`max_error`."""
    return not Interval.from_report(report, "calibration_bias").outside(max_error)


# --- champion and challenger -------------------------------------------------------------------


def onnx_properties(payload: bytes) -> dict[str, str]:
    """The metadata properties of an ONNX file (raises on bytes that are not one)."""
    import onnx

    return {p.key: p.value for p in onnx.load_from_string(payload).metadata_props}


def incomparable(champion: bytes, challenger: core.TrainedModel) -> str | None:
    """Why the shipped model cannot be scored on the challenger's windows, or None."""
    try:
        properties = onnx_properties(champion)
    except Exception as error:  # a damaged file: nothing worth keeping
        return f"the shipped ONNX file cannot be read ({error})"
    names = json.loads(properties.get("feature_names", "null"))
    if names != list(challenger.feature_names):
        return f"the shipped model reads other features ({names})"
    window = challenger.window.settings()
    for key in ("window_seconds", "step_seconds", "horizon_seconds"):
        if properties.get(key) is None or float(properties[key]) != float(window[key]):
            return f"the shipped model was trained on other windows ({key} {properties.get(key)}, now {window[key]})"
    return None


def challenge(champion: bytes, challenger: core.TrainedModel, held_out: pd.DataFrame) -> dict[str, Any]:
    """The shipped model (`champion`, ONNX) against the new one, both through onnxruntime on `held_out`."""
    reason = incomparable(champion, challenger)
    if reason:
        return {"compared": False, "reason": reason, "rejected": False}
    features = core.feature_matrix(held_out)
    labels = held_out["Label"].to_numpy(dtype=np.int64)
    new = onnx_export.onnx_probabilities(challenger.onnx_bytes(), features)
    old = onnx_export.onnx_probabilities(champion, features)
    comparison = compare_with_champion(labels, new, old, held_out["User_ID"].to_numpy(), challenger.seed)
    return {
        "compared": True,
        "champion_training_window": onnx_properties(champion).get("training_window"),
        "windows": len(labels),
        **comparison,
    }


# --- the ONNX contract -------------------------------------------------------------------------

VALID_CHECK = "onnx_valid"
SIZE_CHECK = "onnx_size"
PARITY_CHECK = "onnx_parity"
MAX_ONNX_BYTES = 50_000


@dataclass(frozen=True)
class Verdict:
    """One check's verdict and the plain values it was judged on."""

    passed: bool
    measures: dict[str, Any]


def onnx_verdicts(payload: bytes, parity: onnx_export.Parity, feature_names: list[str]) -> dict[str, Verdict]:
    """The ONNX file's three checks: valid and within the contract, small, equal to the pipeline's output."""
    problems = onnx_problems(payload, feature_names)
    return {
        VALID_CHECK: Verdict(not problems, {"problems": problems}),
        SIZE_CHECK: Verdict(len(payload) < MAX_ONNX_BYTES, {"size_bytes": len(payload), "max": MAX_ONNX_BYTES}),
        PARITY_CHECK: Verdict(
            parity.passed,
            {
                "max_abs_error": parity.max_abs_error,
                "error_ratio": parity.max_error_ratio,
                "max_ratio": 1.0,
                "windows": parity.rows,
                "ulps": onnx_export.PARITY_ULPS,
            },
        ),
    }


def onnx_problems(payload: bytes, feature_names: list[str]) -> list[str]:
    """What breaks the ONNX contract (empty when it holds), `onnx.checker` first."""
    import onnx

    model = onnx.load_from_string(payload)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:
        return [f"onnx.checker: {error}"]
    problems = []
    inputs = [
        (i.name, i.type.tensor_type.elem_type, [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim])
        for i in model.graph.input
    ]
    if len(inputs) != 1 or inputs[0][0] != onnx_export.INPUT_NAME or inputs[0][1] != onnx.TensorProto.FLOAT:
        problems.append(f"input is {inputs}, expected one float32 {onnx_export.INPUT_NAME}")
    elif inputs[0][2][1:] != [len(feature_names)]:
        problems.append(f"input shape {inputs[0][2]}, expected [None, {len(feature_names)}]")
    outputs = [o.name for o in model.graph.output]
    if outputs != ["label", "probabilities"]:
        problems.append(f"outputs {outputs}, expected ['label', 'probabilities']")
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", opsets.get("ai.onnx")) != onnx_export.TARGET_OPSET:
        problems.append(f"opset {opsets}, expected {onnx_export.TARGET_OPSET}")
    properties = {p.key: p.value for p in model.metadata_props}
    if json.loads(properties.get("feature_names", "null")) != list(feature_names):
        problems.append("metadata property feature_names is not the training order")
    return problems
