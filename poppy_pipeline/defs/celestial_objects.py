"""`celestial_objects`: the catalog of stars, planets and moons."""

from pathlib import Path

import dagster as dg
import pandas as pd

from poppy_pipeline.catalog import build_catalog
from poppy_pipeline.defs.metadata import markdown_table
from poppy_pipeline.defs.partitions import single_run
from poppy_pipeline.defs.resources import SimulationResource
from poppy_pipeline.quarantine import write_quarantine


@dg.asset(
    group_name="simulation",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    backfill_policy=single_run,
    tags={"layer": "source"},
)
def celestial_objects(
    context: dg.AssetExecutionContext, simulation: SimulationResource
) -> dg.MaterializeResult[pd.DataFrame]:
    """Every object the app shows: `Object_Type, Object_ID, Name, Category, Duration_Sec`.

    Read from `data/objects/{stars,planets,moons}.csv` where present (see `catalog.py` for the
    accepted columns), generated at the configured sizes otherwise.
    """
    catalog = build_catalog(simulation.settings(), Path(simulation.objects_dir))
    quarantined = 0
    for read in catalog.files:
        context.log.info(
            f"{read.path}: {len(read.objects)} objects kept, {len(read.quarantined)} quarantined;"
            f" columns used {read.column_mapping}, ignored {read.ignored_columns}"
        )
        written = write_quarantine("celestial_objects", read.path.name, read.quarantined)
        if written:
            quarantined += len(read.quarantined)
            context.log.warning(f"{len(read.quarantined)} rows of {read.path} quarantined in {written}")
    objects = catalog.objects
    return dg.MaterializeResult(
        value=objects,
        metadata={
            "sources": dg.MetadataValue.json(catalog.sources),
            "objects_per_type": dg.MetadataValue.json(objects["Object_Type"].value_counts().to_dict()),
            "categories": dg.MetadataValue.md(
                markdown_table(
                    objects.groupby(["Object_Type", "Category"]).size().rename("objects").reset_index(), max_rows=40
                )
            ),
            "quarantined_rows": quarantined,
        },
    )
