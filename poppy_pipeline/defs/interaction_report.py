"""`interaction_report`: seed 000's exploration and seed 002's metrics over a span, as figures and JSON.

Its checks are seed 000's claims about the data (type mix, ratings, preferred types, repeats,
concentration, the evening peak), measured on the same span as the figures, one day at a time as
the days are read (`poppy_pipeline/simulation/span_patterns.py`). They are about a span, not a day,
so they are this summary's checks rather than each day's; none blocks.
"""

import math
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.common.paths import write_json
from poppy_pipeline.dagster_support.checks import not_applicable
from poppy_pipeline.dagster_support.day_span import SpanConfig, span_days, span_frames
from poppy_pipeline.dagster_support.metadata import figure_metadata, plain_metadata, readable, readable_json
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.engagement.report import NEW_USER_DAYS, draw_figures, write_figures
from poppy_pipeline.engagement.report_totals import ReportTotals, object_scores
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.pattern_results import PatternResult
from poppy_pipeline.simulation.repeats import expected_repeat_share
from poppy_pipeline.simulation.span_patterns import SpanPatterns

PATTERN_CHECKS = {
    "type_mix": "View/Click/Favorite/Rate shares within 2 points of interaction_type_weights.",
    "rating_distribution": "Ratings 1-5 only on Rate events, at least 80% of them 3-5.",
    "rating_bias_correlation": "A user's mean rating follows their Rating_Bias (corr ≥ 0.5, users with ≥ 5 ratings).",
    "preferred_type_share": "Users with a preferred type put preferred_type_share (±5 points) of interactions on it.",
    "repeat_share": "repeat_share (±5 points) of interactions, in timestamp order, repeat an earlier"
    " (user, type, object) of the span.",
    "activity_concentration": "Top 10% of users and top 10% of objects each make ≥ 30% of interactions.",
    "evening_peak": "≥ 35% of interactions between 18:00 and 24:00, < 20% between 00:00 and 06:00.",
    "volume": "The span holds the interactions the model expects (interactions_per_day a day from"
    " signup_start on: seed 000's 10,000 in 30 days) within 15%.",
}
PATTERN_SPECS = [
    dg.AssetCheckSpec(name, asset="interaction_report", description=description)
    for name, description in PATTERN_CHECKS.items()
]


class ReportConfig(SpanConfig):
    new_user_days: int = Field(
        default=NEW_USER_DAYS, description="A user is new when signed up this many days before the last event."
    )


@dg.asset(
    group_name="engagement",
    kinds={"pandas", "json", "matplotlib"},
    deps=["simulated_interactions", "engagement_scores"],
    backfill_policy=single_run,
    check_specs=PATTERN_SPECS,
    dagster_type=dg.Any,  # stated: with check_specs, a `-> MaterializeResult` alone would make it Nothing
)
def interaction_report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
) -> dg.MaterializeResult:
    """`<outputs>/interaction_report.json` and `<outputs>/figures/*.png`.

    Figures: interactions per user and per object (log scale), ratings, daily trend by type,
    hour of day, watch ratio of views, top 10 objects by engagement, new vs existing users.
    The span is read one day at a time into totals of the size of its users, objects and
    distinct watch ratios (`report_totals.py`), never all its events at once; `engagement_scores`
    (the top objects) is read a block of pairs at a time.
    """
    days = span_days(context, config)
    spec = interaction_source.spec()
    settings = interaction_source.simulation_settings(simulation.settings(), outputs.path())
    # A real log owes nothing to seed 000's claims.
    patterns = None if interaction_source.is_real else SpanPatterns(settings, users, celestial_objects, PATTERN_CHECKS)
    totals = ReportTotals(celestial_objects, users, spec.view_type, spec.engaging_types, spec.rated_type)
    read: list[str] = []
    for interactions in span_frames(context, csv_io_manager, "simulated_interactions", days, read=read):
        totals.add(interactions)
        if patterns is not None:
            patterns.add_day(interactions)
    scores = csv_io_manager.stored_path("engagement_scores")  # this run's, when it made one
    if not csv_io_manager.path_exists(scores):
        raise dg.Failure(f"{scores} is missing; materialize engagement_scores first.")
    # Only the objects' summed scores: the pairs are read a block at a time.
    objects = object_scores(
        csv_io_manager.load_batches("engagement_scores", ["Object_Type", "Object_ID", "engagement_score"])
    )
    report = totals.report(objects, config.new_user_days)
    report["window"] |= {"first_day": days[0], "last_day": days[-1], "source": interaction_source.kind}
    figures = draw_figures(totals.figure_data(), report)
    with outputs.writing():
        write_figures(figures, outputs.write_root() / "figures")
        report_path = outputs.published_path(write_json(report, outputs.write_root() / "interaction_report.json"))
    context.log.info(f"wrote {report_path} and {len(figures)} figures in {report_path.parent / 'figures'}")
    quality = report["data_quality"]
    if quality["users_with_events_before_signup"]:
        context.log.warning(
            f"{quality['users_with_events_before_signup']} users have {quality['events_before_signup']} events"
            f" before their sign-up date (e.g. {quality['user_ids'][:5]}); they are kept in every figure"
        )
    span = f"{days[0]}..{days[-1]} ({len(read)} days, {report['window']['events']} interactions)"
    checks = _pattern_checks(context, interaction_source, patterns, read, span)
    return dg.MaterializeResult(metadata=_metadata(context, figures, report, report_path, span), check_results=checks)


