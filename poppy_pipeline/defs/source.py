"""The `interaction_source` resource: simulate, or read a real interaction log instead.

`POPPY_SOURCE_PATH` (a file for `poppy`, a folder for `pings`), `POPPY_SOURCE_FORMAT` (`poppy`
or `pings`) and `POPPY_SOURCE_TIMEZONE` (the zone of timestamps written without a UTC offset,
default UTC), or the same as run config (`resources.interaction_source.config.path`, `.format`,
`.source_timezone`). With no path, the pipeline simulates. The assets downstream of the three
source assets do not change either way.

A real log is checked before anything is written: the source assets (`celestial_objects`,
`users`, `simulated_interactions`) fail with one sentence when the run's window holds no valid
row, so a bad log never replaces the previous good run's files with empty ones.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.action_logs import read_action_log, split_actions_by_day
from poppy_pipeline.catalog import CatalogError
from poppy_pipeline.csv_log import CsvMapping, catalog_from_log, check_csv_log, read_mapping
from poppy_pipeline.daily_rows import DailyRows, split_by_day
from poppy_pipeline.defs.quarantine_checks import Intake
from poppy_pipeline.defs.window import run_partition_keys
from poppy_pipeline.rows import UTC, Checked, checked_zone
from poppy_pipeline.sources import (
    CSV,
    FORMATS,
    PINGS,
    POPPY,
    SIMULATION,
    SourceError,
    SourceFormat,
    check_interaction_log,
    check_pings_objects,
    check_pings_users,
    read_poppy_log,
    users_from_checked_log,
    users_from_poppy_log,
)

DEFAULT_MAX_QUARANTINE_SHARE = 0.01
TIMEZONE_ENV = "POPPY_SOURCE_TIMEZONE"


def default_timezone() -> str:
    return os.environ.get(TIMEZONE_ENV) or UTC


class InteractionSourceResource(dg.ConfigurableResource):
    """Where interactions come from, and how many bad rows are tolerated."""

    path: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_PATH", ""),
        description="A real log: a seed-000 CSV (poppy), a seed-002 folder (pings) or any CSV with a mapping (csv);"
        " empty = simulate ($POPPY_SOURCE_PATH).",
    )
    format: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_FORMAT", "") or POPPY.name,
        description="poppy, pings or csv ($POPPY_SOURCE_FORMAT).",
    )
    source_timezone: str = Field(
        default_factory=default_timezone,
        description="Time zone (IANA name) of timestamps written without a UTC offset; those with one are"
        f" converted to UTC either way (${TIMEZONE_ENV}, default UTC).",
    )
    max_quarantine_share: float = Field(
        default=DEFAULT_MAX_QUARANTINE_SHARE,
        description="The quarantine checks fail when a larger share of an input's rows is rejected.",
    )
    mapping: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_MAPPING", ""),
        description="The csv format's mapping file (YAML: columns, delimiter, event types; $POPPY_SOURCE_MAPPING).",
    )

    def csv_mapping(self) -> CsvMapping | None:
        return read_mapping(Path(self.mapping)) if self.kind == CSV.name else None

    @property
    def kind(self) -> str:
        """`simulation`, `poppy`, `pings` or `csv`."""
        return SIMULATION if not self.path else self.spec().name

    @property
    def is_real(self) -> bool:
        return bool(self.path)

    def location(self) -> Path:
        return Path(self.path)

    def zone(self) -> str:
        return checked_zone(self.source_timezone, f"interaction_source.source_timezone (${TIMEZONE_ENV})")

    def spec(self) -> SourceFormat:
        """The vocabulary of the data: the simulation speaks the poppy one."""
        if not self.path:
            return POPPY
        if self.format not in FORMATS:
            raise SourceError(
                "interaction_source.format (POPPY_SOURCE_FORMAT)",
                f"must be one of {sorted(FORMATS)}, not {self.format!r}",
            )
        return FORMATS[self.format]

    def log_users(self) -> tuple[pd.DataFrame, Checked | None]:
        """The users of a real log, and the checked users file where the format has one."""
        if self.kind == PINGS.name:
            checked = check_pings_users(self.location(), self.zone())
            return _require_some(checked).valid, checked
        if self.kind == CSV.name:
            checked = check_csv_log(self.location(), self.csv_mapping(), self.zone())
            return users_from_checked_log(_require_some(checked)), None
        users = users_from_poppy_log(read_poppy_log(self.location()), self.zone())
        if users.empty:
            raise SourceError(self.location(), "no row has a positive User_ID and a date-time, so there are no users")
        return users, None

    def log_objects(self, catalog: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, Checked | None]:
        """The objects of a real log: its own `pings.csv`, or the Poppy `catalog()`."""
        if self.kind == PINGS.name:
            checked = check_pings_objects(self.location())
            return _require_some(checked).valid, checked
        if self.kind == CSV.name:
            return catalog_from_log(self.location(), self.csv_mapping(), self.zone()), None
        return catalog(), None

    def log_days(self, objects: pd.DataFrame, users: pd.DataFrame, days: list[str]) -> DailyRows:
        """The log's valid rows on each of `days`; a `SourceError` when there is none."""
        checked = check_interaction_log(self.kind, self.location(), objects, users, self.zone(), self.csv_mapping())
        return split_by_day(checked, days, tiebreak=("Interaction_ID",)).require_rows()


