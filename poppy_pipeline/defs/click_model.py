"""`click_model` (pickle): trained on a span of days, judged with its uncertainty, published only if good.

It trains the calibrated logistic regression of `poppy_pipeline/click_model/training.py` on the run's span
of `sliding_window_features`, writes `<outputs>/click_model_report.json` and
`<outputs>/figures/click_model_*.png`, and runs four blocking checks, each judged on a
bootstrap interval over users (`poppy_pipeline/click_model/gate.py`): the held-out AUC, its ratio
to the oracle's, the calibration, and the comparison with the model already shipped. The pickle
is written only when all four pass (`publish`), so `click_model_onnx` never exports a model that
failed them and the shipped ONNX file and browser bundle stay as they were. Two more checks, not
blocking, measure seed 001's targets on the span it trains on (every window of it, before the
sample): 4-8% of windows positive, and every browsing profile with windows.
"""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from poppy_pipeline.behaviour.features import WindowSpec
from poppy_pipeline.behaviour.window_targets import WindowTargets
from poppy_pipeline.click_model import gate
from poppy_pipeline.click_model import training as core
from poppy_pipeline.click_model.figures import draw_figures
from poppy_pipeline.common.paths import write_json
from poppy_pipeline.common.user_bootstrap import LEVEL as BOOTSTRAP_LEVEL
from poppy_pipeline.common.user_bootstrap import RESAMPLES
from poppy_pipeline.common.user_sample import MAX_WINDOWS, UserStratifiedSample
from poppy_pipeline.dagster_support.checks import not_applicable, publish
from poppy_pipeline.dagster_support.day_span import SpanConfig, span_days, span_frames
from poppy_pipeline.dagster_support.metadata import figure_metadata, markdown_table, plain_metadata, readable
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource
from poppy_pipeline.defs.sliding_window_features import SETTINGS_ATTR
from poppy_pipeline.engagement.report import write_figures

WINDOWS_ASSET = "sliding_window_features"
SHIPPED_ASSET = "click_model_onnx"
REPORT_FILE = "click_model_report.json"
AUC_CHECK = "held_out_auc"
ORACLE_CHECK = "auc_vs_oracle"
CALIBRATION_CHECK = "calibration"
CHAMPION_CHECK = "not_worse_than_shipped"
TARGET_CHECKS = {
    "positive_share": "4-8% of the span's windows are positive (simulated): fails only when the 90% interval of a"
    " bootstrap over users (a user's windows are not independent) lies entirely outside.",
    "profiles_present": "Every browsing profile with users has windows in the span (simulated).",
}
LEVEL = f"{BOOTSTRAP_LEVEL:.0%} bootstrap interval over users"


class ClickModelConfig(SpanConfig):
    """The training window (see `SpanConfig`), the held-out users and the quality bars."""

    held_out_share: float = Field(default=core.HELD_OUT_SHARE, description="Share of users held out (by seed).")
    max_windows: int = Field(
        default=MAX_WINDOWS,
        description="At most this many windows are read (training and held-out users): a larger window keeps, per"
        " user, min(its windows, the largest quota that fits), drawn by a hash seeded with the simulation seed.",
    )
    min_auc: float = Field(default=0.75, description="Blocking: fails when the held-out AUC's interval is below.")
    min_oracle_ratio: float = Field(
        default=0.95, description="Blocking: fails when the interval of held-out AUC / the oracle's is below."
    )
    max_calibration_error: float = Field(
        default=0.10,
        description="Blocking: fails when the interval of (mean prediction − base rate) / base rate lies beyond ±this,"
        " over every window predicted by a model that never saw its user (out-of-fold and held-out).",
    )
    challenge_shipped: bool = Field(
        default=True,
        description="Blocking: the new model replaces the shipped click_model_onnx only when its held-out AUC is"
        " not below the shipped model's on the same windows (paired interval). False: replace it regardless.",
    )


def _check(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, description=description, blocking=True)


