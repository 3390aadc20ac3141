"""Connecting to the app's database: a read-only transaction, streaming cursors, and errors as one
sentence that names host, database and table but never the password."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.sql.compiler import SQLCompiler

from poppy_pipeline.sources.raw_csv import SourceError

INTERACTIONS = "Interactions"
DEFAULT_CHUNK_ROWS = 100_000
MYSQL_DIALECTS = ("mysql", "mariadb")


class DatabaseError(SourceError):
    """The database cannot be read; the message names host, database and table, never the password."""

    def __init__(self, message: str):
        ValueError.__init__(self, message)  # the message is already the whole sentence
        self.source, self.problem, self.line, self.column = "", message, None, None


def describe(url: str | URL, table: str) -> str:
    """`table Interactions of database poppy on host db:3306`: no user, no password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"table {table} of SQLite file {parsed.database or ':memory:'}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"table {table} of database {parsed.database} on host {parsed.host}{port}"


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL, or a `DatabaseError` that does not repeat it (it may hold a password)."""
    try:
        return make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise DatabaseError(
            "POPPY_DATABASE_URL is not an SQLAlchemy URL such as mysql+pymysql://user:password@host:3306/poppy"
            " or sqlite:///path/to/poppy.db"
        ) from None


def _failure(url: URL, table: str, error: Exception, step: str = "") -> DatabaseError:
    """One sentence from a driver error: what failed, where (and while doing what); the driver's own
    words, minus the SQL."""
    original = getattr(error, "orig", None) or error
    args: tuple[Any, ...] = getattr(original, "args", ())
    # PyMySQL's errors are (code, message); keep the message.
    text = args[1] if len(args) == 2 and isinstance(args[1], str) else str(original)
    detail = text.splitlines()[0].rstrip(".") if text else type(original).__name__
    password = url.password
    if password:
        detail = detail.replace(str(password), "***")
    return DatabaseError(f"Cannot read {describe(url, table)}{' ' + step if step else ''}: {detail}.")


@dataclass
class Session:
    """A read-only transaction on one DBAPI connection."""

    url: URL
    engine: Engine
    connection: object  # the driver's connection
    chunk_rows: int
    step: str = ""  # what the reader is doing, for errors: "while reading 2024-02-03"

    def query(
        self, table: str, statement: sa.ClauseElement, fetch_rows: int | None = None
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of `statement` (a select or a text) in chunks of `fetch_rows` (default `chunk_rows`),
        from a server-side cursor where the driver has one."""
        compiled = statement.compile(dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True})
        assert isinstance(compiled, SQLCompiler)  # a select or a text compiles to SQL (not DDL)
        params = compiled.params
        arguments = tuple(params[name] for name in compiled.positiontup or ()) if compiled.positional else params
        cursor = _streaming_cursor(self.engine, self.connection)
        try:
            cursor.execute(str(compiled), arguments)
            while rows := cursor.fetchmany(fetch_rows or self.chunk_rows):
                yield rows
        except _driver(self.engine).Error as error:
            raise _failure(self.url, table, error, self.step) from None
        finally:
            with suppress(_driver(self.engine).Error):  # a lost connection must not hide its own error
                cursor.close()

    def rows(self, table: str, statement: sa.ClauseElement) -> list[tuple[Any, ...]]:
        """All rows of a small result."""
        return [row for chunk in self.query(table, statement) for row in chunk]

    def columns(self, table: str) -> list[str]:
        return list(self.column_types(table))

    def column_types(self, table: str) -> dict[str, sa.types.TypeEngine[Any]]:
        """Each column's type, as the server declares it."""
        try:
            return {c["name"]: c["type"] for c in sa.inspect(self.engine).get_columns(table)}
        except sa.exc.NoSuchTableError:
            raise DatabaseError(f"Cannot read {describe(self.url, table)}: the table does not exist.") from None
        except sa.exc.DBAPIError as error:
            raise _failure(self.url, table, error, self.step) from None


@contextmanager
def read_only(url: str, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Session]:
    """A read-only transaction (one consistent snapshot for every query), rolled back at the end."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        raise DatabaseError(f"Cannot read {describe(parsed, INTERACTIONS)}: the file does not exist.")
    _check_charset(parsed)
    try:
        engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    except (sa.exc.NoSuchModuleError, ImportError) as error:
        raise _failure(parsed, INTERACTIONS, error) from None
    try:
        connection = engine.raw_connection()
    except (sa.exc.DBAPIError, _driver(engine).Error) as error:
        raise _failure(parsed, INTERACTIONS, error) from None
    except (TypeError, ValueError, AttributeError, LookupError) as error:  # the driver refused an option
        options = ", ".join(sorted(parsed.query)) or "none"
        raise DatabaseError(
            f"Cannot connect to {describe(parsed, INTERACTIONS)}: the driver refused the connection options of"
            f" POPPY_DATABASE_URL (options: {options}; {type(error).__name__})."
        ) from None
    session = Session(parsed, engine, connection, chunk_rows)
    try:
        cursor = connection.cursor()
        for statement in _read_only_statements(engine.dialect.name):
            cursor.execute(statement)
        cursor.close()
        yield session
    except _driver(engine).Error as error:
        raise _failure(parsed, INTERACTIONS, error, session.step) from None
    finally:
        # Nothing to undo (the transaction only reads); a connection already lost must not hide why.
        with suppress(_driver(engine).Error):
            connection.rollback()
        with suppress(_driver(engine).Error):
            connection.close()
        engine.dispose()


def _check_charset(url: URL) -> None:
    """A MySQL character set the driver does not know, named in one sentence (PyMySQL fails on it
    with an `AttributeError` of its own)."""
    charset = url.query.get("charset")
    if not charset or url.get_backend_name() not in MYSQL_DIALECTS:
        return
    from pymysql.charset import charset_by_name  # the MySQL driver, only for MySQL URLs

    if charset_by_name(str(charset)) is None:
        raise DatabaseError(
            f"POPPY_DATABASE_URL asks for charset={charset}, which is not a MySQL character set (use charset=utf8mb4)."
        )


def _read_only_statements(dialect: str) -> list[str]:
    if dialect in MYSQL_DIALECTS:
        # Long enough for a block of rows (a session setting, nothing stored).
        return [
            "SET SESSION group_concat_max_len = 1073741824",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        ]
    if dialect == "postgresql":
        return ["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"]
    if dialect == "sqlite":
        return ["PRAGMA query_only = ON", "BEGIN"]
    return []


def _driver(engine: Engine) -> DBAPIModule:
    """The engine's DB-API module (its errors, its cursors): a created engine has loaded one."""
    if engine.dialect.dbapi is None:
        raise DatabaseError(f"{engine.url.get_backend_name()}: SQLAlchemy loaded no database driver for it")
    return engine.dialect.dbapi


def _streaming_cursor(engine: Engine, connection: Any) -> Any:  # the driver's own connection and cursor
    """A server-side cursor: rows arrive as fetched instead of all at once."""
    dialect = engine.dialect.name
    if dialect in MYSQL_DIALECTS:
        return connection.cursor(_driver(engine).cursors.SSCursor)
    if dialect == "postgresql":
        return connection.cursor(name="poppy_pipeline")
    return connection.cursor()
