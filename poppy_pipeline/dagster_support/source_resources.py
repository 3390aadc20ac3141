"""The `interaction_source` resource: simulate, or read a real interaction log instead.

`POPPY_SOURCE_PATH` (a file for `poppy`, a folder for `pings`), `POPPY_SOURCE_FORMAT` (`poppy`
or `pings`) and `POPPY_SOURCE_TIMEZONE` (the zone of timestamps written without a UTC offset,
default UTC), or the same as run config (`resources.interaction_source.config.path`, `.format`,
`.source_timezone`). With no path, the pipeline simulates. The assets downstream of the three
source assets do not change either way.

A real log is checked before anything is written: the source assets (`celestial_objects`,
`users`, `simulated_interactions`) fail with one sentence when the run's span holds no valid
row, so a bad log never replaces the previous good run's files with empty ones. (The database's
span is counted by the decision below; its rows are read and checked by `simulated_interactions`
alone, and the other two write the tables' own users and objects.)

`POPPY_SOURCE_FORMAT=database` reads the Poppy app's database at `POPPY_DATABASE_URL` instead
(see `poppy_pipeline/sources/database.py`; its naive timestamps are read in `source_timezone` too); with
fewer than `min_real_interactions` rows in the run's span it fails, or simulates when
`when_too_few` is `simulate`. The decision is made once per run (the first time an asset asks),
so the three source assets agree; the span's rows are read once, by `simulated_interactions`.
Simulating instead, they use the settings of an earlier `simulation_fit.json` of the same
database when there is one (`poppy_pipeline/sources/fallback.py`), chosen once too.
"""

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from poppy_pipeline.dagster_support.day_span import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG
from poppy_pipeline.dagster_support.partitions import daily_partitions
from poppy_pipeline.fidelity.fit import FIT_FILE
from poppy_pipeline.simulation.catalog import Catalog, CatalogError, build_catalog
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources import database, database_connection
from poppy_pipeline.sources.action_logs import read_action_log
from poppy_pipeline.sources.csv_log import CsvMapping, catalog_from_log, check_csv_log, read_mapping
from poppy_pipeline.sources.daily_rows import DailyRows, split_by_day
from poppy_pipeline.sources.database import DATABASE, DEFAULT_EVENT_TYPES
from poppy_pipeline.sources.database_connection import DEFAULT_CHUNK_ROWS
from poppy_pipeline.sources.fallback import FallbackSimulation, fallback_simulation
from poppy_pipeline.sources.log_files import (
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
from poppy_pipeline.sources.rows import UTC, Checked, checked_zone
from poppy_pipeline.sources.snapshots import SOURCE_FILES_ATTR, SourceSnapshot

# The first day a run can have: the log's days before it say so, naming POPPY_PARTITIONS_START.
PARTITIONS_START = str(daily_partitions.start.date())

DEFAULT_MAX_QUARANTINE_SHARE = 0.01
TIMEZONE_ENV = "POPPY_SOURCE_TIMEZONE"
# As the back end: its Layer-2 job uses the database from 300 interactions on.
DEFAULT_MIN_REAL_INTERACTIONS = 300
# The span the summaries read by default (SpanConfig.trailing_days).
TRAILING_DAYS = 30


def default_timezone() -> str:
    return os.environ.get(TIMEZONE_ENV) or UTC


class LogSourceResource(dg.ConfigurableResource):
    """What every source of real rows shares: the zone of naive timestamps and the quarantine bar."""

    resource_key: ClassVar[str] = ""  # named in the error for an unknown zone

    source_timezone: str = Field(
        default_factory=default_timezone,
        description="Time zone (IANA name) of timestamps written without a UTC offset; those with one are"
        f" converted to UTC either way (${TIMEZONE_ENV}, default UTC).",
    )
    max_quarantine_share: float = Field(
        default=DEFAULT_MAX_QUARANTINE_SHARE,
        description="The quarantine checks fail when a larger share of the input's rows is rejected.",
    )
    # Every read of a source file in this step goes through it: a file that changes is refused.
    _snapshot: SourceSnapshot = PrivateAttr(default_factory=SourceSnapshot)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._snapshot = SourceSnapshot()

    def read_file(self, path: Path) -> bytes:
        return self._snapshot.read(path)

    def snapshot_attrs(self) -> dict:
        """What a table made from the source files records about them (for the steps after it)."""
        recorded = self._snapshot.recorded()
        return {SOURCE_FILES_ATTR: recorded} if recorded else {}

    def hold_to(self, table: pd.DataFrame, name: str) -> None:
        """Refuse to read files other than those `table` (e.g. `users`) was made from."""
        self._snapshot.expect(table.attrs.get(SOURCE_FILES_ATTR, {}), name)

    def zone(self) -> str:
        return checked_zone(self.source_timezone, f"{self.resource_key}.source_timezone (${TIMEZONE_ENV})")


class InteractionSourceResource(LogSourceResource):
    """Where interactions come from, and how many bad rows are tolerated."""

    resource_key: ClassVar[str] = "interaction_source"

    path: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_PATH", ""),
        description="A real log: a seed-000 CSV (poppy), a seed-002 folder (pings) or any CSV with a mapping (csv);"
        " empty = simulate ($POPPY_SOURCE_PATH).",
    )
    format: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_FORMAT", "") or POPPY.name,
        description="poppy, pings, csv or database ($POPPY_SOURCE_FORMAT).",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the app's database (format database); empty = $POPPY_DATABASE_URL, read at"
        " run time so that the password stays out of Dagster's storage.",
    )
    event_types: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_EVENT_TYPES),
        description="The database's Interaction_Type values and the pipeline type each becomes; others are rejected.",
    )
    min_real_interactions: int = Field(
        default=DEFAULT_MIN_REAL_INTERACTIONS,
        description="Fewest rows of the run's span for the database to be used (the back end's 300).",
    )
    when_too_few: str = Field(default="fail", description="fail or simulate, when the span holds fewer rows.")
    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, description="Rows fetched at a time from the database.")
    mapping: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_MAPPING", ""),
        description="The csv format's mapping file (YAML: columns, delimiter, event types; $POPPY_SOURCE_MAPPING).",
    )
    _run_tags: dict[str, str] = PrivateAttr(default_factory=dict)
    _decision: database.Decision | None = PrivateAttr(default=None)
    _fallback: FallbackSimulation | None = PrivateAttr(default=None)
    _log: logging.Logger | dg.DagsterLogManager | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        self._run_tags = dict(context.run.tags) if context.run else {}
        self._log = context.log  # the run's event log

    def csv_mapping(self) -> CsvMapping | None:
        return read_mapping(Path(self.mapping)) if self.kind == CSV.name else None

    @property
    def kind(self) -> str:
        """`simulation`, `poppy`, `pings`, `csv` or `database`."""
        if self.format == DATABASE:
            return DATABASE if self.database_decision().use_database else SIMULATION
        return SIMULATION if not self.path else self.spec().name

    @property
    def is_real(self) -> bool:
        return self.kind != SIMULATION

    @property
    def checked_by_reading(self) -> bool:
        """Whether the source assets read the run's span of the log before writing. Not the database:
        its decision counted the span's rows, and `simulated_interactions` alone reads them."""
        return self.is_real and self.kind != DATABASE

    def url(self) -> str:
        url = self.database_url or os.environ.get("POPPY_DATABASE_URL", "")
        if not url:
            raise SourceError("POPPY_DATABASE_URL", "is not set, but POPPY_SOURCE_FORMAT is database")
        return url

    def database_decision(self) -> database.Decision:
        """Database or simulation for this run, decided once, on the rows of the run's span."""
        if self._decision is None:
            first, last = run_span(self._run_tags)
            with sentences():
                self._decision = database.decide(
                    self.url(),
                    first,
                    last,
                    self.event_types,
                    self.min_real_interactions,
                    self.when_too_few,
                    self.zone(),
                )
            (self._log or dg.get_dagster_logger()).info(self._decision.message)
        return self._decision

    @property
    def simulating_instead(self) -> bool:
        """Whether this run simulates because the database's span holds too few rows."""
        return self.format == DATABASE and not self.database_decision().use_database

    def simulation_settings(self, configured: SimulationSettings, outputs_dir: Path) -> SimulationSettings:
        """The settings the simulation runs with: `configured`, or, when simulating instead of too few
        rows, those of an earlier fit of the same database in `outputs_dir` (decided once, like the decision)."""
        if not self.simulating_instead:
            return configured
        if self._fallback is None:
            self._fallback = fallback_simulation(
                configured,
                outputs_dir / FIT_FILE,
                self.database_name(),
                run_span(self._run_tags)[0],
                self.min_real_interactions,
            )
            (self._log or dg.get_dagster_logger()).info(self._fallback.description)
        return self._fallback.settings

    def decision_metadata(self) -> dict[str, str]:
        """What a source asset records about the database decision (nothing for other sources)."""
        if self.format != DATABASE:
            return {}
        fallback = {"simulation_settings": self._fallback.description} if self._fallback else {}
        return {"database": self.database_name(), "database_decision": self.database_decision().message, **fallback}

    def fitted_log(self) -> str:
        """What `simulation_fit` records it was fitted to: the database's table or the log's path, read."""
        if self.kind == DATABASE:
            return self.database_name()
        return str(self.location()) if self.is_real else SIMULATION

    def database_name(self) -> str:
        return database_connection.describe(self.url(), database_connection.INTERACTIONS)

    @contextmanager
    def session(self) -> Iterator[database_connection.Session]:
        """A read-only session on the app's database."""
        with database_connection.read_only(self.url(), self.chunk_rows) as session:
            yield session

    def location(self) -> Path:
        return Path(self.path)

    def spec(self) -> SourceFormat:
        """The vocabulary of the data: the simulation (and the app's database) speak the poppy one."""
        if not self.path or self.format == DATABASE:
            return POPPY
        if self.format not in FORMATS:
            raise SourceError(
                "interaction_source.format (POPPY_SOURCE_FORMAT)",
                f"must be one of {sorted([*FORMATS, DATABASE])}, not {self.format!r}",
            )
        return FORMATS[self.format]

    def log_users(self) -> tuple[pd.DataFrame, Checked | None]:
        """The users of a real log, and the checked users file where the format has one."""
        if self.kind == DATABASE:
            with self.session() as session:
                users = database.read_users(session, self.zone())
            if users.empty:
                raise SourceError(self.database_name(), "no row has a positive User_ID and a date-time")
            return users, None
        if self.kind == PINGS.name:
            checked = check_pings_users(self.location(), self.zone(), self.read_file)
            return _require_some(checked).valid, checked
        if self.kind == CSV.name:
            checked = check_csv_log(self.location(), read_mapping(Path(self.mapping)), self.zone(), self.read_file)
            return users_from_checked_log(_require_some(checked)), None
        users = users_from_poppy_log(read_poppy_log(self.location(), self.read_file), self.zone())
        if users.empty:
            raise SourceError(self.location(), "no row has a positive User_ID and a date-time, so there are no users")
        return users, None

    def catalog(self, settings: SimulationSettings, objects_dir: Path) -> Catalog:
        """The Poppy catalog: object files where given; for the types without one, generated, or with the
        `database` source its `Stars`, `Planets`, `Moons` tables."""
        catalog = build_catalog(settings, objects_dir)
        if self.format != DATABASE:  # when simulating instead, on the app's objects too
            return catalog
        with self.session() as session:
            return database.complete_catalog(session, catalog, settings.seed)

    def log_objects(self, catalog: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, Checked | None]:
        """The objects of a real log: its own `pings.csv`, or the Poppy `catalog()`."""
        if self.kind == PINGS.name:
            checked = check_pings_objects(self.location(), self.read_file)
            return _require_some(checked).valid, checked
        if self.kind == CSV.name:
            mapping = read_mapping(Path(self.mapping))
            return catalog_from_log(self.location(), mapping, self.zone(), self.read_file), None
        return catalog(), None

    def log_days(self, objects: pd.DataFrame, users: pd.DataFrame, days: list[str]) -> DailyRows:
        """The log's valid rows on each of `days`; a `SourceError` when there is none."""
        if self.kind == DATABASE:
            return self.database_days(objects, users, days)[0]
        return self._file_days(objects, users, days)

    def _file_days(self, objects: pd.DataFrame, users: pd.DataFrame, days: list[str]) -> DailyRows:
        checked = check_interaction_log(
            self.kind, self.location(), objects, users, self.zone(), self.csv_mapping(), self.read_file
        )
        return split_by_day(checked, days, tiebreak=("Interaction_ID",)).require_rows(PARTITIONS_START)

    def database_days(
        self, objects: pd.DataFrame, users: pd.DataFrame, days: list[str]
    ) -> tuple[DailyRows, dict[str, int]]:
        """The days of `Interactions`, checked; and the rows each day's query returned."""
        with self.session() as session:
            checked, counts = database.read_and_check(session, days, objects, users, self.event_types, self.zone())
        rows = split_by_day(checked, days, tiebreak=("Interaction_ID",))
        return replace(rows, unread=counts[database.OUTSIDE]).require_rows(PARTITIONS_START), counts