def _metadata(
    context: dg.AssetExecutionContext, figures: dict[str, bytes], report: dict, path: Path, span: str
) -> dict:
    """Figures first, then the few numbers worth a glance; the rest is in the report's JSON."""
    groups, quality, ratios = report["new_vs_existing"], report["data_quality"], report["watch_ratio_views"]
    return {
        **figure_metadata(context, figures),
        "span": span,
        "events": report["window"]["events"],
        "users": report["window"]["users"],
        "watch_ratio_of_views": f"mean {readable(ratios['mean'])}, median {readable(ratios['p50'])}",
        "new_users": groups["new"]["num_users"],
        "existing_users": groups["existing"]["num_users"],
        "users_with_events_before_signup": quality["users_with_events_before_signup"],
        "events_before_signup": quality["events_before_signup"],
        "path": dg.MetadataValue.path(str(path)),
        "figures_folder": dg.MetadataValue.path(str(path.parent / "figures")),
    }


def _pattern_checks(
    context: dg.AssetExecutionContext,
    interaction_source: InteractionSourceResource,
    patterns: SpanPatterns | None,
    days: list[str],
    span: str,
) -> list[dg.AssetCheckResult]:
    """Seed 000's claims on the days read; a simulated span's repeat share and volume against what
    its model expects over those days.

    Share tolerances widen to four standard errors on spans too small for the claim's own
    tolerance (a single day); on the default 30 days the claim's tolerances apply.
    """
    selected = {key.name for key in context.selected_asset_check_keys}
    if not selected:
        return []
    results: dict[str, PatternResult] = {}
    if patterns is not None:
        if patterns.settings is None:  # SpanPatterns takes none only for a real log, which has no patterns
            raise ValueError("interaction_report: the simulated span's patterns have no simulation settings")
        model = build_model(patterns.settings, patterns.objects, patterns.users)
        repeats = expected_repeat_share(model, date.fromisoformat(days[-1]), len(days))
        events = model.expected_span_events(date.fromisoformat(day) for day in days)
        results = patterns.results(repeats, expected_events=events)
    return [
        _check_result(context, spec.key, results.get(spec.name), interaction_source, span)
        for spec in PATTERN_SPECS
        if spec.name in selected
    ]


def _check_result(
    context: dg.AssetExecutionContext,
    key: dg.AssetCheckKey,
    result: PatternResult | None,
    interaction_source: InteractionSourceResource,
    span: str,
) -> dg.AssetCheckResult:
    if result is None:
        return not_applicable(key, f"the interactions are a real {interaction_source.kind} log.", span)
    if result.not_applicable or not math.isfinite(result.value):  # too little data: no verdict, no failure
        why = result.not_applicable or f"too little data to measure it; it needs {result.target}."
        context.log.info(f"{key.name} not applicable on {span}: {why}")
        details = dg.MetadataValue.json(readable_json(result.details))
        return not_applicable(key, why, span, applies="spans with enough data", details=details)
    context.log.info(result.describe())
    return dg.AssetCheckResult(
        check_name=key.name,
        asset_key=key.asset_key,
        passed=bool(result.passed),
        metadata={"measured": readable(float(result.value)), "target": result.target, "span": span}
        | plain_metadata({"details": result.details}),
    )
