"""The `interaction_source` resource: simulate, or read a real interaction log instead.

`POPPY_SOURCE_PATH` (a file for `poppy`, a folder for `pings`) and `POPPY_SOURCE_FORMAT`
(`poppy` or `pings`), or the same as run config (`resources.interaction_source.config.path` and
`.format`). With no path, the pipeline simulates. The assets downstream of the three source
assets do not change either way.

`POPPY_SOURCE_FORMAT=database` reads the Poppy app's database at `POPPY_DATABASE_URL` instead
(see `poppy_pipeline/database.py`); with fewer than `min_real_interactions` rows in the run's
window it fails, or simulates when `when_too_few` is `simulate`. The decision is made once per
run (the first time an asset asks), so the three source assets agree.
"""

import os
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from poppy_pipeline import database
from poppy_pipeline.database import DATABASE, DEFAULT_EVENT_TYPES
from poppy_pipeline.database_connection import DEFAULT_CHUNK_ROWS
from poppy_pipeline.defs.partitions import daily_partitions
from poppy_pipeline.defs.window import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG
from poppy_pipeline.sources import FORMATS, POPPY, SIMULATION, SourceError, SourceFormat

DEFAULT_MAX_QUARANTINE_SHARE = 0.01
# As the back end: its Layer-2 job uses the database from 300 interactions on.
DEFAULT_MIN_REAL_INTERACTIONS = 300
WHEN_TOO_FEW = ("fail", "simulate")
# The window the summaries read by default (WindowConfig.trailing_days).
TRAILING_DAYS = 30


class InteractionSourceResource(dg.ConfigurableResource):
    """Where interactions come from, and how many bad rows are tolerated."""

    path: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_PATH", ""),
        description="A real log: a seed-000 CSV (poppy) or a seed-002 folder (pings);"
        " empty = simulate ($POPPY_SOURCE_PATH).",
    )
    format: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_FORMAT", "") or POPPY.name,
        description="poppy or pings ($POPPY_SOURCE_FORMAT).",
    )
    max_quarantine_share: float = Field(
        default=DEFAULT_MAX_QUARANTINE_SHARE,
        description="The quarantine checks fail when a larger share of an input's rows is rejected.",
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
        description="Fewest rows of the run's window for the database to be used (the back end's 300).",
    )
    when_too_few: str = Field(default="fail", description="fail or simulate, when the window holds fewer rows.")
    chunk_rows: int = Field(default=DEFAULT_CHUNK_ROWS, description="Rows fetched at a time from the database.")
    _run_tags: dict[str, str] = PrivateAttr(default_factory=dict)
    _decision: database.Decision | None = PrivateAttr(default=None)
    _log: object = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_tags = dict(context.run.tags) if context.run else {}
        self._log = context.log  # the run's event log

    @property
    def kind(self) -> str:
        """`simulation`, `poppy`, `pings` or `database`."""
        if self.format == DATABASE:
            return DATABASE if self.database_decision().use_database else SIMULATION
        return SIMULATION if not self.path else self.spec().name

    @property
    def is_real(self) -> bool:
        return self.kind != SIMULATION

    def url(self) -> str:
        url = self.database_url or os.environ.get("POPPY_DATABASE_URL", "")
        if not url:
            raise SourceError("POPPY_SOURCE_FORMAT is database but POPPY_DATABASE_URL is not set")
        return url

    def database_decision(self) -> database.Decision:
        """Database or simulation for this run, decided once, on the rows of the run's window."""
        if self._decision is None:
            first, last = run_window(self._run_tags)
            try:
                self._decision = database.decide(
                    self.url(), first, last, self.event_types, self.min_real_interactions, self.when_too_few
                )
            except SourceError as error:
                raise dg.Failure(str(error)) from None
            (self._log or dg.get_dagster_logger()).info(self._decision.message)
        return self._decision

    def decision_metadata(self) -> dict[str, str]:
        """What a source asset records about the database decision (nothing for other sources)."""
        if self.format != DATABASE:
            return {}
        return {"database": self._decision_source(), "database_decision": self.database_decision().message}

    def _decision_source(self) -> str:
        return database.describe(self.url(), database.INTERACTIONS)

    def location(self) -> Path:
        return Path(self.path)

    def spec(self) -> SourceFormat:
        """The vocabulary of the data: the simulation speaks the poppy one."""
        if not self.path or self.format == DATABASE:
            return POPPY
        if self.format not in FORMATS:
            raise SourceError(
                f"interaction_source.format (POPPY_SOURCE_FORMAT) must be one of {sorted([*FORMATS, DATABASE])},"
                f" got {self.format!r}"
            )
        return FORMATS[self.format]


def run_window(tags: dict[str, str]) -> tuple[str, str]:
    """First and last day of the window a run's summaries read by default: its partition range, or the
    trailing days ending on its partition (or on the last complete day)."""
    end = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG) or daily_partitions.get_last_partition_key()
    start = tags.get(RANGE_START_TAG) or str(date.fromisoformat(end) - timedelta(days=TRAILING_DAYS - 1))
    return start, end
