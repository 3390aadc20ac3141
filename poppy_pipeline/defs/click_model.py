"""`click_model` (pickle) and `click_model_onnx`, their blocking checks, and the weekly retraining.

`click_model` trains the calibrated logistic regression of `poppy_pipeline/click_model.py` on the
run's window of `sliding_window_features`, writes `$POPPY_DATA_DIR/click_model_report.json` and
`$POPPY_DATA_DIR/figures/click_model_*.png`, and checks (blocking) its held-out AUC, its AUC
against the oracle's and its calibration. `click_model_onnx` exports it only when those pass,
and checks (blocking) the ONNX file itself: valid, small, and equal to the pickle's output.
"""

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.pipeline import Pipeline

from poppy_pipeline import click_model as core
from poppy_pipeline.defs.io_managers import PartitionedUPathIOManager
from poppy_pipeline.defs.metadata import markdown_table
from poppy_pipeline.defs.partitions import single_run
from poppy_pipeline.defs.resources import SimulationResource
from poppy_pipeline.defs.window import WindowConfig, load_window, window_days
from poppy_pipeline.paths import data_dir, write_json
from poppy_pipeline.report import markdown_gallery, write_figures
from poppy_pipeline.windows import FEATURE_NAMES, WindowSpec

WINDOWS_ASSET = "sliding_window_features"
REPORT_FILE = "click_model_report.json"
AUC_CHECK = "held_out_auc"
ORACLE_CHECK = "auc_vs_oracle"
CALIBRATION_CHECK = "calibration"
VALID_CHECK = "onnx_valid"
SIZE_CHECK = "onnx_size"
PARITY_CHECK = "onnx_parity"
MAX_ONNX_BYTES = 50_000
MAX_PARITY_ERROR = 1e-5


class ClickModelConfig(WindowConfig):
    """The training window (see `WindowConfig`), the held-out users and the quality bars."""

    held_out_share: float = Field(default=core.HELD_OUT_SHARE, description="Share of users held out (by seed).")
    min_auc: float = Field(default=0.75, description="Blocking: held-out AUC at least this.")
    min_oracle_ratio: float = Field(default=0.95, description="Blocking: held-out AUC ≥ this × the oracle's.")
    max_calibration_error: float = Field(
        default=0.10,
        description="Blocking: |mean prediction − base rate| ≤ this share of the base rate, over every"
        " window predicted by a model that never saw its user (out-of-fold and held-out).",
    )


def _check(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, description=description, blocking=True)


MODEL_CHECKS = [
    _check(AUC_CHECK, "click_model", "Held-out AUC (users never trained on) ≥ min_auc (0.75)."),
    _check(ORACLE_CHECK, "click_model", "Held-out AUC ≥ min_oracle_ratio (0.95) × the oracle's on the same windows."),
    _check(
        CALIBRATION_CHECK,
        "click_model",
        "|mean prediction − base rate| ≤ 10% of the base rate over every window, each predicted by a model"
        " that never saw its user: out-of-fold for the training users, the shipped model for the held-out.",
    ),
]
ONNX_CHECKS = [
    _check(
        VALID_CHECK,
        "click_model_onnx",
        "onnx.checker passes; input float_input float32 [None, 20]; outputs label and probabilities; opset 17;"
        " the feature order in the metadata.",
    ),
    _check(SIZE_CHECK, "click_model_onnx", f"The ONNX file is smaller than {MAX_ONNX_BYTES:,} bytes."),
    _check(PARITY_CHECK, "click_model_onnx", f"max |p_onnx − p_sklearn| ≤ {MAX_PARITY_ERROR} on the held-out windows."),
]


