"""The three source assets' `database` branch: catalog, users and days from the app's database."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd

from poppy_pipeline import database
from poppy_pipeline.catalog import CATALOG_COLUMNS, build_catalog
from poppy_pipeline.defs.quarantine_checks import Intake
from poppy_pipeline.defs.resources import SimulationResource
from poppy_pipeline.defs.source import InteractionSourceResource
from poppy_pipeline.settings import OBJECT_TYPES
from poppy_pipeline.sources import SourceError, split_by_day


def database_catalog(
    context: dg.AssetExecutionContext, simulation: SimulationResource, source: InteractionSourceResource
):
    """Object files where given (as for the simulation), the `Stars`, `Planets`, `Moons` tables otherwise.

    Returns (objects, sources per type, intakes)."""
    settings = simulation.settings()
    catalog = build_catalog(settings, Path(simulation.objects_dir))
    frames = {t: catalog.objects[catalog.objects["Object_Type"] == t] for t in OBJECT_TYPES}
    reads = list(catalog.files)
    with _session(source) as session:
        for object_type in OBJECT_TYPES:
            if catalog.sources[object_type] != "generated":
                continue
            read = database.read_catalog_table(session, object_type, settings.seed)
            frames[object_type] = read.objects
            catalog.sources[object_type] = database.describe(source.url(), read.path.name)
            reads.append(read)
    for read in reads:
        context.log.info(f"{read.path}: columns used {read.column_mapping}, ignored {read.ignored_columns}")
    objects = pd.concat([frames[t] for t in OBJECT_TYPES], ignore_index=True)[CATALOG_COLUMNS]
    intakes = [Intake(r.path, len(r.objects) + len(r.quarantined), r.quarantined) for r in reads]
    return objects, catalog.sources, intakes


def database_users(source: InteractionSourceResource) -> pd.DataFrame:
    """Every user of `Interactions`, signed up on the day first seen."""
    with _session(source) as session:
        return database.read_users(session)


def read_database_window(
    context: dg.AssetExecutionContext,
    source: InteractionSourceResource,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    keys: list[str],
):
    """The days `keys` of `Interactions`, validated; returns (days, metadata, intakes)."""
    with _session(source) as session:
        raw, counts = database.read_interactions(session, keys)
    checked = database.check_interactions(raw, objects, users, source.event_types)
    days, outside = split_by_day(checked.valid, keys, tiebreak=("Interaction_ID",))
    context.log.info(
        f"{source.decision_metadata()['database']}: {checked.input_rows} rows read in {len(keys)} day queries"
        f" ({counts['no timestamp']} without a timestamp), {len(checked.valid)} valid"
        f" ({outside} outside {keys[0]}..{keys[-1]}), {len(checked.rejected)} quarantined"
    )
    metadata = {
        "rows_read": checked.input_rows,
        "rows_without_timestamp": counts["no timestamp"],
        "valid_rows_outside_window": outside,
    }
    return days, metadata, [Intake(checked.source_file, checked.input_rows, checked.rejected)]


@contextmanager
def _session(source: InteractionSourceResource) -> Iterator[database.Session]:
    """A read-only session; a database that cannot be read fails the step with its one sentence."""
    try:
        with database.read_only(source.url(), source.chunk_rows) as session:
            yield session
    except SourceError as error:
        raise dg.Failure(str(error)) from None
