"""`users`: the simulated user population (or a real log's users)."""

import dagster as dg

from poppy_pipeline.database import DATABASE
from poppy_pipeline.defs.database_source import database_users
from poppy_pipeline.defs.partitions import single_run
from poppy_pipeline.defs.quarantine_checks import Intake, quarantine, quarantine_spec
from poppy_pipeline.defs.resources import SimulationResource
from poppy_pipeline.defs.source import InteractionSourceResource
from poppy_pipeline.patterns import top_decile_share
from poppy_pipeline.population import generate_users
from poppy_pipeline.sources import PINGS, POPPY, check_pings_users, read_poppy_log, users_from_poppy_log


@dg.asset(
    group_name="sources",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    backfill_policy=single_run,
    check_specs=[quarantine_spec("users")],
)
def users(
    context: dg.AssetExecutionContext, simulation: SimulationResource, interaction_source: InteractionSourceResource
):  # -> MaterializeResult; with check_specs, Dagster reads an annotation as the output type
    """`User_ID, Signup_Date, Profile, Device, Activity_Weight, Preferred_Type, Rating_Bias`.

    Simulated: heavy-tailed activity, ~30% with a preferred object type, a personal rating bias,
    sign-up dates spread so that windows inside the growth period contain new users. A `pings`
    log brings its own `users.csv`; a `poppy` log's users signed up the day they were first seen.
    """
    intakes: list[Intake] = []
    if interaction_source.kind == PINGS.name:
        checked = check_pings_users(interaction_source.location())
        population = checked.valid
        intakes.append(Intake(checked.source_file, checked.input_rows, checked.rejected))
    elif interaction_source.kind == POPPY.name:
        raw, _ = read_poppy_log(interaction_source.location())
        population = users_from_poppy_log(raw)
    elif interaction_source.kind == DATABASE:
        population = database_users(interaction_source)
    else:
        population = generate_users(simulation.settings())
    counts, check = quarantine(context, "users", intakes, interaction_source.max_quarantine_share)
    metadata = {
        "source": interaction_source.kind,
        **interaction_source.decision_metadata(),
        "first_signup": str(population["Signup_Date"].min()),
        "last_signup": str(population["Signup_Date"].max()),
        **counts,
    }
    if not interaction_source.is_real:
        metadata |= {
            "profiles": dg.MetadataValue.json(population["Profile"].value_counts().to_dict()),
            "devices": dg.MetadataValue.json(population["Device"].value_counts().to_dict()),
            "preferred_types": dg.MetadataValue.json(
                population["Preferred_Type"].fillna("none").value_counts().to_dict()
            ),
            "top_decile_activity_share": top_decile_share(population["Activity_Weight"], len(population)),
        }
    return dg.MaterializeResult(value=population, metadata=metadata, check_results=[check])
