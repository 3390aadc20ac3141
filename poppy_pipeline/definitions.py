"""The Dagster code location: `dagster dev` (via workspace.yaml) or `-m poppy_pipeline.definitions`."""

import dagster as dg

from poppy_pipeline.dagster_support.io_managers import CsvIOManager, OnnxIOManager, PickleIOManager
from poppy_pipeline.dagster_support.run_lock_executor import folder_locked_executor
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource
from poppy_pipeline.defs.browser_bundle import browser_bundle
from poppy_pipeline.defs.celestial_objects import celestial_objects
from poppy_pipeline.defs.click_model import click_model
from poppy_pipeline.defs.click_model_onnx import click_model_onnx
from poppy_pipeline.defs.engagement_scores import engagement_scores
from poppy_pipeline.defs.engine_exports import engine_exports
from poppy_pipeline.defs.fidelity_report import fidelity_report
from poppy_pipeline.defs.interaction_report import interaction_report
from poppy_pipeline.defs.schedules import daily_job, daily_schedule, weekly_model_job, weekly_model_schedule
from poppy_pipeline.defs.session_actions import session_actions, session_actions_checks
from poppy_pipeline.defs.simulated_interactions import simulated_interactions, simulated_interactions_patterns
from poppy_pipeline.defs.simulation_fit import simulation_fit
from poppy_pipeline.defs.sliding_window_features import sliding_window_features, sliding_window_features_targets
from poppy_pipeline.defs.trending_objects import trending_objects
from poppy_pipeline.defs.users import users

defs = dg.Definitions(
    assets=[
        celestial_objects,
        users,
        simulated_interactions,
        engagement_scores,
        trending_objects,
        engine_exports,
        interaction_report,
        session_actions,
        sliding_window_features,
        click_model,
        click_model_onnx,
        browser_bundle,
        simulation_fit,
        fidelity_report,
    ],
    asset_checks=[simulated_interactions_patterns, session_actions_checks, sliding_window_features_targets],
    jobs=[daily_job, weekly_model_job],
    schedules=[daily_schedule, weekly_model_schedule],
    executor=folder_locked_executor,
    resources={
        "simulation": SimulationResource(),
        "interaction_source": InteractionSourceResource(),
        "action_source": ActionSourceResource(),
        "csv_io_manager": CsvIOManager(),
        "pickle_io_manager": PickleIOManager(),
        "onnx_io_manager": OnnxIOManager(),
    },
)
