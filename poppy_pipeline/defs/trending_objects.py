"""`trending_objects`: the Layer-2 trending list the C# recommendation engine reads."""

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.dagster_support.column_schemas import column_schema_metadata
from poppy_pipeline.dagster_support.day_span import span_days, span_frames
from poppy_pipeline.dagster_support.metadata import counts_json, markdown_table
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.defs.engagement_scores import EngagementConfig, event_weights
from poppy_pipeline.engagement.scores import TRENDING_COLUMNS
from poppy_pipeline.engagement.span_totals import TrendingTotals


class TrendingConfig(EngagementConfig):
    half_life_days: float = Field(default=7.0, description="An event's engagement halves every this many days.")
    top_n: int = Field(default=100, description="Objects kept per Object_Type.")


@dg.asset(
    group_name="engagement",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    metadata=column_schema_metadata("trending_objects"),
    deps=["simulated_interactions"],
    backfill_policy=single_run,
)
def trending_objects(
    context: dg.AssetExecutionContext,
    config: TrendingConfig,
    interaction_source: InteractionSourceResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
) -> dg.MaterializeResult[pd.DataFrame]:
    """`Object_Type, Object_ID, total_interactions, num_views, num_clicks, num_favorites,
    trending_score` (0-100): per type, the `top_n` objects by engagement decayed with a
    `half_life_days` half-life to the end of the span.

    Decay needs each event's time and type, which the pair-level `engagement_scores` does not
    keep, so this reads the span's events (one day at a time) and scores them the same way.
    """
    days = span_days(context, config)
    as_of = pd.Timestamp(days[-1]) + pd.Timedelta(days=1)
    spec = interaction_source.spec()
    weights = event_weights(config, interaction_source)
    totals = TrendingTotals(celestial_objects, weights, spec.trending_roles, as_of, config.half_life_days)
    for interactions in span_frames(context, csv_io_manager, "simulated_interactions", days):
        totals.add(interactions)
    trending = totals.top(config.top_n)
    return dg.MaterializeResult(
        value=trending[TRENDING_COLUMNS],
        metadata={
            "span": f"{days[0]}..{days[-1]}",
            "as_of": str(as_of),
            "per_type": counts_json(trending["Object_Type"]),
            "preview": dg.MetadataValue.md(markdown_table(trending.head(10))),
        },
    )
