"""The rows of the app's `Interactions` table, fetched as text: which rows each query selects, and
how they travel (joined into one delimited string per row on the server, split by pyarrow).

A query selects the rows of a span of local time (`SPAN`, bound by `start` and `end`), the rows
without a date-time (`UNDATED`: NULL, or before year 1 such as MySQL's `0000-00-00`), or every
row (`EVERY`). Spans are compared by the server, so they are used only where the timestamp
column holds times (`stamp_is_time`): in a text column (a VARCHAR, or any column of SQLite)
`'2024-02-01T10:00Z'` or `'yesterday'` compare as strings, so such a table is read whole and
its days are told apart by the client, with the same parser as files.

On MySQL/MariaDB the server joins each block of ~BLOCK_ROWS consecutive IDs into one result row,
so PyMySQL, pure Python, parses one packet per block instead of one per row (the client's cost
drops ~5×); pyarrow's CSV reader splits the blocks. A line break inside a value (never valid in
these columns) becomes a space, so that each row stays one line. The rows are also bounded by
their lowest and highest ID (found on the timestamp index alone), which lets the server scan the
table in primary-key order instead of every row: about half the server's time.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from poppy_pipeline.common.columns import APP_INTERACTION_COLUMNS
from poppy_pipeline.sources.database_connection import INTERACTIONS, MYSQL_DIALECTS, DatabaseError, Session
from poppy_pipeline.sources.rows import UTC

PRIMARY_KEY = "Interaction_ID"
TIMESTAMP = "Interaction_Timestamp"
SPAN, UNDATED, EVERY = "span", "undated", "every"
# Before this, a value is not a date-time (MySQL's zero date, a PostgreSQL date BC).
EARLIEST = "0001-01-01 00:00:00"
# Joins a row's values on the server; a control character no value of these columns holds.
SEPARATOR = "\x1f"
BLOCK_ROWS = 1_000


_TABLE = sa.table(INTERACTIONS, *(sa.column(c) for c in APP_INTERACTION_COLUMNS))


def interactions_table() -> sa.TableClause:
    """The one clause every statement names the table by (two would be two tables in the FROM)."""
    return _TABLE


def stamp_is_time(session: Session) -> bool:
    """Whether the server compares `Interaction_Timestamp` as times (a DATETIME or TIMESTAMP column
    of MySQL, MariaDB or PostgreSQL), not as strings (a VARCHAR; every SQLite column)."""
    if session.engine.dialect.name == "sqlite":
        return False
    kind = session.column_types(INTERACTIONS).get(TIMESTAMP)
    return isinstance(kind, sa.DateTime | sa.Date)


def local_bounds(first_day: str, last_day: str, zone: str = UTC) -> tuple[str, str]:
    """The start of UTC day `first_day` and the end of `last_day`, as the zone's wall-clock times
    (the naive values the timestamp column holds)."""
    start = pd.Timestamp(first_day, tz=UTC)
    end = pd.Timestamp(last_day, tz=UTC) + pd.Timedelta(days=1)
    first, last = (str(t.tz_convert(zone).tz_localize(None)) for t in (start, end))
    return first, last


def total_rows(session: Session) -> int:
    return int(session.rows(INTERACTIONS, sa.select(sa.func.count()).select_from(interactions_table()))[0][0])


def read_rows(session: Session, which: str, bounds: tuple[str, str] = ("", "")) -> tuple[pd.DataFrame, int]:
    """The rows `which` selects (`SPAN` within `bounds`), every value as text, in ID order; and how many."""
    chunks: list[pa.Table] = []
    if session.engine.dialect.name in MYSQL_DIALECTS:
        rows = _collect_blocks(session, which, bounds, chunks)
    else:
        rows = _append(session, sa.select(_joined_row()).where(_where(which, bounds)).order_by(*_order()), chunks)
    return _rows_frame(chunks), rows


def _where(which: str, bounds: tuple[str, str]) -> sa.ColumnElement[Any]:
    stamp = interactions_table().c[TIMESTAMP]
    if which == SPAN:
        return sa.and_(stamp >= sa.bindparam("start", bounds[0]), stamp < sa.bindparam("end", bounds[1]))
    if which == UNDATED:
        return sa.or_(stamp.is_(None), stamp < sa.bindparam("earliest", EARLIEST))
    return sa.true()


def _order() -> tuple[sa.ColumnElement[Any], ...]:
    table = interactions_table()
    return table.c[PRIMARY_KEY], table.c[TIMESTAMP]


def _joined_row() -> sa.ColumnElement[Any]:
    """All columns as one string, NULL as empty (as a CSV field), separated by `SEPARATOR`."""
    table = interactions_table()
    parts = [sa.func.coalesce(sa.cast(table.c[c], sa.String), "") for c in APP_INTERACTION_COLUMNS]
    joined: sa.ColumnElement[str] = parts[0]
    for part in parts[1:]:
        joined = joined + SEPARATOR + part
    return joined


def _split_rows(rows: list[tuple[Any, ...]]) -> pa.Table:
    """The joined strings back to seven string columns (empty → null)."""
    values = pa.array([row[0] for row in rows], type=pa.string())
    fields = pa_compute.split_pattern(values, SEPARATOR)
    width = len(APP_INTERACTION_COLUMNS)
    counts = pa_compute.list_value_length(fields).to_numpy()
    if (counts != width).any():
        first = values[int(np.argmax(counts != width))].as_py()
        raise DatabaseError(f"{INTERACTIONS}: a row holds the control character \\x1f in a value: {first!r}")
    flat = fields.flatten()
    columns = [flat.take(np.arange(i, len(flat), width)) for i in range(width)]
    columns = [pa_compute.if_else(pa_compute.equal(c, pa.scalar("")), None, c) for c in columns]
    return pa.table(columns, names=APP_INTERACTION_COLUMNS)


def _rows_frame(tables: list[pa.Table]) -> pd.DataFrame:
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in APP_INTERACTION_COLUMNS})
    return pa.concat_tables(tables).to_pandas()


def _append(session: Session, statement: sa.Select[Any], into: list[pa.Table]) -> int:
    rows = 0
    for chunk in session.query(INTERACTIONS, statement):
        into.append(_split_rows(chunk))
        rows += len(chunk)
    return rows


_MYSQL_ROW = (
    "REPLACE(REPLACE(CONCAT_WS(CHAR(31), "
    + ", ".join(f"IFNULL(`{c}`, '')" for c in APP_INTERACTION_COLUMNS)
    + "), CHAR(10), ' '), CHAR(13), ' ')"
)
_MYSQL_WHERE = {
    SPAN: f"`{TIMESTAMP}` >= :start AND `{TIMESTAMP}` < :end",
    UNDATED: f"(`{TIMESTAMP}` IS NULL OR `{TIMESTAMP}` < :earliest)",
    EVERY: "TRUE",
}
_MYSQL_KEYS = (
    f"SELECT COUNT(*), COUNT(`{PRIMARY_KEY}`), MIN(`{PRIMARY_KEY}`), MAX(`{PRIMARY_KEY}`)"
    f" FROM `{INTERACTIONS}` WHERE {{where}}"
)
_MYSQL_BLOCKS = (
    f"SELECT COUNT(*), GROUP_CONCAT({_MYSQL_ROW} SEPARATOR '\n')"
    f" FROM `{INTERACTIONS}` WHERE {{where}} AND {{keys}}"
    f" GROUP BY `{PRIMARY_KEY}` DIV {BLOCK_ROWS} ORDER BY `{PRIMARY_KEY}` DIV {BLOCK_ROWS}"
)
_BLOCK_PARSE = pa_csv.ParseOptions(delimiter=SEPARATOR, quote_char=False)
_BLOCK_CONVERT = pa_csv.ConvertOptions(
    column_types=dict.fromkeys(APP_INTERACTION_COLUMNS, pa.string()), null_values=[""], strings_can_be_null=True
)


def _collect_blocks(session: Session, which: str, bounds: tuple[str, str], into: list[pa.Table]) -> int:
    """The rows from MySQL/MariaDB, in blocks of rows joined on the server (rows without an ID last)."""
    where = _MYSQL_WHERE[which]
    params = {"start": bounds[0], "end": bounds[1]} if which == SPAN else {"earliest": EARLIEST}
    params = params if which != EVERY else {}
    keys = sa.text(_MYSQL_KEYS.format(where=where)).bindparams(**params)
    ((total, keyed, low, high),) = session.rows(INTERACTIONS, keys)
    rows = 0
    if keyed:
        between = f"`{PRIMARY_KEY}` BETWEEN :low AND :high"
        blocks = sa.text(_MYSQL_BLOCKS.format(where=where, keys=between)).bindparams(**params, low=low, high=high)
        rows += _append_blocks(session, blocks, into)
    if total > keyed:
        unkeyed = sa.text(_MYSQL_BLOCKS.format(where=where, keys=f"`{PRIMARY_KEY}` IS NULL")).bindparams(**params)
        rows += _append_blocks(session, unkeyed, into)
    if rows != total:
        raise DatabaseError(f"{INTERACTIONS}: {rows} of the {total} rows {session.step or 'read'} arrived")
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
