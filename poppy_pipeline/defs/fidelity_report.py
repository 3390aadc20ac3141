"""`fidelity_report`: the log against a simulation generated from its fit, over the same span.

The log is what `simulated_interactions` holds: a real log, or (on a default run) the simulation
itself, so a default run measures how well the fit recovers the simulation's own parameters.
"""

import json

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.common.paths import write_json
from poppy_pipeline.dagster_support.day_span import SpanConfig, load_span, span_days
from poppy_pipeline.dagster_support.metadata import figure_metadata, markdown_table, plain_metadata
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.engagement.report import write_figures
from poppy_pipeline.fidelity.figures import draw_overlays, log_name
from poppy_pipeline.fidelity.fit import FIT_FILE
from poppy_pipeline.fidelity.regenerate import fidelity_report as build_fidelity_report
from poppy_pipeline.fidelity.regenerate import simulate_from_fit

CLOSENESS = "closeness_near_noise_floor"
DETECTION = "detection_auc"


class FidelityConfig(SpanConfig):
    seed: int = Field(default=42, description="Seed of the simulation generated from the fit.")
    max_closeness_gap: float = Field(
        default=0.05, description="The closeness check fails when overall closeness is further below the noise floor."
    )
    max_detection_auc: float = Field(
        default=0.65, description="The detection check fails when a classifier tells real from simulated better."
    )


@dg.asset(
    group_name="fidelity",
    kinds={"python", "json", "matplotlib"},
    deps=["simulated_interactions", "simulation_fit"],
    backfill_policy=single_run,
    check_specs=[
        dg.AssetCheckSpec(CLOSENESS, asset="fidelity_report", description="Overall closeness ≥ noise floor − gap."),
        dg.AssetCheckSpec(DETECTION, asset="fidelity_report", description="Detection AUC ≤ max_detection_auc."),
    ],
    dagster_type=dg.Any,  # stated: with check_specs, a `-> MaterializeResult` alone would make it Nothing
)
def fidelity_report(
    context: dg.AssetExecutionContext,
    config: FidelityConfig,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
) -> dg.MaterializeResult:
    """`<outputs>/fidelity_report.json` and `figures/fidelity_*.png`: per statistic the log's
    and the fitted simulation's values and their closeness, the detection AUC, and the noise floor
    (the log's two halves, users split at random)."""
    days = span_days(context, config)
    fit_path = outputs.read_path(outputs.path() / FIT_FILE)  # this run's fit, when it made one
    if not fit_path.is_file():
        raise dg.Failure(f"{outputs.path() / FIT_FILE} is missing; materialize simulation_fit first.")
    fit = json.loads(fit_path.read_text())
    # A fit on a user sample (simulation_fit's max_users) is compared on that sample, against a
    # simulated world of the same share of users.
    share = fit.get("sample", {}).get("user_share", 1.0)
    real = load_span(context, csv_io_manager, "simulated_interactions", days, user_share=share)
    simulated = simulate_from_fit(fit, days, config.seed, scale_users=share)
    report = build_fidelity_report(real, simulated)
    report["window"] = {"first_day": days[0], "last_day": days[-1], "seed": config.seed, "user_share": share}
    figures = draw_overlays(real, simulated)
    with outputs.writing():
        write_figures(figures, outputs.write_root() / "figures")
        path = outputs.published_path(write_json(report, outputs.write_root() / "fidelity_report.json"))
    closeness, floor, auc = (report[k] for k in ("overall_closeness", "noise_floor_closeness", "detection_auc"))
    gap = floor - closeness if closeness is not None and floor is not None else None
    field = report["sdmetrics"]
    context.log.info(
        f"closeness {closeness} (noise floor {floor}), detection AUC {auc}"
        f" (noise floor {report['noise_floor_detection_auc']}), SDMetrics quality {field['quality']}"
        f" (noise floor {field['noise_floor_quality']})"
    )
    table = pd.DataFrame.from_dict(report["statistics"], orient="index").rename_axis("statistic").reset_index()
    scores = {k: v for k, v in report.items() if k not in ("statistics", "window") and not isinstance(v, dict | list)}
    return dg.MaterializeResult(
        metadata={
            **figure_metadata(context, figures),
            "span": f"{days[0]}..{days[-1]}",
            "log": log_name(interaction_source.kind),
            **plain_metadata(scores),
            "statistics": dg.MetadataValue.md(markdown_table(table, max_rows=40)),
            "path": dg.MetadataValue.path(str(path)),
            "figures_folder": dg.MetadataValue.path(str(path.parent / "figures")),
        },
        check_results=[
            _verdict(CLOSENESS, gap, config.max_closeness_gap, "below_noise_floor"),
            _verdict(DETECTION, auc, config.max_detection_auc, "auc"),
        ],
    )


def _verdict(name: str, measured: float | None, allowed: float, label: str) -> dg.AssetCheckResult:
    """Pass when `measured` ≤ `allowed`; no verdict (passed, said so) when the log is too small to measure it."""
    if measured is None:
        return dg.AssetCheckResult(
            check_name=name,
            passed=True,
            description="Not applicable: too few users or events in the span to measure.",
        )
    return dg.AssetCheckResult(
        check_name=name, passed=bool(measured <= allowed), metadata={label: round(measured, 4), "allowed": allowed}
    )