MODEL_CHECKS = [
    _check(AUC_CHECK, "click_model", f"Held-out AUC ≥ min_auc (0.75): fails when its {LEVEL} lies below."),
    _check(
        ORACLE_CHECK,
        "click_model",
        f"Held-out AUC ≥ min_oracle_ratio (0.95) × the oracle's on the same windows: fails when the {LEVEL}"
        " of the ratio lies below.",
    ),
    _check(
        CALIBRATION_CHECK,
        "click_model",
        "|mean prediction − base rate| ≤ 10% of the base rate over every window, each predicted by a model that"
        f" never saw its user (out-of-fold for the training users, the shipped model for the held-out): fails"
        f" when the {LEVEL} lies beyond.",
    ),
    _check(
        CHAMPION_CHECK,
        "click_model",
        "The new model's held-out AUC minus the shipped click_model_onnx's, on the same windows: fails (and the"
        f" shipped model stays) when the whole paired {LEVEL} is below 0.",
    ),
]
TARGET_SPECS = [dg.AssetCheckSpec(name, asset="click_model", description=text) for name, text in TARGET_CHECKS.items()]


@dg.asset(
    group_name="model",
    kinds={"scikitlearn", "pickle"},
    io_manager_key="pickle_io_manager",
    deps=[WINDOWS_ASSET],
    backfill_policy=single_run,
    check_specs=[*MODEL_CHECKS, *TARGET_SPECS],
    output_required=False,
)
def click_model(
    context: dg.AssetExecutionContext,
    config: ClickModelConfig,
    simulation: SimulationResource,
    action_source: ActionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    onnx_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    users: pd.DataFrame,
) -> Iterator[dg.MaterializeResult | dg.AssetObservation | dg.AssetCheckResult]:
    """A calibrated `StandardScaler → LogisticRegression` (linear in the 20 features; see click_model.py)
    (balanced class weights, intercept corrected) on the run's span of `sliding_window_features`.

    Fitted on the users outside a held-out set (`held_out_share`, drawn from the simulation seed);
    the report (`click_model_report.json`) and figures describe those held-out users. The span is
    read one day at a time into a sample of at most `max_windows`, stratified by user (its `sample`
    entry says how many there were and the per-user cap). Written (as a `TrainedModel`) only when its
    blocking checks pass.
    """
    days = span_days(context, config)
    attrs: dict = {}  # the window settings every day was made with
    sample, targets = UserStratifiedSample(config.max_windows, simulation.seed), WindowTargets(users)
    for day in span_frames(context, csv_io_manager, WINDOWS_ASSET, days, attrs):
        targets.add_day(day)
        sample.add(day)
    windows = sample.rows()
    windows.attrs = attrs  # the window settings every day was made with
    result = core.train_and_evaluate(windows, simulation.seed, config.held_out_share)
    trained = core.TrainedModel(
        pipeline=result.model,
        days=tuple(days),
        held_out_users=tuple(int(u) for u in np.unique(result.held_out["User_ID"])),
        window=_window_spec(windows, days),
        seed=simulation.seed,
    )
    report = result.report | gate.gate_report(result, simulation.seed) | {"sample": sample.summary()}
    report |= {"window": trained.training_window, "window_spec": trained.window.settings()}
    report["champion"] = _challenge_shipped(context, config, onnx_io_manager, trained, result.held_out)
    coefficients = core.coefficient_table(result.model)
    report["top_coefficients"] = coefficients.head(20).to_dict(orient="records")
    checks = model_checks(report, config)
    report["published"] = all(check.passed for check in checks)
    figures = draw_figures(result.held_out, coefficients)
    with outputs.writing():
        write_figures(figures, outputs.write_root() / "figures")
        report_path = outputs.published_path(write_json(report, outputs.write_root() / REPORT_FILE))
    context.log.info(_summary(report, report_path))
    metadata = _model_metadata(context, report, coefficients, figures, report_path)
    yield from publish(
        context,
        trained,
        metadata,
        checks,
        _target_checks(context, action_source, targets, users, trained.training_window),
    )


