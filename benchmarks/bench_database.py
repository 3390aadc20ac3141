"""Reading the app's database: interaction rows from a local MariaDB into daily partitions.

    .venv/bin/python benchmarks/bench_database.py [--rows 1e7] [--days 30] [--compare-days 3]

Starts its own MariaDB (Debian's mariadb-server, as the tests do) in a temporary folder, loads
the rows with LOAD DATA LOCAL INFILE (the secondary index on Interaction_Timestamp is added
after the load), then times the `database` source's steps: reading every day of the window
(one query per day, in one read-only transaction); the users and the catalog tables (the
`users` and `celestial_objects` steps); and the window read, validated and split into daily
partitions (`simulated_interactions`' core, which alone reads the interactions). The alternatives (a row per result row
through PyMySQL's SSCursor, SQLAlchemy's streamed results, pandas.read_sql in chunks) are timed on
the first `--compare-days` days. Client and server CPU seconds are printed beside the wall time:
the machine is shared. Goal (issue 13): ≥ 500,000 rows/s.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import Benchmark

from poppy_pipeline.sources import database
from poppy_pipeline.sources.daily_rows import split_by_day
from poppy_pipeline_tests.support import backend_tables, mariadb_server

GOAL = 500_000
FIRST_DAY = "2026-10-01"
SIZES = {"Star": 200, "Planet": 100, "Moon": 100}


def write_rows(path: Path, rows: int, days: int, seed: int = 0) -> None:
    """`rows` interactions as a tab-separated file for LOAD DATA (NULL as \\N), in time order."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(np.array(["View", "Like", "Rate", "Click"]), rows, p=[0.5, 0.2, 0.1, 0.2])
    types = rng.choice(np.array(["Star", "Planet", "Moon"]), rows, p=[0.5, 0.25, 0.25])
    sizes = np.select([types == "Star", types == "Planet"], [SIZES["Star"], SIZES["Planet"]], SIZES["Moon"])
    seconds = np.sort(rng.integers(0, days * 86_400, rows))
    stamps = pa.array(np.datetime64(FIRST_DAY, "s") + seconds.astype("timedelta64[s]"))
    ratings = np.where(kinds == "Rate", rng.integers(1, 6, rows).astype(str), "\\N")
    table = pa.table(
        {
            "id": np.arange(1, rows + 1),
            "user": rng.integers(1, max(100, rows // 100), rows),
            "type": types,
            "object": 1 + rng.integers(0, 10**6, rows) % sizes,
            "kind": kinds,
            "rating": ratings,
            "stamp": stamps,
        }
    )
    options = pa_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    pa_csv.write_csv(table, path, write_options=options)


def catalog(url: str) -> None:
    backend_tables.create_tables(url)
    tables = {
        "Stars": pd.DataFrame({"Star_ID": range(1, 201), "Star_SpType": "G2V"}),
        "Planets": pd.DataFrame({"Planet_ID": range(1, 101), "Planet_Type": "Terrestrial"}),
        "Moons": pd.DataFrame({"Moon_ID": range(1, 101), "Parent_Planet_Name": "Earth"}),
    }
    for name, frame in tables.items():
        backend_tables.insert(url, name, frame)


class Clock:
    """Wall time and the CPU seconds of this process and of the server."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def server_cpu(self) -> float:
        fields = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def time(self, step):
        wall, client, server = time.perf_counter(), time.process_time(), self.server_cpu()
        rows = step()
        return rows, time.perf_counter() - wall, time.process_time() - client, self.server_cpu() - server


def pipeline_read(url: str, days: list[str]) -> int:
    with database.read_only(url) as session:
        raw, _ = database.read_interactions(session, days)
    return len(raw)


def users_and_catalog(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the `users` and `celestial_objects` steps read (the users: one GROUP BY over the table)."""
    with database.read_only(url) as session:
        users = database.read_users(session)
        objects = pd.concat(
            [database.read_catalog_table(session, t, seed=0).objects for t in database.CATALOG_TABLES],
            ignore_index=True,
        )
    return users, objects


def pipeline_read_check_split(url: str, days: list[str], users: pd.DataFrame, objects: pd.DataFrame) -> int:
    """`simulated_interactions`' core: the window read once, checked, split into days."""
    with database.read_only(url) as session:
        checked, _ = database.read_and_check(session, days, objects, users, database.DEFAULT_EVENT_TYPES)
    by_day = split_by_day(checked, days, tiebreak=("Interaction_ID",))
    assert checked.rejected.empty
    return by_day.in_window


def row_per_row(url: str, days: list[str]) -> int:
    """The generic path (a joined string per row) on MySQL: SSCursor, fetchmany."""
    chunks: list[pa.Table] = []
    with database.read_only(url) as session:
        for day in days:
            start = pd.Timestamp(day)
            database._collect_rows(session, str(start), str(start + pd.Timedelta(days=1)), chunks)
    return sum(c.num_rows for c in chunks)


def _day_query(day: str) -> tuple[str, dict]:
    start = pd.Timestamp(day)
    sql = (
        "SELECT Interaction_ID, User_ID, Object_Type, Object_Reference_ID, Interaction_Type, Interaction_Rating,"
        " Interaction_Timestamp FROM Interactions WHERE Interaction_Timestamp >= :start AND"
        " Interaction_Timestamp < :end"
    )
    return sql, {"start": str(start), "end": str(start + pd.Timedelta(days=1))}


def sqlalchemy_stream(url: str, days: list[str]) -> int:
    engine = sa.create_engine(url)
    rows = 0
    with engine.connect() as connection:
        for day in days:
            sql, params = _day_query(day)
            result = connection.execution_options(stream_results=True).execute(sa.text(sql), params)
            for part in result.partitions(100_000):
                rows += len(pd.DataFrame(part))
    engine.dispose()
    return rows


def pandas_read_sql(url: str, days: list[str]) -> int:
    engine = sa.create_engine(url)
    rows = 0
    with engine.connect().execution_options(stream_results=True) as connection:
        for day in days:
            sql, params = _day_query(day)
            for frame in pd.read_sql(sa.text(sql), connection, params=params, chunksize=100_000):
                rows += len(frame)
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--compare-days", type=int, default=3)
    args = parser.parse_args()
    with Benchmark("database", "Reading the app's database (MariaDB) into daily partitions") as bench:
        rows, days = int(args.rows), [str(d.date()) for d in pd.date_range(FIRST_DAY, periods=args.days)]
        with tempfile.TemporaryDirectory(prefix="bench_database_") as folder:
            server = mariadb_server.start(Path(folder), buffer_pool="2G")
            try:
                clock = Clock(server.process.pid)
                admin = server.admin_url()
                catalog(admin)
                write_rows(Path(folder) / "interactions.tsv", rows, args.days)
                results = []
                with server.admin() as connection, connection.cursor() as cursor:
                    cursor.execute("SELECT VERSION()")
                    version = cursor.fetchone()[0]
                    load = f"LOAD DATA LOCAL INFILE '{Path(folder) / 'interactions.tsv'}' INTO TABLE Interactions"
                    results.append(("LOAD DATA LOCAL INFILE", days, *clock.time(lambda: cursor.execute(load))))
                    index = "ALTER TABLE Interactions ADD INDEX by_time (Interaction_Timestamp)"
                    results.append(
                        ("index on Interaction_Timestamp", days, *clock.time(lambda: cursor.execute(index) or rows))
                    )
                url = server.url()
                results.append(
                    (
                        "read the window (blocks joined on the server)",
                        days,
                        *clock.time(lambda: pipeline_read(url, days)),
                    )
                )
                (users, objects), *cost = clock.time(lambda: users_and_catalog(url))
                assert len(users) > 0
                results.append(("users (a GROUP BY over the table) and catalog tables", days, rows, *cost))
                results.append(
                    (
                        "read + validate + daily partitions (simulated_interactions)",
                        days,
                        *clock.time(lambda: pipeline_read_check_split(url, days, users, objects)),
                    )
                )
                some = days[: args.compare_days]
                for name, step in (
                    ("a row per result row (SSCursor, fetchmany)", row_per_row),
                    ("SQLAlchemy stream_results, partitions", sqlalchemy_stream),
                    ("pandas.read_sql, chunksize", pandas_read_sql),
                ):
                    results.append((name, some, *clock.time(lambda step=step: step(url, some))))
            finally:
                server.stop()
        table = [
            [
                name,
                f"{len(span)}",
                f"{count:,}",
                f"{wall:.1f}",
                f"{count / wall:,.0f}",
                f"{client:.1f}",
                f"{server_cpu:.1f}",
            ]
            for name, span, count, wall, client, server_cpu in results
        ]
        columns = ["step", "days", "rows", "seconds", "rows/s", "client CPU s", "server CPU s"]
        bench.table(f"the app's database ({version}, PyMySQL; {rows:,} rows)", columns, table)
        _, _, count, wall, _, _ = next(r for r in results if r[0].startswith("read + validate"))
        bench.goal("read + validate + daily partitions", count / wall, GOAL, "rows/s")
        bench.record(
            steps=[
                dict(
                    zip(
                        ("step", "days", "rows", "wall_s", "client_cpu_s", "server_cpu_s"),
                        (r[0], len(r[1]), *r[2:]),
                        strict=True,
                    )
                )
                for r in results
            ]
        )


if __name__ == "__main__":
    main()