class ActionSourceResource(LogSourceResource):
    """Where `session_actions` comes from: the simulation, or a real action log.

    `POPPY_ACTIONS_PATH` (or run config `resources.action_source.config.path`): a CSV with
    `Session_ID, User_ID, Timestamp, Action, Scroll_Amount`, e.g. what the browser records. With
    no path, the actions are simulated for the sessions of `simulated_interactions`.
    """

    resource_key: ClassVar[str] = "action_source"

    path: str | None = Field(
        default_factory=lambda: os.environ.get("POPPY_ACTIONS_PATH") or None,
        description="A real action log (CSV) to use instead of the simulation ($POPPY_ACTIONS_PATH).",
    )

    def read(self) -> Checked:
        """The action log, checked (a `SourceError` when it cannot be used)."""
        return read_action_log(Path(self.path or ""), self.zone(), self.read_file)

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


def run_span(tags: dict[str, str]) -> tuple[str, str]:
    """First and last day of the span a run's summaries read by default: its partition range, or the
    trailing days ending on its partition (or on the last complete day)."""
    end = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG) or daily_partitions.get_last_partition_key()
    if end is None:  # the daily partitions begin before any run: there is always a last one
        raise ValueError("run_span: the daily partitions have no last day")
    start = tags.get(RANGE_START_TAG) or str(date.fromisoformat(end) - timedelta(days=TRAILING_DAYS - 1))
    return start, end