def _challenge_shipped(
    context: dg.AssetExecutionContext,
    config: ClickModelConfig,
    store: PartitionedUPathIOManager,
    trained: core.TrainedModel,
    held_out: pd.DataFrame,
) -> dict:
    """The comparison with the shipped click_model_onnx, or why there is none."""
    shipped = store.load_if_present(SHIPPED_ASSET)
    if shipped is None:
        return {"compared": False, "reason": "no model is shipped yet", "rejected": False}
    if not config.challenge_shipped:
        return {"compared": False, "reason": "challenge_shipped is off", "rejected": False}
    comparison = gate.challenge(shipped, trained, held_out)
    if not comparison["compared"]:
        context.log.warning(f"click_model: not compared with the shipped model: {comparison['reason']}")
    return comparison


def _summary(report: dict, report_path: Path) -> str:
    ratio = report["auc_ratio_interval"]
    champion = report["champion"]
    versus = (
        f"; vs shipped: AUC {champion['champion_auc']:.3f}, difference {champion['auc_difference']:+.4f}"
        f" [{champion['auc_difference_interval'][0]:+.4f}, {champion['auc_difference_interval'][1]:+.4f}]"
        + (" REJECTED" if champion["rejected"] else "")
        if champion["compared"]
        else f"; not compared with a shipped model ({champion['reason']})"
    )
    return (
        f"click_model: held-out AUC {report['held_out_auc']:.3f} (oracle {report['oracle_auc'] or float('nan'):.3f}),"
        + (f" ratio {report['auc_ratio']:.3f} [{ratio[0]:.3f}, {ratio[1]:.3f}]," if ratio else "")
        + f" mean prediction {report['unseen_mean_prediction']:.4f} vs base rate {report['unseen_base_rate']:.4f}"
        f" on unseen users{versus}; wrote {report_path}"
    )


def _window_spec(windows: pd.DataFrame, days: list[str]) -> WindowSpec:
    """Window, step, horizon and minimum actions the training days' features were made with.

    They travel with the windows (`span_frames` has already refused days made with different ones).
    """
    settings = windows.attrs.get(SETTINGS_ATTR)
    if settings is None:
        raise dg.Failure(
            f"{WINDOWS_ASSET} {days[0]}..{days[-1]} carries no window settings (written before they were"
            " stored with the windows, or its write was interrupted); materialize it again for those days."
        )
    return WindowSpec.from_seconds(
        settings["window_seconds"], settings["step_seconds"], settings["horizon_seconds"], settings["min_actions"]
    )


# The numbers worth a glance on the asset's page (rounded); every other figure is in the report's JSON.
METADATA_FIELDS = (
    "held_out_auc",
    "oracle_auc",
    "auc_ratio",
    "cv_auc_mean",
    "calibration_error",
    "unseen_mean_prediction",
    "unseen_base_rate",
    "positive_share",
    "training_rows",
    "held_out_users",
    "training_seconds",
)


def _model_metadata(
    context: dg.AssetExecutionContext, report: dict, coefficients: pd.DataFrame, figures: dict, report_path: Path
) -> dict:
    """Figures first, then the numbers worth a glance, the top terms and the links."""
    numbers = {name: report[name] for name in METADATA_FIELDS if report[name] is not None}
    champion = report["champion"]
    return (
        figure_metadata(context, figures)
        | plain_metadata(numbers)
        | {
            "champion": champion["reason"] if not champion["compared"] else _versus(champion),
            "span": report["window"],
            "top_coefficients": dg.MetadataValue.md(markdown_table(coefficients, 10)),
            "path": dg.MetadataValue.path(str(report_path)),
            "figures_folder": dg.MetadataValue.path(str(report_path.parent / "figures")),
        }
    )


def _versus(champion: dict) -> str:
    low, high = (readable(bound) for bound in champion["auc_difference_interval"])
    verdict = "rejected" if champion["rejected"] else "not worse"
    return f"{verdict} than the shipped model: AUC difference {readable(champion['auc_difference'])} [{low}, {high}]"


