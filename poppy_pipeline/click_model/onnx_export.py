"""The click model as ONNX: exported with its metadata, evaluated by onnxruntime, checked for parity.

`export_onnx` writes the fitted scikit-learn pipeline as the ONNX file `click_model_onnx` publishes
(input `float_input` float32 [None, 20]; outputs `label`, `probabilities`; opsets sorted so that the
same model gives the same bytes in every process) with metadata properties the browser bundle reads
(the feature order, the window settings, the training window). `onnx_parity` compares onnxruntime's
probabilities with scikit-learn's on the same float32-rounded rows, within a tolerance that grows
with each row's terms (`PARITY_ULPS`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from poppy_pipeline.behaviour.features import FEATURE_NAMES

# scikit-learn, skl2onnx and onnxruntime are imported where they are used (see training.py).
if TYPE_CHECKING:
    from onnx import ModelProto
    from sklearn.pipeline import Pipeline

INPUT_NAME = "float_input"
TARGET_OPSET = 17
# ONNX parity: float32 evaluation may move a window's logit by this many float32 ulps of the sum of
# its terms' magnitudes (measured worst: 2 on 733,000 windows), and its probability by as many ulps.
PARITY_ULPS = 32


def to_onnx_model(model: Pipeline, properties: dict[str, str], feature_count: int = len(FEATURE_NAMES)) -> ModelProto:
    """The pipeline as ONNX: input `float_input` float32 [None, 20]; outputs `label`, `probabilities`."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model: ModelProto = to_onnx(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, feature_count]))],
        target_opset=TARGET_OPSET,
        options={id(model): {"zipmap": False}},
    )
    for key, value in properties.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    # skl2onnx lists the opsets in the order of a set of strings, which varies with the hash seed:
    # sorted, the same model gives the same bytes in every process.
    opsets = sorted((entry.domain, entry.version) for entry in onnx_model.opset_import)
    del onnx_model.opset_import[:]
    for domain, version in opsets:
        entry = onnx_model.opset_import.add()
        entry.domain, entry.version = domain, version
    return onnx_model


def export_onnx(
    model: Pipeline, window: dict[str, Any], training_window: str, feature_names: Sequence[str] = FEATURE_NAMES
) -> bytes:
    """The serialized ONNX file of `model`, with its metadata properties (`onnx_properties`)."""
    properties = onnx_properties(window, training_window, feature_names)
    return bytes(to_onnx_model(model, properties, len(feature_names)).SerializeToString())  # protobuf is untyped


def onnx_properties(
    window: dict[str, Any], training_window: str, feature_names: Sequence[str] = FEATURE_NAMES
) -> dict[str, str]:
    """Metadata properties of the ONNX file: the feature order (JSON list), window, step, horizon, training window."""
    return {
        "feature_names": json.dumps(list(feature_names)),
        "window_seconds": str(window["window_seconds"]),
        "step_seconds": str(window["step_seconds"]),
        "horizon_seconds": str(window["horizon_seconds"]),
        "min_actions": str(window["min_actions"]),
        "training_window": training_window,
        "output": "probabilities[:, 1] = P(click_ad within the horizon after the window end), calibrated",
    }


def onnx_probabilities(payload: bytes, features: np.ndarray) -> np.ndarray:
    """P(positive) from the ONNX bytes through onnxruntime (single-threaded)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
    outputs = session.run(["probabilities"], {INPUT_NAME: np.ascontiguousarray(features, dtype=np.float32)})
    return np.asarray(outputs[0][:, 1])  # onnxruntime is untyped: an array of Any


@dataclass(frozen=True)
class Parity:
    """ONNX against scikit-learn on the same float32-rounded rows."""

    max_abs_error: float  # max |p_onnx − p_sklearn|
    max_error_ratio: float  # max of |p_onnx − p_sklearn| / the row's float32 tolerance; ≤ 1 passes
    rows: int

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_error_ratio) and self.max_error_ratio <= 1)


def onnx_parity(payload: bytes, model: Pipeline, features: np.ndarray) -> Parity:
    """Compare like with like: scikit-learn sees the float32-rounded rows the ONNX model receives.

    What remains is float32 arithmetic inside the graph, which grows with a row's terms, not with
    the number of rows: each row may differ by `PARITY_ULPS` float32 ulps of Σ|coefficient × term|
    + |intercept| in the logit (times p(1 − p) in the probability), plus as many ulps of 1.
    """
    rounded = np.asarray(features, dtype=np.float32)
    if not len(rounded):
        return Parity(0.0, 0.0, 0)
    exact = rounded.astype(np.float64)
    expected = model.predict_proba(exact)[:, 1]
    error = np.abs(onnx_probabilities(payload, rounded).astype(np.float64) - expected)
    logistic = model[-1]
    magnitude = np.abs(model[:-1].transform(exact) * logistic.coef_[0]).sum(axis=1) + abs(logistic.intercept_[0])
    ulp = PARITY_ULPS * float(np.finfo(np.float32).eps)
    tolerance = ulp * (expected * (1 - expected) * magnitude + 1)
    return Parity(float(error.max()), float(np.max(error / tolerance)), len(rounded))
