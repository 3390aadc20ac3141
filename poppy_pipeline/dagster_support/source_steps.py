"""What the source assets do with the `interaction_source` and `action_source` resources: check a real
log's span before anything is written, and read its days (held to the files the upstream tables were
made from)."""

import dagster as dg
import pandas as pd

from poppy_pipeline.dagster_support.day_span import run_partition_keys
from poppy_pipeline.dagster_support.quarantine_checks import Intake
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource
from poppy_pipeline.sources import database
from poppy_pipeline.sources.action_logs import split_actions_by_day
from poppy_pipeline.sources.database import DATABASE


def check_before_writing(
    context: dg.AssetExecutionContext,
    source: InteractionSourceResource,
    action_source: ActionSourceResource,
    objects: pd.DataFrame | None,
    users: pd.DataFrame | None,
) -> None:
    """Fail a source asset before it writes when the run's span of a real log (interactions or
    actions) that this run reads has no valid row. `objects` and `users`: those of a real log."""
    days = run_partition_keys(context)
    if not days:
        return
    if source.checked_by_reading and _in_run(context, "simulated_interactions"):
        if objects is None or users is None:  # a log read before writing has both (its own or Poppy's)
            raise ValueError("check_before_writing: a real log's days are checked with its objects and users")
        context.log.info(f"checked before writing: {source.log_days(objects, users, days).describe()}")
    if action_source.is_real and _in_run(context, "session_actions"):
        actions = split_actions_by_day(action_source.read(), days).require_rows()
        context.log.info(f"checked before writing: {actions.describe()}")


def _in_run(context: dg.AssetExecutionContext, asset: str) -> bool:
    selection = context.run.asset_selection  # empty or None: the whole job
    return not selection or dg.AssetKey(asset) in selection


def read_log_days(
    context: dg.AssetExecutionContext,
    source: InteractionSourceResource,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    keys: list[str],
) -> tuple[dict[str, pd.DataFrame], dict, list[Intake], dict]:
    """The run's days of a real log, its metadata, its intake and its row accounting."""
    metadata: dict[str, str | int] = {"log": str(source.location()), "source_timezone": source.source_timezone}
    source.hold_to(objects, "celestial_objects")
    source.hold_to(users, "users")
    if source.kind == DATABASE:
        rows, counts = source.database_days(objects, users, keys)
        metadata |= {
            "log": source.database_name(),
            "rows_read": rows.checked.input_rows,
            "rows_without_timestamp": counts[database.NO_TIMESTAMP],
            "rows_outside_days_not_read": counts[database.OUTSIDE],
        }
    else:
        rows = source.log_days(objects, users, keys)
    context.log.info(rows.describe())
    intake = Intake(rows.checked.source_file, rows.checked.input_rows, rows.checked.rejected)
    return rows.days, metadata, [intake], rows.counts()