def _target_checks(
    context: dg.AssetExecutionContext,
    action_source: ActionSourceResource,
    targets: WindowTargets,
    users: pd.DataFrame,
    span: str,
) -> list[dg.AssetCheckResult]:
    """Seed 001's targets, measured on every window of the span (its days counted one at a time)."""
    real = action_source.is_real or users["Profile"].isna().all()
    results = []
    for spec in TARGET_SPECS:
        if spec.key not in context.selected_asset_check_keys:
            continue
        if real:
            results.append(not_applicable(spec.key, "real actions or users, not the simulation's profiles.", span))
            continue
        result = targets.positive_share() if spec.name == "positive_share" else targets.profiles_present(users)
        context.log.info(f"click_model's span: {result.describe()}")
        results.append(
            dg.AssetCheckResult(
                check_name=spec.name,
                asset_key=spec.asset_key,
                passed=result.passed,
                metadata={"measured": readable(float(result.value)), "target": result.target, "span": span}
                | plain_metadata(result.details),
            )
        )
    return results


def model_checks(report: dict, config: ClickModelConfig) -> list[dg.AssetCheckResult]:
    """The four blocking checks of `click_model`, from its report."""
    interval = {"level": BOOTSTRAP_LEVEL, "resamples": RESAMPLES}
    auc = report["held_out_auc"]
    auc_check = dg.AssetCheckResult(
        check_name=AUC_CHECK,
        passed=gate.auc_passes(report, config.min_auc),
        metadata=plain_metadata(
            {
                "held_out_auc": auc,
                "interval": report["held_out_auc_interval"],
                "min": config.min_auc,
                "cv_auc_mean": report["cv_auc_mean"],
                **interval,
            }
        ),
    )
    if report["oracle_auc"] is None:
        ratio_check = dg.AssetCheckResult(
            check_name=ORACLE_CHECK,
            passed=True,
            description="Not applicable: a real action log has no oracle.",
            metadata=plain_metadata({"held_out_auc": auc}),
        )
    else:
        ratio_check = dg.AssetCheckResult(
            check_name=ORACLE_CHECK,
            passed=gate.oracle_ratio_passes(report, config.min_oracle_ratio),
            metadata=plain_metadata(
                {
                    "ratio": report["auc_ratio"],
                    "interval": report["auc_ratio_interval"],
                    "min": config.min_oracle_ratio,
                    "held_out_auc": auc,
                    "oracle_auc": report["oracle_auc"],
                    "held_out_users": report["held_out_users"],
                    **interval,
                }
            ),
        )
    calibration_check = dg.AssetCheckResult(
        check_name=CALIBRATION_CHECK,
        passed=gate.calibration_passes(report, config.max_calibration_error),
        metadata=plain_metadata(
            {
                "relative_bias": report["calibration_bias"],
                "interval": report["calibration_bias_interval"],
                "max_relative_error": config.max_calibration_error,
                "mean_prediction": report["unseen_mean_prediction"],
                "base_rate": report["unseen_base_rate"],
                "held_out_mean_prediction": report["mean_prediction"],
                "held_out_base_rate": report["base_rate"],
                **interval,
            }
        ),
    )
    return [auc_check, ratio_check, calibration_check, champion_check(report["champion"])]


def champion_check(champion: dict) -> dg.AssetCheckResult:
    if not champion["compared"]:
        return dg.AssetCheckResult(
            check_name=CHAMPION_CHECK, passed=True, description=f"Not compared: {champion['reason']}."
        )
    low, high = champion["auc_difference_interval"]
    verdict = "worse than" if champion["rejected"] else "not worse than"
    return dg.AssetCheckResult(
        check_name=CHAMPION_CHECK,
        passed=not champion["rejected"],
        description=f"The new model is {verdict} the shipped one: held-out AUC {champion['challenger_auc']:.4f} vs"
        f" {champion['champion_auc']:.4f}, difference {champion['auc_difference']:+.4f} [{low:+.4f}, {high:+.4f}].",
        metadata=plain_metadata(
            {
                "challenger_auc": champion["challenger_auc"],
                "champion_auc": champion["champion_auc"],
                "auc_difference": champion["auc_difference"],
                "interval": champion["auc_difference_interval"],
                "champion_training_window": str(champion["champion_training_window"]),
                "windows": champion["windows"],
            }
        ),
    )
