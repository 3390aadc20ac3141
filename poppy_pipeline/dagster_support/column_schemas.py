"""The declared schemas (`common/schemas.py`) as Dagster's `TableSchema`, so the UI shows each table's
columns: on the asset's definition (the declared kinds) and on each materialization (the concrete
types it was written with, e.g. text IDs for a log whose IDs are text)."""

from collections.abc import Mapping

import dagster as dg

from poppy_pipeline.common.schemas import ALLOWED, schema_of

COLUMN_SCHEMA = "dagster/column_schema"


def column_schema(table: str, concrete: Mapping[str, str] | None = None) -> dg.TableSchema:
    """`table`'s declared columns; `concrete`: the types one materialization was written with."""
    columns = []
    for column in schema_of(table).columns:
        if concrete is not None:
            kind = concrete.get(column.name, column.default)
        else:
            kind = (
                column.kind
                if len(ALLOWED[column.kind]) == 1
                else f"{column.kind} ({' or '.join(ALLOWED[column.kind])})"
            )
        optional = "" if column.required else " Only some sources have it."
        columns.append(
            dg.TableColumn(
                column.name,
                type=kind,
                description=column.description + optional,
                constraints=dg.TableColumnConstraints(nullable=column.nullable),
            )
        )
    return dg.TableSchema(columns=columns)


def column_schema_metadata(table: str) -> dict[str, dg.TableSchema]:
    """The definition metadata of an asset stored as `table`."""
    return {COLUMN_SCHEMA: column_schema(table)}
