"""`click_model_onnx`: the published model file, written only when its blocking checks pass.

The ONNX bytes are made and checked in memory (valid and within the contract, small, equal to the
pickle's output on the held-out windows); only then does the ONNX IO manager write them. A failed
check leaves the previously published file byte for byte, and `browser_bundle` does not run.
"""

from collections.abc import Iterator

import dagster as dg

from poppy_pipeline.click_model import gate, onnx_export
from poppy_pipeline.click_model import training as core
from poppy_pipeline.common.user_sample import MAX_WINDOWS, UserStratifiedSample
from poppy_pipeline.dagster_support.checks import publish
from poppy_pipeline.dagster_support.day_span import span_frames
from poppy_pipeline.dagster_support.metadata import plain_metadata
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.defs.click_model import WINDOWS_ASSET

VALID_CHECK, SIZE_CHECK, PARITY_CHECK = gate.VALID_CHECK, gate.SIZE_CHECK, gate.PARITY_CHECK


def _check(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset="click_model_onnx", description=description, blocking=True)


ONNX_CHECKS = [
    _check(
        VALID_CHECK,
        "onnx.checker passes; input float_input float32 [None, 20]; outputs label and probabilities; opset 17;"
        " the feature order in the metadata.",
    ),
    _check(SIZE_CHECK, f"The ONNX file is smaller than {gate.MAX_ONNX_BYTES:,} bytes."),
    _check(
        PARITY_CHECK,
        "On the held-out windows, rounded to float32 for both: |p_onnx − p_sklearn| within float32 rounding of"
        f" each window's terms ({onnx_export.PARITY_ULPS} ulps of Σ|coefficient × term| in the logit, plus"
        f" {onnx_export.PARITY_ULPS} ulps).",
    ),
]


@dg.asset(
    group_name="model",
    kinds={"onnx"},
    io_manager_key="onnx_io_manager",
    backfill_policy=single_run,
    check_specs=ONNX_CHECKS,
    output_required=False,
)
def click_model_onnx(
    context: dg.AssetExecutionContext,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    click_model: core.TrainedModel,
) -> Iterator[dg.MaterializeResult | dg.AssetObservation | dg.AssetCheckResult]:
    """`click_model` as ONNX (skl2onnx, opset 17): input `float_input` float32 `[None, 20]` in the
    order of the `feature_names` metadata property; outputs `label` and `probabilities` (`[N, 2]`,
    column 1 = P(click_ad within the horizon), calibrated). Metadata properties: `feature_names`
    (JSON), `window_seconds`, `step_seconds`, `horizon_seconds`, `training_window`. Byte-identical
    for the same model.
    """
    model = _require_trained_model(click_model)
    payload = model.onnx_bytes()
    # The held-out users' windows, read one day at a time and sampled like the model's.
    held_out = UserStratifiedSample(MAX_WINDOWS, model.seed)
    for day in span_frames(context, csv_io_manager, WINDOWS_ASSET, list(model.days)):
        held_out.add(day[day["User_ID"].isin(model.held_out_users)])
    parity = onnx_export.onnx_parity(payload, model.pipeline, core.feature_matrix(held_out.rows()))
    context.log.info(
        f"click_model_onnx: {len(payload):,} bytes, parity {parity.max_abs_error:.2e}"
        f" ({parity.max_error_ratio:.3f} of the float32 tolerance) on {parity.rows:,} windows"
    )
    metadata = plain_metadata(
        {
            "size_bytes": len(payload),
            "parity_max_abs_error": parity.max_abs_error,
            "parity_error_ratio": parity.max_error_ratio,
            "parity_windows": parity.rows,
            "training_window": model.training_window,
            "opset": onnx_export.TARGET_OPSET,
            "feature_names": list(model.feature_names),
        }
    )
    yield from publish(context, payload, metadata, onnx_checks(payload, parity, list(model.feature_names)))


def _require_trained_model(value: object) -> core.TrainedModel:
    if not isinstance(value, core.TrainedModel):
        raise dg.Failure(
            f"click_model.pkl holds a {type(value).__name__}, not the TrainedModel this version writes;"
            " materialize click_model again."
        )
    return value


def onnx_checks(payload: bytes, parity: onnx_export.Parity, feature_names: list[str]) -> list[dg.AssetCheckResult]:
    """The core's verdicts (`click_model_gate.onnx_verdicts`) as check results."""
    return [
        dg.AssetCheckResult(check_name=name, passed=verdict.passed, metadata=plain_metadata(verdict.measures))
        for name, verdict in gate.onnx_verdicts(payload, parity, feature_names).items()
    ]
