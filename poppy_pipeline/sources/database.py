"""The Poppy app's own database (MySQL/MariaDB, PostgreSQL or SQLite), read into the project's tables.

The back end's tables (see DESIGN.md): `Interactions(Interaction_ID, User_ID, Object_Type,
Object_Reference_ID, Interaction_Type, Interaction_Rating, Interaction_Timestamp)` and the
catalog's `Stars(Star_ID, Star_SpType, …)`, `Planets(Planet_ID, Planet_Type, …)`,
`Moons(Moon_ID, Parent_Planet_Name, …)`.

Everything happens in one read-only transaction: one parameterised query per day
(`Interaction_Timestamp` in the day), streamed from a server-side cursor in chunks, then the rows
without a date-time, then a count of the rest, so every row of the table is accounted for: in a
day, without a date-time (read and quarantined), or outside the days. Where the timestamp column
is text (a VARCHAR; SQLite), the server would compare strings, so the table is read whole and
its days told apart by the same parser as files (`database_reads.py`). Validation is the seed-000
log's (`sources.check_poppy_rows`, the shared row rules), with reasons that name the table, the
row's primary key and the column. The timestamp column is naive: it is read in the source's time
zone (default UTC), as a file's timestamps without an offset are, so each UTC day's query is
bounded by that day's start and end in the zone. Users are those of rows with a date-time, each
signed up on the day of their first. Nothing is ever written to the database.
Connections, the read-only transaction and errors are in `database_connection.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from poppy_pipeline.simulation.catalog import CATALOG_COLUMNS, Catalog, ObjectFile, map_object_rows
from poppy_pipeline.simulation.settings import OBJECT_TYPES
from poppy_pipeline.sources.database_checks import (
    CanonicalRows,
    canonical_rows,
    check_interactions,
    row_origins,
)
from poppy_pipeline.sources.database_connection import INTERACTIONS, DatabaseError, Session, describe, read_only
from poppy_pipeline.sources.database_reads import (
    EARLIEST,
    EVERY,
    SPAN,
    TIMESTAMP,
    UNDATED,
    interactions_table,
    local_bounds,
    read_rows,
    stamp_is_time,
    total_rows,
)
from poppy_pipeline.sources.log_files import POPPY, users_from_poppy_rows
from poppy_pipeline.sources.raw_csv import SourceError
from poppy_pipeline.sources.rows import UTC, Checked, RowRules, utc_timestamps

DATABASE = "database"
CATALOG_TABLES = {"Star": "Stars", "Planet": "Planets", "Moon": "Moons"}
# The back end stores likes; the pipeline calls them favourites.
DEFAULT_EVENT_TYPES = {"View": "View", "Click": "Click", "Like": "Favorite", "Rate": "Rate"}
# What `read_interactions` counts besides the days: rows without a date-time, rows outside the days.
NO_TIMESTAMP, OUTSIDE = "no timestamp", "outside the days"
# Layers 3 and 4 (the back end's preference jobs) read only Likes (strength 1) and ratings (strength =
# the rating), and use the database from this many such rows on.
PREFERENCE_TYPES = ("Favorite", "Rate")
MIN_PREFERENCE_ROWS = 500


# --- interactions ----------------------------------------------------------------------------


def read_interactions(session: Session, days: list[str], zone: str = UTC) -> tuple[pd.DataFrame, dict[str, int]]:
    """The raw rows (all strings) of every UTC day of `days` (timestamps read in `zone`), plus those
    without a date-time (they belong to no day, so every read reports them); and how many rows each
    day holds, how many have no date-time (`NO_TIMESTAMP`) and how many lie outside the days
    (`OUTSIDE`, not returned): together, every row of the table.

    Each day's rows come in blocks of consecutive IDs; the order inside a block is the server's (the
    checks do not depend on it: a repeated ID is judged in ID, then timestamp, order)."""
    frames: list[pd.DataFrame] = []
    counts = _read_days(session, days, zone, frames.append)
    return _concat(frames), counts


def read_and_check(
    session: Session,
    days: list[str],
    objects: pd.DataFrame,
    users: pd.DataFrame,
    event_types: Mapping[str, str],
    zone: str = UTC,
) -> tuple[Checked, dict[str, int]]:
    """`read_interactions`, checked (`check_interactions`). Each day's rows are checked in a second
    thread while the server prepares the next day (Arrow and numpy release the GIL), so the client's
    checks and the server's work overlap instead of adding up."""
    frames: list[pd.DataFrame] = []
    passes: list[Future[CanonicalRows]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poppy_checks") as worker:

        def check_soon(frame: pd.DataFrame) -> None:
            frames.append(frame)
            passes.append(worker.submit(canonical_rows, frame, objects, users, event_types, zone))

        counts = _read_days(session, days, zone, check_soon)
        canonical = CanonicalRows.concat([done.result() for done in passes])
    return check_interactions(_concat(frames), objects, users, event_types, zone, canonical), counts


def _read_days(
    session: Session, days: list[str], zone: str, each_day: Callable[[pd.DataFrame], None]
) -> dict[str, Any]:
    """Each day's rows (then those without a date-time) to `each_day`; how many rows each holds."""
    session.columns(INTERACTIONS)  # a missing table fails here, with its name
    counts: dict[str, int] = {}
    try:
        if stamp_is_time(session):  # the server tells the days apart
            for day in days:
                session.step = f"while reading {day}"
                frame, counts[day] = read_rows(session, SPAN, local_bounds(day, day, zone))
                each_day(frame)
            session.step = "while reading the rows without a date-time"
            frame, counts[NO_TIMESTAMP] = read_rows(session, UNDATED)
            each_day(frame)
            session.step = "while counting its rows"
            counts[OUTSIDE] = total_rows(session) - sum(counts.values())
        else:  # text: read whole, its days told apart here
            session.step = f"while reading it whole (its {TIMESTAMP} is text, not times the server can compare)"
            counts = _days_of_text(*read_rows(session, EVERY), days, zone, each_day)
    finally:
        session.step = ""
    return counts


def _days_of_text(
    frame: pd.DataFrame, rows: int, days: list[str], zone: str, each_day: Callable[[pd.DataFrame], None]
) -> dict[str, int]:
    """Rows whose timestamps are text, to the UTC day each names (with the parser files use)."""
    stamps, _ = utc_timestamps(frame[TIMESTAMP], zone)
    day_of_row = stamps.dt.strftime("%Y-%m-%d")
    counts: dict[str, int] = {}
    for day in days:
        selected = (day_of_row == day).to_numpy()
        counts[day] = int(selected.sum())
        each_day(frame[selected].reset_index(drop=True))
    undated = stamps.isna().to_numpy()
    counts[NO_TIMESTAMP] = int(undated.sum())
    each_day(frame[undated].reset_index(drop=True))
    counts[OUTSIDE] = rows - sum(counts.values())
    return counts


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def count_interactions(
    session: Session, first_day: str, last_day: str, event_types: Mapping[str, str], zone: str = UTC
) -> int:
    """Rows of the window whose type the pipeline knows (as the back end counts its Like/Rate/View rows)."""
    session.columns(INTERACTIONS)
    table = interactions_table()
    start, end = local_bounds(first_day, last_day, zone)
    if not stamp_is_time(session):  # text: every row's date-time read here, not compared as a string
        statement = sa.select(sa.cast(table.c[TIMESTAMP], sa.String), table.c["Interaction_Type"])
        found = pd.DataFrame(session.rows(INTERACTIONS, statement), columns=["stamp", "kind"], dtype=object)
        stamps, _ = utc_timestamps(found["stamp"], zone)
        window = stamps.between(pd.Timestamp(first_day), pd.Timestamp(last_day) + pd.Timedelta(days=1), "left")
        return int((window & found["kind"].isin(list(event_types))).sum())
    statement = sa.select(sa.func.count()).where(
        table.c[TIMESTAMP] >= sa.bindparam("start", start),
        table.c[TIMESTAMP] < sa.bindparam("end", end),
        table.c["Interaction_Type"].in_(sa.bindparam("types", sorted(event_types), expanding=True)),
    )
    return int(session.rows(INTERACTIONS, statement)[0][0])


def unmapped_types(event_types: Mapping[str, str]) -> list[str]:
    """Targets of the map that the pipeline does not know."""
    return sorted(set(event_types.values()) - set(POPPY.event_types))


def preference_event_types(event_types: Mapping[str, str]) -> dict[str, str]:
    """The database's types that are Likes or ratings (what the preference jobs count and read)."""
    return {source: target for source, target in event_types.items() if target in PREFERENCE_TYPES}


@dataclass(frozen=True)
class Decision:
    """Whether a run reads the database or simulates, and why (for the log and the metadata)."""

    use_database: bool
    rows: int
    message: str


def decide(
    url: str,
    first_day: str,
    last_day: str,
    event_types: Mapping[str, str],
    min_rows: int,
    when_too_few: str,
    zone: str = UTC,
) -> Decision:
    """Read the database when the window holds at least `min_rows` rows; otherwise fail, or simulate."""
    if when_too_few not in ("fail", "simulate"):
        raise SourceError("interaction_source.when_too_few", f"must be fail or simulate, not {when_too_few!r}")
    if unknown := unmapped_types(event_types):
        raise SourceError(
            "interaction_source.event_types",
            f"maps to {', '.join(unknown)}, not one of {', '.join(POPPY.event_types)}",
        )
    with read_only(url) as session:
        rows = count_interactions(session, first_day, last_day, event_types, zone)
    found = f"{describe(url, INTERACTIONS)} holds {rows} rows in {first_day}..{last_day}"
    if rows >= min_rows:
        return Decision(True, rows, f"{found} (min_real_interactions {min_rows}): reading them.")
    if when_too_few == "simulate":
        return Decision(
            False,
            rows,
            f"{found}, fewer than min_real_interactions {min_rows}: simulating instead (when_too_few: simulate),"
            " with an earlier simulation_fit of this database if there is one.",
        )
    raise DatabaseError(
        f"{found}, fewer than min_real_interactions {min_rows}; widen the window, lower min_real_interactions,"
        " or set when_too_few: simulate to simulate instead."
    )


# --- users and the catalog ---------------------------------------------------------------------


def read_users(session: Session, zone: str = UTC) -> pd.DataFrame:
    """The users of the `Interactions` table, each signed up on the (UTC) day first seen (as a seed-000 log's)."""
    session.columns(INTERACTIONS)
    table = interactions_table()
    user, stamp = table.c["User_ID"], table.c[TIMESTAMP]
    if stamp_is_time(session):  # the first date-time of each user, on the server
        first_seen = sa.cast(sa.func.min(stamp), sa.String)
        statement = sa.select(sa.cast(user, sa.String), first_seen).where(stamp >= EARLIEST).group_by(user)
    else:  # text: a junk value would be the smallest string, so every row's is read and parsed here
        statement = sa.select(sa.cast(user, sa.String), sa.cast(stamp, sa.String))
    raw = pd.DataFrame(session.rows(INTERACTIONS, statement), columns=["User_ID", "Timestamp"], dtype=object)
    return users_from_poppy_rows(RowRules(raw, row_origins(INTERACTIONS, "User_ID", raw)), zone)


def complete_catalog(session: Session, catalog: Catalog, seed: int) -> Catalog:
    """`catalog` (object files where given) with each generated type read from its table instead."""
    frames = {t: catalog.objects[catalog.objects["Object_Type"] == t] for t in OBJECT_TYPES}
    sources, files = dict(catalog.sources), list(catalog.files)
    for object_type in OBJECT_TYPES:
        if sources[object_type] == "generated":
            read = read_catalog_table(session, object_type, seed)
            frames[object_type] = read.objects
            sources[object_type] = describe(session.url, read.path.name)
            files.append(read)
    objects = pd.concat([frames[t] for t in OBJECT_TYPES], ignore_index=True)[CATALOG_COLUMNS]
    return Catalog(objects, sources, files)


def read_catalog_table(session: Session, object_type: str, seed: int) -> ObjectFile:
    """One type's objects from its table (`Stars`, `Planets`, `Moons`), mapped as an object file's columns;
    durations the table lacks are generated from the seed."""
    table_name = CATALOG_TABLES[object_type]
    names = session.columns(table_name)
    table = sa.table(table_name, *(sa.column(n) for n in names))
    statement = sa.select(*(sa.cast(table.c[n], sa.String) for n in names))
    rows = session.rows(table_name, statement)
    if not rows:
        raise DatabaseError(f"Cannot read {describe(session.url, table_name)}: the table has no rows.")
    raw = pd.DataFrame(rows, columns=names, dtype=object)
    key = names[0] if f"{object_type}_ID" not in names else f"{object_type}_ID"
    return map_object_rows(Path(table_name), RowRules(raw, row_origins(table_name, key, raw)), object_type, seed)