class ActionSourceResource(dg.ConfigurableResource):
    """Where `session_actions` comes from: the simulation, or a real action log.

    `POPPY_ACTIONS_PATH` (or run config `resources.action_source.config.path`): a CSV with
    `Session_ID, User_ID, Timestamp, Action, Scroll_Amount`, e.g. what the browser records. With
    no path, the actions are simulated for the sessions of `simulated_interactions`.
    """

    path: str | None = Field(
        default_factory=lambda: os.environ.get("POPPY_ACTIONS_PATH") or None,
        description="A real action log (CSV) to use instead of the simulation ($POPPY_ACTIONS_PATH).",
    )
    source_timezone: str = Field(
        default_factory=default_timezone,
        description="Time zone (IANA name) of timestamps written without a UTC offset; those with one are"
        f" converted to UTC either way (${TIMEZONE_ENV}, default UTC).",
    )
    max_quarantine_share: float = Field(
        default=DEFAULT_MAX_QUARANTINE_SHARE,
        description="The quarantine check fails when a larger share of the log's rows is rejected.",
    )

    def zone(self) -> str:
        return checked_zone(self.source_timezone, f"action_source.source_timezone (${TIMEZONE_ENV})")

    def read(self) -> Checked:
        """The action log, checked (a `SourceError` when it cannot be used)."""
        return read_action_log(Path(self.path or ""), self.zone())

    @property
    def is_real(self) -> bool:
        return bool(self.path)

    @property
    def kind(self) -> str:
        return "action log" if self.is_real else "simulation"


def _require_some(checked: Checked) -> Checked:
    if checked.valid.empty:
        first = f"; first: {checked.rejected['reason'].iloc[0]}" if len(checked.rejected) else ""
        raise SourceError(checked.source_file, f"no valid rows ({checked.input_rows} rows{first})")
    return checked


@contextmanager
def sentences() -> Iterator[None]:
    """An unusable input fails the step with its one-sentence message, not a traceback."""
    try:
        yield
    except (SourceError, CatalogError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None


def check_before_writing(
    context: dg.AssetExecutionContext,
    source: InteractionSourceResource,
    action_source: ActionSourceResource,
    objects: pd.DataFrame | None,
    users: pd.DataFrame | None,
) -> None:
    """Fail a source asset before it writes when the run's window of a real log (interactions or
    actions) that this run reads has no valid row. `objects` and `users`: those of a real log."""
    days = run_partition_keys(context)
    if not days:
        return
    if source.is_real and _in_run(context, "simulated_interactions"):
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
    rows = source.log_days(objects, users, keys)
    context.log.info(rows.describe())
    metadata = {"log": str(rows.checked.source_file), "source_timezone": source.source_timezone}
    intake = Intake(rows.checked.source_file, rows.checked.input_rows, rows.checked.rejected)
    return rows.days, metadata, [intake], rows.counts()