@dg.asset(
    group_name="model",
    kinds={"scikitlearn", "pickle"},
    io_manager_key="pickle_io_manager",
    deps=[WINDOWS_ASSET],
    backfill_policy=single_run,
    check_specs=MODEL_CHECKS,
)
def click_model(
    context: dg.AssetExecutionContext,
    config: ClickModelConfig,
    simulation: SimulationResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
):  # -> MaterializeResult; with check_specs, Dagster would read an annotation as the output type
    """A calibrated `StandardScaler → PolynomialFeatures(2, interaction_only) → LogisticRegression`
    (balanced class weights, intercept corrected) on the run's window of `sliding_window_features`.

    Fitted on the users outside a held-out set (`held_out_share`, drawn from the simulation seed);
    the report (`click_model_report.json`) and figures describe those held-out users.
    """
    days = window_days(context, config)
    windows = load_window(context, csv_io_manager, WINDOWS_ASSET, days)
    spec = _window_spec(context, days[-1])
    result = core.train_and_evaluate(windows, simulation.seed, config.held_out_share)
    report = result.report | {"window": f"{days[0]}..{days[-1]}", "window_spec": spec.settings()}
    model = result.model
    model.training_info_ = {  # read by click_model_onnx: what the model was trained on
        "feature_names": list(FEATURE_NAMES),
        "training_window": report["window"],
        "days": days,
        "seed": simulation.seed,
        "held_out_users": sorted(int(u) for u in result.held_out["User_ID"].unique()),
        **spec.settings(),
    }
    coefficients = core.coefficient_table(model)
    report["top_coefficients"] = coefficients.head(20).to_dict(orient="records")
    figures = core.draw_figures(result.held_out, coefficients)
    paths = write_figures(figures, data_dir() / "figures")
    report_path = write_json(report, data_dir() / REPORT_FILE)
    context.log.info(
        f"click_model: held-out AUC {report['held_out_auc']:.3f} (oracle {report['oracle_auc'] or float('nan'):.3f}),"
        f" mean prediction {report['unseen_mean_prediction']:.4f} vs base rate {report['unseen_base_rate']:.4f}"
        f" on unseen users; wrote {report_path}"
    )
    return dg.MaterializeResult(
        value=model,
        metadata=_model_metadata(report, coefficients, figures, report_path, paths),
        check_results=model_checks(report, config),
    )


