"""Every row of the app's `Interactions` table is accounted for, whatever the type of its timestamp
column (a DATETIME, a TIMESTAMP, a VARCHAR), on SQLite, MariaDB and PostgreSQL; users come from rows
with a date-time; a connection lost mid-read is one sentence naming the host and the day."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.sources import database
from poppy_pipeline_tests.assets.test_database_assets import materialize_from
from poppy_pipeline_tests.support.backend_tables import fill, interaction_rows
from poppy_pipeline_tests.support.mariadb_server import MariaDB, mariadb_server  # noqa: F401 (fixture)
from poppy_pipeline_tests.support.postgres_server import Postgres, postgres_server  # noqa: F401 (fixture)

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
# Values a text column may hold that are not date-times (the six, one with a bad hour).
JUNK = ["yesterday", "0000-00-00 00:00:00", "", "2026-11-0", "2026-11", "2026-11-02 25:00:00"]
# ISO forms that are date-times, whatever pandas made of them.
ODD_FORMS = {"2026-11-02T10Z": "2026-11-02 10:00:00", "2026-11-02 11:00:00+0": "2026-11-02 11:00:00"}
# Users whose smallest timestamp string is junk: as strings, '' and '0000-…' sort before every date.
JUNK_FIRST_USERS = [901, 902, 903]


def table_rows(text_column: bool) -> pd.DataFrame:
    """Valid rows in the days and outside them, users whose first string is junk, and (for a text
    column) the junk and the odd ISO forms."""
    inside = interaction_rows(300, DAYS[0], len(DAYS), seed=4)
    outside = interaction_rows(40, "2026-10-01", 10, seed=5).assign(
        Interaction_ID=lambda f: f["Interaction_ID"] + 1_000
    )
    no_stamp = inside.iloc[:1].assign(Interaction_ID=2_000, Interaction_Timestamp=None)
    frames = [inside, outside, no_stamp]
    for offset, user in enumerate(JUNK_FIRST_USERS):
        own = interaction_rows(5, DAYS[0], len(DAYS), seed=user).assign(User_ID=user)
        frames.append(own.assign(Interaction_ID=3_000 + 10 * offset + np.arange(5)))
    if text_column:
        junk = inside.iloc[: len(JUNK)].assign(Interaction_ID=4_000 + np.arange(len(JUNK)), Interaction_Timestamp=JUNK)
        junk["User_ID"] = [JUNK_FIRST_USERS[i % 3] for i in range(len(JUNK))]
        odd = inside.iloc[: len(ODD_FORMS)].assign(
            Interaction_ID=5_000 + np.arange(len(ODD_FORMS)), Interaction_Timestamp=list(ODD_FORMS)
        )
        frames += [junk, odd]
    return pd.concat(frames, ignore_index=True)


def assert_accounted(url: str, rows: pd.DataFrame, text_column: bool) -> None:
    with database.read_only(url) as session:
        users = database.read_users(session)
        objects = pd.concat([database.read_catalog_table(session, t, seed=0).objects for t in database.CATALOG_TABLES])
        checked, counts = database.read_and_check(session, DAYS, objects, users, database.DEFAULT_EVENT_TYPES)
    # Every row of the table: in a day, without a date-time, or counted outside the days.
    assert sum(counts.values()) == len(rows)
    assert len(checked.valid) + len(checked.rejected) + counts[database.OUTSIDE] == len(rows)
    stamps = rows["Interaction_Timestamp"]
    undated = stamps.isna() | stamps.isin(JUNK)
    assert counts[database.NO_TIMESTAMP] == undated.sum()
    assert counts[database.OUTSIDE] == 40
    # The junk and the missing timestamp are quarantined, each with its reason; nothing else is.
    rejected_ids = sorted(checked.rejected["Interaction_ID"].astype(int))
    assert rejected_ids == sorted(rows.loc[undated, "Interaction_ID"].astype(int))
    assert checked.rejected["reason"].str.contains("Interaction_Timestamp '.*' is not an ISO 8601").all()
    # Users come from rows with a date-time: none is lost to a junk value that sorts first.
    assert set(JUNK_FIRST_USERS) <= set(users["User_ID"])
    assert set(checked.valid["User_ID"]) >= set(JUNK_FIRST_USERS)
    if text_column:  # the odd ISO forms are date-times
        valid = checked.valid.set_index("Interaction_ID")
        for offset, expected in enumerate(ODD_FORMS.values()):
            assert str(valid.loc[5_000 + offset, "Timestamp"]) == expected


def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'poppy.db'}"


@pytest.mark.parametrize("stamp_type", [sa.String(40), sa.DateTime()], ids=["text", "datetime"])
def test_sqlite_accounts_for_every_row(tmp_path, stamp_type):
    # SQLite stores both as text: the table is read whole, whatever its declared type.
    rows = table_rows(text_column=True)
    url = sqlite_url(tmp_path)
    fill(url, rows, stamp_type=stamp_type)
    assert_accounted(url, rows, text_column=True)


@pytest.mark.parametrize(
    ("stamp_type", "text_column"),
    [(sa.String(40), True), (sa.DateTime(), False), (sa.TIMESTAMP(), False)],
    ids=["varchar", "datetime", "timestamp"],
)
def test_mariadb_accounts_for_every_row(mariadb: MariaDB, stamp_type, text_column: bool):
    rows = table_rows(text_column)
    name = f"accounting_{'text' if text_column else type(stamp_type).__name__.lower()}"
    fill(mariadb.fresh_database(name), rows, stamp_type=stamp_type)
    assert_accounted(mariadb.url(database=name), rows, text_column)


def test_a_mariadb_zero_date_is_read_and_quarantined(mariadb: MariaDB):
    rows = table_rows(text_column=False)
    admin = mariadb.fresh_database("zero_date")
    fill(admin, rows)
    with mariadb.admin("zero_date") as connection, connection.cursor() as cursor:
        cursor.execute("SET SESSION sql_mode = ''")
        cursor.execute("INSERT INTO Interactions VALUES (6000, 3, 'Star', 1, 'View', NULL, '0000-00-00 00:00:00')")
        connection.commit()
    with database.read_only(mariadb.url(database="zero_date")) as session:
        users = database.read_users(session)
        objects = pd.concat([database.read_catalog_table(session, t, seed=0).objects for t in database.CATALOG_TABLES])
        checked, counts = database.read_and_check(session, DAYS, objects, users, database.DEFAULT_EVENT_TYPES)
    assert sum(counts.values()) == len(rows) + 1 and counts[database.NO_TIMESTAMP] == 2  # NULL and the zero date
    reason = checked.rejected.set_index("Interaction_ID").loc["6000", "reason"]
    # (MariaDB writes the zero date with or without microseconds, as the column's cast gives it.)
    assert reason.startswith("Interactions Interaction_ID=6000: Interaction_Timestamp '0000-00-00 00:00:00")
    assert reason.endswith("' is not an ISO 8601 date-time")


@pytest.mark.parametrize(
    ("stamp_type", "text_column"),
    [(sa.String(40), True), (sa.DateTime(), False)],
    ids=["varchar", "timestamp"],
)
def test_postgres_accounts_for_every_row(postgres: Postgres, stamp_type, text_column: bool):
    rows = table_rows(text_column)
    name = f"accounting_{'text' if text_column else 'time'}"
    fill(postgres.fresh_database(name), rows, stamp_type=stamp_type)
    assert_accounted(postgres.url(name), rows, text_column)


def test_a_connection_lost_mid_read_is_one_sentence_naming_host_and_day(
    mariadb: MariaDB, monkeypatch: pytest.MonkeyPatch
):
    fill(mariadb.fresh_database("lost"), interaction_rows(600, DAYS[0], len(DAYS), seed=6))
    read_rows: Callable = database.read_rows

    def server_gone_on_the_second_day(session, which, bounds=("", "")):
        if session.step.endswith(DAYS[1]):
            with mariadb.admin() as admin, admin.cursor() as cursor:
                cursor.execute(f"KILL CONNECTION {session.connection.thread_id()}")
        return read_rows(session, which, bounds)

    monkeypatch.setattr(database, "read_rows", server_gone_on_the_second_day)
    with pytest.raises(database.DatabaseError) as raised, database.read_only(mariadb.url(database="lost")) as session:
        database.read_interactions(session, DAYS)
    message = str(raised.value)
    where = (
        f"Cannot read table Interactions of database lost on host 127.0.0.1:{mariadb.port} while reading {DAYS[1]}: "
    )
    assert message.startswith(where), message
    assert "\n" not in message and "InterfaceError" not in message and "(0, '')" not in message
    assert "Lost connection" in message or "gone away" in message


def test_an_unknown_charset_is_one_sentence():
    url = "mysql+pymysql://reader:secret-pw@127.0.0.1:1/poppy?charset=utf8mb5"
    with pytest.raises(database.DatabaseError) as raised, database.read_only(url):
        pass
    assert str(raised.value) == (
        "POPPY_DATABASE_URL asks for charset=utf8mb5, which is not a MySQL character set (use charset=utf8mb4)."
    )
    assert "secret-pw" not in str(raised.value)


def test_the_assets_account_for_every_row_of_a_text_column(data_dir, tmp_path):
    """Through `dagster.materialize`: the metadata's accounting adds up to the table's rows, and the
    users whose first string is junk are in users.csv with their valid rows kept."""
    rows = table_rows(text_column=True)
    url = sqlite_url(tmp_path)
    fill(url, rows, stamp_type=sa.String(40))
    span = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}
    source = InteractionSourceResource(format="database", database_url=url, max_quarantine_share=0.1)
    result = materialize_from(source, tags=span)
    assert result.success
    metadata = {
        k: v.value for k, v in result.asset_materializations_for_node("simulated_interactions")[0].metadata.items()
    }
    assert metadata["input_rows"] == len(rows)
    in_window, outside, quarantined = (
        metadata["valid_rows_in_window"],
        metadata["rows_outside_window"],
        metadata["quarantined_rows"],
    )
    assert in_window + outside + quarantined == len(rows) and quarantined == len(JUNK) + 1 and outside == 40
    users = pd.read_csv(data_dir / "users.csv", dtype=str)
    assert {str(u) for u in JUNK_FIRST_USERS} <= set(users["User_ID"])
