"""`interaction_report`: seed 000's exploration and seed 002's metrics, as figures and JSON."""

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.common.paths import write_json
from poppy_pipeline.common.tables import read_csv_batches
from poppy_pipeline.dagster_support.day_span import SpanConfig, span_days, span_frames
from poppy_pipeline.dagster_support.io_managers import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.engagement.report import NEW_USER_DAYS, draw_figures, markdown_gallery, write_figures
from poppy_pipeline.engagement.report_totals import ReportTotals, object_scores


class ReportConfig(SpanConfig):
    new_user_days: int = Field(
        default=NEW_USER_DAYS, description="A user is new when signed up this many days before the last event."
    )


@dg.asset(
    group_name="engagement",
    kinds={"pandas", "json", "matplotlib"},
    deps=["simulated_interactions", "engagement_scores"],
    backfill_policy=single_run,
)
def interaction_report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
) -> dg.MaterializeResult:
    """`<outputs>/interaction_report.json` and `<outputs>/figures/*.png`.

    Figures: interactions per user and per object (log scale), ratings, daily trend by type,
    hour of day, watch ratio of views, top 10 objects by engagement, new vs existing users.
    The window is read one day at a time into totals of the size of its users, objects and
    distinct watch ratios (`report_totals.py`), never all its events at once; `engagement_scores`
    (the top objects) is read a block of pairs at a time.
    """
    days = span_days(context, config)
    spec = interaction_source.spec()
    totals = ReportTotals(celestial_objects, users, spec.view_type, spec.engaging_types, spec.rated_type)
    for interactions in span_frames(context, csv_io_manager, "simulated_interactions", days):
        totals.add(interactions)
    scores = csv_io_manager.stored_path("engagement_scores")  # this run's, when it made one
    if not csv_io_manager.path_exists(scores):
        raise dg.Failure(f"{scores} is missing; materialize engagement_scores first.")
    # Only the objects' summed scores: the pairs are read a block at a time.
    with scores.open("rb") as handle:
        objects = object_scores(read_csv_batches(handle, ["Object_Type", "Object_ID", "engagement_score"]))
    report = totals.report(objects, config.new_user_days)
    report["window"] |= {"first_day": days[0], "last_day": days[-1], "source": interaction_source.kind}
    figures = draw_figures(totals.figure_data(), report)
    with outputs.writing():
        paths = [outputs.published_path(p) for p in write_figures(figures, outputs.write_root() / "figures")]
        report_path = outputs.published_path(write_json(report, outputs.write_root() / "interaction_report.json"))
    context.log.info(f"wrote {report_path} and {len(paths)} figures in {paths[0].parent}")
    quality = report["data_quality"]
    if quality["users_with_events_before_signup"]:
        context.log.warning(
            f"{quality['users_with_events_before_signup']} users have {quality['events_before_signup']} events"
            f" before their sign-up date (e.g. {quality['user_ids'][:5]}); they are kept in every figure"
        )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(report_path)),
            "figures": dg.MetadataValue.path(str(paths[0].parent)),
            "window": f"{days[0]}..{days[-1]}",
            "watch_ratio_views": dg.MetadataValue.json(report["watch_ratio_views"]),
            "top_objects": dg.MetadataValue.json(report["top_objects"]),
            "new_vs_existing": dg.MetadataValue.json(report["new_vs_existing"]),
            "users_with_events_before_signup": quality["users_with_events_before_signup"],
            "events_before_signup": quality["events_before_signup"],
            "data_quality": dg.MetadataValue.json(quality),
            "report": dg.MetadataValue.md(markdown_gallery(figures)),
        }
    )