def _window_spec(context: dg.AssetExecutionContext, last_day: str) -> WindowSpec:
    """Window, step and horizon of the features, from the last day's materialization (else the defaults)."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey(WINDOWS_ASSET))
    materialization = event.asset_materialization if event else None
    metadata = materialization.metadata if materialization else {}
    try:
        return WindowSpec.from_seconds(
            metadata["window_seconds"].value,
            metadata["step_seconds"].value,
            metadata["horizon_seconds"].value,
            int(metadata["min_actions"].value),
        )
    except (KeyError, ValueError, TypeError):
        context.log.warning(f"{WINDOWS_ASSET} {last_day}: no window settings in its metadata; assuming the defaults")
        return WindowSpec()


def _model_metadata(
    report: dict, coefficients: pd.DataFrame, figures: dict, report_path: Path, paths: list[Path]
) -> dict:
    names = (
        "cv_auc_mean",
        "cv_auc_std",
        "held_out_auc",
        "oracle_auc",
        "auc_ratio",
        "brier_model",
        "brier_oracle",
        "log_loss_model",
        "log_loss_oracle",
        "mean_prediction",
        "base_rate",
        "unseen_mean_prediction",
        "unseen_base_rate",
        "calibration_error",
        "positive_share",
        "training_rows",
        "training_seconds",
        "held_out_users",
        "held_out_rows",
    )
    metadata = {name: report[name] for name in names if report[name] is not None}
    return metadata | {
        "window": report["window"],
        "path": dg.MetadataValue.path(str(report_path)),
        "figures": dg.MetadataValue.path(str(paths[0].parent)),
        "top_coefficients": dg.MetadataValue.md(markdown_table(coefficients.round(4), 15)),
        "report": dg.MetadataValue.md(markdown_gallery(figures)),
    }


def model_checks(report: dict, config: ClickModelConfig) -> list[dg.AssetCheckResult]:
    """The three blocking quality checks of `click_model`, from its report."""
    auc, oracle = report["held_out_auc"], report["oracle_auc"]
    if oracle is None:
        ratio_result = dg.AssetCheckResult(
            check_name=ORACLE_CHECK,
            passed=True,
            description="Not applicable: a real action log has no oracle.",
            metadata={"held_out_auc": auc},
        )
    else:
        ratio_result = dg.AssetCheckResult(
            check_name=ORACLE_CHECK,
            passed=bool(auc >= config.min_oracle_ratio * oracle),
            metadata={"held_out_auc": auc, "oracle_auc": oracle, "ratio": auc / oracle, "min": config.min_oracle_ratio},
        )
    return [
        dg.AssetCheckResult(
            check_name=AUC_CHECK,
            passed=bool(auc >= config.min_auc),
            metadata={"held_out_auc": auc, "min": config.min_auc, "cv_auc_mean": report["cv_auc_mean"]},
        ),
        ratio_result,
        dg.AssetCheckResult(
            check_name=CALIBRATION_CHECK,
            passed=bool(report["calibration_error"] <= config.max_calibration_error),
            metadata={
                "mean_prediction": report["unseen_mean_prediction"],
                "base_rate": report["unseen_base_rate"],
                "relative_error": report["calibration_error"],
                "max_relative_error": config.max_calibration_error,
                "held_out_mean_prediction": report["mean_prediction"],
                "held_out_base_rate": report["base_rate"],
                "held_out_standard_error": report["mean_prediction_standard_error"],
            },
        ),
    ]


@dg.asset(
    group_name="model",
    kinds={"onnx"},
    io_manager_key="onnx_io_manager",
    backfill_policy=single_run,
    check_specs=ONNX_CHECKS,
)
def click_model_onnx(
    context: dg.AssetExecutionContext,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    click_model: Pipeline,
):  # -> MaterializeResult; with check_specs, Dagster would read an annotation as the output type
    """`click_model` as ONNX (skl2onnx, opset 17): input `float_input` float32 `[None, 20]` in the
    order of the `feature_names` metadata property; outputs `label` and `probabilities` (`[N, 2]`,
    column 1 = P(click_ad within the horizon), calibrated). Metadata properties: `feature_names`
    (JSON), `window_seconds`, `step_seconds`, `horizon_seconds`, `training_window`.
    """
    info = click_model.training_info_
    payload = core.export_onnx(click_model, info, info["training_window"])
    windows = load_window(context, csv_io_manager, WINDOWS_ASSET, info["days"])
    held_out = windows[windows["User_ID"].isin(info["held_out_users"])]
    features = core.feature_matrix(held_out)
    parity = core.onnx_parity(payload, click_model, features)
    checks = onnx_checks(payload, parity)
    context.log.info(f"click_model_onnx: {len(payload):,} bytes, parity {parity:.2e} on {len(features):,} windows")
    return dg.MaterializeResult(
        value=payload,
        metadata={
            "size_bytes": len(payload),
            "parity_max_abs_error": parity,
            "parity_windows": len(features),
            "training_window": info["training_window"],
            "opset": core.TARGET_OPSET,
            "feature_names": dg.MetadataValue.json(info["feature_names"]),
        },
        check_results=checks,
    )


def onnx_problems(payload: bytes) -> list[str]:
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
    if len(inputs) != 1 or inputs[0][0] != core.INPUT_NAME or inputs[0][1] != onnx.TensorProto.FLOAT:
        problems.append(f"input is {inputs}, expected one float32 {core.INPUT_NAME}")
    elif inputs[0][2][1:] != [len(FEATURE_NAMES)]:
        problems.append(f"input shape {inputs[0][2]}, expected [None, {len(FEATURE_NAMES)}]")
    outputs = [o.name for o in model.graph.output]
    if outputs != ["label", "probabilities"]:
        problems.append(f"outputs {outputs}, expected ['label', 'probabilities']")
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", opsets.get("ai.onnx")) != core.TARGET_OPSET:
        problems.append(f"opset {opsets}, expected {core.TARGET_OPSET}")
    properties = {p.key: p.value for p in model.metadata_props}
    if json.loads(properties.get("feature_names", "null")) != list(FEATURE_NAMES):
        problems.append("metadata property feature_names is not the training order")
    return problems


def onnx_checks(payload: bytes, parity: float) -> list[dg.AssetCheckResult]:
    problems = onnx_problems(payload)
    return [
        dg.AssetCheckResult(check_name=VALID_CHECK, passed=not problems, metadata={"problems": str(problems)}),
        dg.AssetCheckResult(
            check_name=SIZE_CHECK,
            passed=len(payload) < MAX_ONNX_BYTES,
            metadata={"size_bytes": len(payload), "max": MAX_ONNX_BYTES},
        ),
        dg.AssetCheckResult(
            check_name=PARITY_CHECK,
            passed=bool(np.isfinite(parity) and parity <= MAX_PARITY_ERROR),
            metadata={"max_abs_error": parity, "max": MAX_PARITY_ERROR},
        ),
    ]
