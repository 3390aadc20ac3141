"""The Poppy app's own database (MySQL/MariaDB, PostgreSQL or SQLite), read into the project's tables.

The back end's tables (see DESIGN.md): `Interactions(Interaction_ID, User_ID, Object_Type,
Object_Reference_ID, Interaction_Type, Interaction_Rating, Interaction_Timestamp)` and the
catalog's `Stars(Star_ID, Star_SpType, …)`, `Planets(Planet_ID, Planet_Type, …)`,
`Moons(Moon_ID, Parent_Planet_Name, …)`.

Everything happens in one read-only transaction: one parameterised query per day
(`Interaction_Timestamp` in the day), streamed from a server-side cursor in chunks. The server
joins each row's values into one delimited string, and on MySQL/MariaDB each block of 1,000 rows
into one result row, which pyarrow splits: PyMySQL is pure Python, and its cost is per value and
per packet. Validation is the seed-000 log's (`sources.check_poppy_rows`, the shared row rules),
with reasons that name the table, the row's primary key and the column. The timestamp column is
naive: it is read in the source's time zone (default UTC), as a file's timestamps without an
offset are, so each UTC day's query is bounded by that day's start and end in the zone.
Nothing is ever written to the database.
Connections, the read-only transaction and errors are in `database_connection.py`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from poppy_pipeline.common.columns import APP_INTERACTION_COLUMNS
from poppy_pipeline.simulation.catalog import CATALOG_COLUMNS, Catalog, ObjectFile, map_object_rows
from poppy_pipeline.simulation.settings import OBJECT_TYPES
from poppy_pipeline.sources.database_checks import (
    PRIMARY_KEY,
    TIMESTAMP,
    CanonicalRows,
    canonical_rows,
    check_interactions,
    row_origins,
)
from poppy_pipeline.sources.database_connection import (
    INTERACTIONS,
    MYSQL_DIALECTS,
    DatabaseError,
    Session,
    describe,
    read_only,
)
from poppy_pipeline.sources.log_files import POPPY, users_from_poppy_rows
from poppy_pipeline.sources.raw_csv import SourceError
from poppy_pipeline.sources.rows import UTC, Checked, RowRules

DATABASE = "database"
CATALOG_TABLES = {"Star": "Stars", "Planet": "Planets", "Moon": "Moons"}
# The back end stores likes; the pipeline calls them favourites.
DEFAULT_EVENT_TYPES = {"View": "View", "Click": "Click", "Like": "Favorite", "Rate": "Rate"}
# Layers 3 and 4 (the back end's preference jobs) read only Likes (strength 1) and ratings (strength =
# the rating), and use the database from this many such rows on.
PREFERENCE_TYPES = ("Favorite", "Rate")
MIN_PREFERENCE_ROWS = 500
# Joins a row's values on the server; a control character no value of these columns holds.
SEPARATOR = "\x1f"


# --- interactions ----------------------------------------------------------------------------


def _interactions_table() -> sa.TableClause:
    return sa.table(INTERACTIONS, *(sa.column(c) for c in APP_INTERACTION_COLUMNS))


def _joined_row(table: sa.TableClause) -> sa.ColumnElement:
    """All columns as one string, NULL as empty (as a CSV field), separated by `SEPARATOR`."""
    parts = [sa.func.coalesce(sa.cast(table.c[c], sa.String), "") for c in APP_INTERACTION_COLUMNS]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + SEPARATOR + part
    return joined


def _split_rows(rows: list[tuple]) -> pa.Table:
    """The joined strings back to seven string columns (empty → null)."""
    values = pa.array([row[0] for row in rows], type=pa.string())
    fields = pa_compute.split_pattern(values, SEPARATOR)
    width = len(APP_INTERACTION_COLUMNS)
    counts = pa_compute.list_value_length(fields).to_numpy()
    if (counts != width).any():
        first = values[int(np.argmax(counts != width))].as_py()
        raise DatabaseError(f"{INTERACTIONS}: a row holds the control character \\x1f in a value: {first!r}")
    flat = fields.flatten()
    columns = [flat.take(pa.array(np.arange(i, len(flat), width))) for i in range(width)]
    columns = [pa_compute.if_else(pa_compute.equal(c, ""), None, c) for c in columns]
    return pa.table(columns, names=APP_INTERACTION_COLUMNS)


def _rows_frame(tables: list[pa.Table]) -> pd.DataFrame:
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in APP_INTERACTION_COLUMNS})
    return pa.concat_tables(tables).to_pandas()


def local_bounds(first_day: str, last_day: str, zone: str = UTC) -> tuple[str, str]:
    """The start of UTC day `first_day` and the end of `last_day`, as the zone's wall-clock times
    (the naive values the timestamp column holds)."""
    start = pd.Timestamp(first_day, tz=UTC)
    end = pd.Timestamp(last_day, tz=UTC) + pd.Timedelta(days=1)
    return tuple(str(t.tz_convert(zone).tz_localize(None)) for t in (start, end))


def read_interactions(session: Session, days: list[str], zone: str = UTC) -> tuple[pd.DataFrame, dict[str, int]]:
    """The raw rows (all strings) of every UTC day of `days` (timestamps read in `zone`), plus those
    whose timestamp is NULL (they belong to no day, so every read reports them); and the number of
    rows each query returned.

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


