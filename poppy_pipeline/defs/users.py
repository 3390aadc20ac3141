"""`users`: the simulated user population."""

import dagster as dg
import pandas as pd

from poppy_pipeline.defs.partitions import single_run
from poppy_pipeline.defs.resources import SimulationResource
from poppy_pipeline.patterns import top_decile_share
from poppy_pipeline.population import generate_users


@dg.asset(
    group_name="simulation",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    backfill_policy=single_run,
    tags={"layer": "source"},
)
def users(simulation: SimulationResource) -> dg.MaterializeResult[pd.DataFrame]:
    """`User_ID, Signup_Date, Profile, Device, Activity_Weight, Preferred_Type, Rating_Bias`.

    Heavy-tailed activity, ~30% with a preferred object type, a personal rating bias, and sign-up
    dates spread so that windows inside the growth period contain new users.
    """
    population = generate_users(simulation.settings())
    return dg.MaterializeResult(
        value=population,
        metadata={
            "profiles": dg.MetadataValue.json(population["Profile"].value_counts().to_dict()),
            "devices": dg.MetadataValue.json(population["Device"].value_counts().to_dict()),
            "preferred_types": dg.MetadataValue.json(
                population["Preferred_Type"].fillna("none").value_counts().to_dict()
            ),
            "first_signup": str(population["Signup_Date"].min()),
            "last_signup": str(population["Signup_Date"].max()),
            "top_decile_activity_share": top_decile_share(population["Activity_Weight"], len(population)),
        },
    )
