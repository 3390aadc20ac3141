"""`engagement_scores`: seed 002's engagement score per (user, object) over a span of days."""

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.dagster_support.column_schemas import column_schema_metadata
from poppy_pipeline.dagster_support.day_span import SpanConfig, span_days, span_frames
from poppy_pipeline.dagster_support.metadata import markdown_table
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.engagement.span_totals import PairTotals


class EngagementConfig(SpanConfig):
    event_weights: dict[str, float] | None = Field(
        default=None,
        description="Weight of each event type; default: View 0.2, Click 0.5, Rate 1.5, Favorite 2.0 for the"
        " Poppy types, seed 002's (impression 0, view 0.2, like 1.0, comment 1.5, share 2.0,"
        " follow_creator 2.5) for pings.",
    )


def event_weights(config: EngagementConfig, source: InteractionSourceResource) -> dict[str, float]:
    return dict(config.event_weights) if config.event_weights else dict(source.spec().event_weights)


@dg.asset(
    group_name="engagement",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    metadata=column_schema_metadata("engagement_scores"),
    deps=["simulated_interactions"],
    backfill_policy=single_run,
)
def engagement_scores(
    context: dg.AssetExecutionContext,
    config: EngagementConfig,
    interaction_source: InteractionSourceResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
) -> dg.MaterializeResult[pd.DataFrame]:
    """`User_ID, Object_Type, Object_ID, n_events, watch_time_sec, watch_time_ratio,
    engagement_score, last_interaction`, one row per (user, object) pair of the span.

    Per event `weight[type] + clip(watch_time / duration, 0, 1)`; the score sums a pair's events.
    The span is what the run was launched for (`day_span.span_days`), read one day at a time:
    memory grows with the pairs, not the events.
    """
    days = span_days(context, config)
    weights = event_weights(config, interaction_source)
    totals = PairTotals(celestial_objects, weights)
    for interactions in span_frames(context, csv_io_manager, "simulated_interactions", days):
        totals.add(interactions)
    scores = totals.frame()
    return dg.MaterializeResult(
        value=scores,
        metadata={
            "span": f"{days[0]}..{days[-1]}",
            "events": totals.events,
            "pairs": len(scores),
            "event_weights": dg.MetadataValue.json(weights),
            "top_pairs": dg.MetadataValue.md(markdown_table(scores.nlargest(10, "engagement_score"))),
        },
    )