def _read_days(session: Session, days: list[str], zone: str, each_day: Callable[[pd.DataFrame], None]) -> dict:
    """Each day's rows (then those without a timestamp) to `each_day`; the rows each query returned."""
    session.columns(INTERACTIONS)  # a missing table fails here, with its name
    table = _interactions_table()
    stamp, key = table.c[TIMESTAMP], table.c[PRIMARY_KEY]
    counts: dict[str, int] = {}
    collect = _collect_blocks if session.engine.dialect.name in MYSQL_DIALECTS else _collect_rows
    for day in days:
        chunks: list[pa.Table] = []
        counts[day] = collect(session, *local_bounds(day, day, zone), chunks)
        each_day(_rows_frame(chunks))
    chunks = []
    counts["no timestamp"] = _append(
        session, sa.select(_joined_row(table)).where(stamp.is_(None)).order_by(key), chunks
    )
    each_day(_rows_frame(chunks))
    return counts


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _collect_rows(session: Session, start: str, end: str, into: list[pa.Table]) -> int:
    """One day, a row per result row (SQLite, PostgreSQL: their drivers parse rows in C)."""
    table = _interactions_table()
    stamp, key = table.c[TIMESTAMP], table.c[PRIMARY_KEY]
    day_rows = (
        sa.select(_joined_row(table))
        .where(stamp >= sa.bindparam("start", start), stamp < sa.bindparam("end", end))
        .order_by(key, stamp)
    )
    return _append(session, day_rows, into)


def _append(session: Session, statement, into: list[pa.Table]) -> int:
    rows = 0
    for chunk in session.query(INTERACTIONS, statement):
        into.append(_split_rows(chunk))
        rows += len(chunk)
    return rows


