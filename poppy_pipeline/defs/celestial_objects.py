"""`celestial_objects`: the catalog of stars, planets and moons (or of a real log's objects)."""

from pathlib import Path

import dagster as dg
import pandas as pd

from poppy_pipeline.dagster_support.column_schemas import column_schema_metadata
from poppy_pipeline.dagster_support.metadata import counts_json, markdown_table
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.quarantine_checks import Intake, quarantine, quarantine_spec
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource, sentences
from poppy_pipeline.dagster_support.source_steps import check_before_writing
from poppy_pipeline.simulation.catalog import Catalog
from poppy_pipeline.sources.log_files import CSV, PINGS


@dg.asset(
    group_name="sources",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    metadata=column_schema_metadata("celestial_objects"),
    backfill_policy=single_run,
    check_specs=[quarantine_spec("celestial_objects")],
    dagster_type=dg.Any,  # stated: with check_specs, a `-> MaterializeResult` alone would make it Nothing
)
def celestial_objects(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    action_source: ActionSourceResource,
    outputs: OutputsResource,
) -> dg.MaterializeResult:
    """Every object the app shows: `Object_Type, Object_ID, Name, Category, Duration_Sec`.

    Read from `data/objects/{stars,planets,moons}.csv` where present (see `catalog.py` for the
    accepted columns), generated at the configured sizes otherwise; with a `pings` source, the
    log's `pings.csv`; with a `csv` source, the log's items; with the `database` source, the `Stars`,
    `Planets`, `Moons` tables for the types that have no file. A real log whose window has no valid
    row fails here, before anything is written.
    """
    own_catalog = interaction_source.kind in (PINGS.name, CSV.name)  # the log brings its objects
    with sentences():
        settings = interaction_source.simulation_settings(simulation.settings(), outputs.path())
        objects_dir = Path(simulation.objects_dir)
        catalog = interaction_source.catalog(settings, objects_dir) if not own_catalog else None
        objects, checked = interaction_source.log_objects(lambda: _poppy_objects(catalog))
        users = interaction_source.log_users()[0] if interaction_source.checked_by_reading else None
        check_before_writing(context, interaction_source, action_source, objects, users)
    objects.attrs |= interaction_source.snapshot_attrs()  # which files it was made from
    if catalog is not None:
        sources = catalog.sources
        intakes = [Intake(f.path, len(f.objects) + len(f.quarantined), f.quarantined) for f in catalog.files]
        for read in catalog.files:
            context.log.info(f"{read.path}: columns used {read.column_mapping}, ignored {read.ignored_columns}")
    elif checked is not None:  # a pings log
        sources = {"Ping": str(checked.source_file)}
        intakes = [Intake(checked.source_file, checked.input_rows, checked.rejected)]
    else:  # a csv log: its bad rows are quarantined with the interactions
        sources, intakes = {str(t): interaction_source.path for t in objects["Object_Type"].unique()}, []
    counts, check = quarantine(
        context, "celestial_objects", intakes, interaction_source.max_quarantine_share, outputs=outputs
    )
    return dg.MaterializeResult(
        value=objects,
        metadata={
            "sources": dg.MetadataValue.json(sources),
            **interaction_source.decision_metadata(),
            "objects_per_type": counts_json(objects["Object_Type"]),
            "categories": dg.MetadataValue.md(
                markdown_table(
                    objects.groupby(["Object_Type", "Category"]).size().rename("objects").reset_index(), max_rows=40
                )
            ),
            **counts,
        },
        check_results=[check],
    )


def _poppy_objects(catalog: Catalog | None) -> pd.DataFrame:
    """The Poppy catalog's objects; asked for only where the source has none of its own."""
    if catalog is None:
        raise ValueError("a log that brings its own objects was asked for the Poppy catalog's")
    return catalog.objects
