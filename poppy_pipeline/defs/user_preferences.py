"""`user_preferences`: the truth Layers 3 and 4 are judged against, beside `users`; never read by a model."""

import dagster as dg
import pandas as pd

from poppy_pipeline.dagster_support.metadata import markdown_table
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES, ENGINE_COLUMNS
from poppy_pipeline.simulation.tastes import true_preferences


@dg.asset(group_name="sources", kinds={"pandas", "csv"}, io_manager_key="csv_io_manager", backfill_policy=single_run)
def user_preferences(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    users: pd.DataFrame,
) -> dg.MaterializeResult[pd.DataFrame]:
    """`User_ID` and each simulated user's true preference 0-10 for the engine's 21 categories (5 =
    indifferent; see `simulation/tastes.py`), which their choices of objects, Likes and ratings follow.

    Only the preference assets' judging reads it. A real log has no truth: the table is empty.
    """
    if interaction_source.is_real:
        context.log.info("user_preferences: the interactions are real, so there is no truth; the table is empty")
        empty = pd.DataFrame({column: pd.Series(dtype="float64") for column in ENGINE_COLUMNS})
        return dg.MaterializeResult(value=empty, metadata={"users": 0, "truth": "none (real data)"})
    settings = interaction_source.simulation_settings(simulation.settings(), outputs.path())
    truth = true_preferences(settings, users)
    values = truth[list(ENGINE_CATEGORIES)]
    summary = pd.DataFrame(
        {
            "category": list(ENGINE_CATEGORIES),
            "mean": values.mean().round(2).to_numpy(),
            "share_above_5": (values > 5).mean().round(3).to_numpy(),
            "share_above_8": (values > 8).mean().round(3).to_numpy(),
        }
    )
    return dg.MaterializeResult(
        value=truth,
        metadata={
            "users": len(truth),
            "truth": "simulation",
            "per_category": dg.MetadataValue.md(markdown_table(summary, max_rows=21)),
        },
    )