# MySQL/MariaDB: the server joins each block of ~BLOCK_ROWS consecutive IDs into one result row,
# so PyMySQL, pure Python, parses one packet per block instead of one per row (the client's cost
# drops ~5×); pyarrow's CSV reader splits the blocks. A line break inside a value (never valid in
# these columns) becomes a space, so that each row stays one line. The day's rows are also bounded
# by their lowest and highest ID (found on the timestamp index alone), which lets the server scan
# the table in primary-key order instead of every row: about half the server's time.
BLOCK_ROWS = 1_000
_MYSQL_ROW = (
    "REPLACE(REPLACE(CONCAT_WS(CHAR(31), "
    + ", ".join(f"IFNULL(`{c}`, '')" for c in APP_INTERACTION_COLUMNS)
    + "), CHAR(10), ' '), CHAR(13), ' ')"
)
_MYSQL_IN_DAY = f"`{TIMESTAMP}` >= :start AND `{TIMESTAMP}` < :end"
_MYSQL_DAY_KEYS = sa.text(
    f"SELECT COUNT(*), COUNT(`{PRIMARY_KEY}`), MIN(`{PRIMARY_KEY}`), MAX(`{PRIMARY_KEY}`)"
    f" FROM `{INTERACTIONS}` WHERE {_MYSQL_IN_DAY}"
)
_MYSQL_BLOCKS = (
    f"SELECT COUNT(*), GROUP_CONCAT({_MYSQL_ROW} SEPARATOR '\n')"
    f" FROM `{INTERACTIONS}` WHERE {_MYSQL_IN_DAY} AND {{keys}}"
    f" GROUP BY `{PRIMARY_KEY}` DIV {BLOCK_ROWS} ORDER BY `{PRIMARY_KEY}` DIV {BLOCK_ROWS}"
)
_MYSQL_KEYED_BLOCKS = sa.text(_MYSQL_BLOCKS.format(keys=f"`{PRIMARY_KEY}` BETWEEN :low AND :high"))
_MYSQL_UNKEYED_BLOCKS = sa.text(_MYSQL_BLOCKS.format(keys=f"`{PRIMARY_KEY}` IS NULL"))
_BLOCK_PARSE = pa_csv.ParseOptions(delimiter=SEPARATOR, quote_char=False)
_BLOCK_CONVERT = pa_csv.ConvertOptions(
    column_types=dict.fromkeys(APP_INTERACTION_COLUMNS, pa.string()), null_values=[""], strings_can_be_null=True
)


def _collect_blocks(session: Session, start: str, end: str, into: list[pa.Table]) -> int:
    """One day from MySQL/MariaDB, in blocks of rows joined on the server (rows without an ID last)."""
    day = {"start": start, "end": end}
    ((total, keyed, low, high),) = session.rows(INTERACTIONS, _MYSQL_DAY_KEYS.bindparams(**day))
    rows = 0
    if keyed:
        rows += _append_blocks(session, _MYSQL_KEYED_BLOCKS.bindparams(**day, low=low, high=high), into)
    if total > keyed:
        rows += _append_blocks(session, _MYSQL_UNKEYED_BLOCKS.bindparams(**day), into)
    if rows != total:
        raise DatabaseError(f"{INTERACTIONS}: {rows} of the {total} rows of {start[:10]} arrived")
    return rows


def _append_blocks(session: Session, statement: sa.TextClause, into: list[pa.Table]) -> int:
    rows = 0
    for blocks in session.query(INTERACTIONS, statement, max(1, session.chunk_rows // BLOCK_ROWS)):
        expected = sum(int(count) for count, _ in blocks)
        text = "\n".join(block for _, block in blocks).encode()
        try:
            table = pa_csv.read_csv(
                io.BytesIO(text),
                read_options=pa_csv.ReadOptions(column_names=APP_INTERACTION_COLUMNS),
                parse_options=_BLOCK_PARSE,
                convert_options=_BLOCK_CONVERT,
            )
        except pa.ArrowInvalid as error:
            raise DatabaseError(f"{INTERACTIONS}: rows cannot be split into columns ({error})") from None
        if table.num_rows != expected:
            raise DatabaseError(
                f"{INTERACTIONS}: {table.num_rows} of {expected} rows arrived; raise the server's max_allowed_packet"
            )
        into.append(table)
        rows += expected
    return rows


def count_interactions(
    session: Session, first_day: str, last_day: str, event_types: Mapping[str, str], zone: str = UTC
) -> int:
    """Rows of the window whose type the pipeline knows (as the back end counts its Like/Rate/View rows)."""
    session.columns(INTERACTIONS)
    table = _interactions_table()
    start, end = local_bounds(first_day, last_day, zone)
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
    table = _interactions_table()
    first_seen = sa.func.min(table.c[TIMESTAMP])
    statement = sa.select(sa.cast(table.c["User_ID"], sa.String), sa.cast(first_seen, sa.String)).group_by(
        table.c["User_ID"]
    )
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
