"""`users`: the simulated user population (or a real log's users)."""

from pathlib import Path

import dagster as dg

from poppy_pipeline.dagster_support.column_schemas import column_schema_metadata
from poppy_pipeline.dagster_support.metadata import counts_json
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.quarantine_checks import Intake, quarantine, quarantine_spec
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource, sentences
from poppy_pipeline.dagster_support.source_steps import check_before_writing
from poppy_pipeline.simulation.pattern_results import top_decile_share
from poppy_pipeline.simulation.population import generate_users


@dg.asset(
    group_name="sources",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    metadata=column_schema_metadata("users"),
    backfill_policy=single_run,
    check_specs=[quarantine_spec("users")],
    dagster_type=dg.Any,  # stated: with check_specs, a `-> MaterializeResult` alone would make it Nothing
)
def users(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    action_source: ActionSourceResource,
    outputs: OutputsResource,
) -> dg.MaterializeResult:
    """`User_ID, Signup_Date, Profile, Device, Activity_Weight, Preferred_Type, Rating_Bias`.

    Simulated: heavy-tailed activity, ~30% with a preferred object type, a personal rating bias,
    sign-up dates spread so that windows inside the growth period contain new users. A `pings`
    log brings its own `users.csv`; a `poppy` log's users signed up the (UTC) day first seen.
    A real log whose window has no valid row fails here, before anything is written.
    """
    settings = interaction_source.simulation_settings(simulation.settings(), outputs.path())
    with sentences():
        if interaction_source.is_real:
            population, checked = interaction_source.log_users()
            catalog = lambda: interaction_source.catalog(settings, Path(simulation.objects_dir)).objects  # noqa: E731
            objects, _ = interaction_source.log_objects(catalog)
        else:
            population, checked, objects = generate_users(settings), None, None
        check_before_writing(context, interaction_source, action_source, objects, population)
    population.attrs |= interaction_source.snapshot_attrs()  # which files it was made from
    intakes = [Intake(checked.source_file, checked.input_rows, checked.rejected)] if checked else []
    counts, check = quarantine(context, "users", intakes, interaction_source.max_quarantine_share, outputs=outputs)
    metadata = {
        "source": interaction_source.kind,
        **interaction_source.decision_metadata(),
        "first_signup": str(population["Signup_Date"].min()),
        "last_signup": str(population["Signup_Date"].max()),
        **counts,
    }
    if not interaction_source.is_real:
        metadata |= {
            "profiles": counts_json(population["Profile"]),
            "devices": counts_json(population["Device"]),
            "preferred_types": counts_json(population["Preferred_Type"].fillna("none")),
            "top_decile_activity_share": top_decile_share(population["Activity_Weight"], len(population)),
        }
    return dg.MaterializeResult(value=population, metadata=metadata, check_results=[check])
