"""`category_preferences_nn`: Layer 4, each user's preference 0-10 for the engine's 21 categories.

The model (`preferences/network.py`): Layer 3's lifts corrected by a small network that learnt, from
the span's own users, how far a user's events predict where their other events fall (a held-out slice
of them). Judged on held-out users and days (`preferences/evaluation.py`); published, with the
engine's `Layer4_Final_Predictions.csv`, only when it beats popularity.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.preference_runs import (
    INTERACTIONS,
    PreferencesConfig,
    check_spec,
    gather,
    preference_events,
)
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.engagement.engine_exports import LAYER_4_FILE
from poppy_pipeline.preferences.network import fit_network

ASSET = "category_preferences_nn"


@dg.asset(
    group_name="preferences",
    kinds={"numpy", "csv"},
    io_manager_key="csv_io_manager",
    deps=[INTERACTIONS],
    backfill_policy=single_run,
    check_specs=[check_spec(ASSET)],
    output_required=False,
)
def category_preferences_nn(
    context: dg.AssetExecutionContext,
    config: PreferencesConfig,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
    user_preferences: pd.DataFrame,
) -> Iterator[dg.MaterializeResult | dg.AssetObservation | dg.AssetCheckResult]:
    """`User_ID` and the engine's 21 categories (`A … O`, `Dwarf Planet`, `Gas Giant`, `Ice Giant`,
    `Terrestrial`, `Earth … Uranus`), 0-10, a row per user with events in the span.

    Written with `<outputs>/category_preferences_nn_report.json` and a figure of predicted against
    true values; the truth (`user_preferences`) only judges, it is never fitted.
    """
    gathered = gather(
        context, config, simulation, interaction_source, csv_io_manager, outputs,
        celestial_objects, users, user_preferences,
    )  # fmt: skip
    yield from preference_events(context, ASSET, fit_network, gathered, simulation.seed, config, outputs, LAYER_4_FILE)
