"""The `database` source against a real PostgreSQL server (Debian's postgresql, started by the tests)."""

from pathlib import Path

import pandas as pd
import pytest

from poppy_pipeline.sources import database
from poppy_pipeline_tests.sources.test_database_mariadb import (
    assert_database_and_csv_give_identical_files,
    month_with_bad_rows,
)
from poppy_pipeline_tests.support.backend_tables import fill, interaction_rows
from poppy_pipeline_tests.support.postgres_server import READER, READER_PASSWORD, Postgres, postgres_server  # noqa: F401 (fixture)
from poppy_pipeline_tests.support.servers import free_port


def test_the_same_log_from_postgres_and_from_a_csv_gives_identical_files(
    postgres: Postgres, data_dir: Path, tmp_path: Path, monkeypatch
):
    rows = month_with_bad_rows(seed=21)
    fill(postgres.fresh_database("same_log"), rows)  # mixed-case names, quoted as PostgreSQL needs
    assert_database_and_csv_give_identical_files(postgres.url("same_log"), rows, data_dir, tmp_path, monkeypatch)


def test_the_read_is_one_read_only_transaction(postgres: Postgres):
    admin = postgres.fresh_database("read_only")
    fill(admin, interaction_rows(50, "2024-02-01", 1))
    with database.read_only(admin) as session:  # even a user who may write cannot, inside it
        raw, counts = database.read_interactions(session, ["2024-02-01"])
        cursor = session.connection.cursor()
        with pytest.raises(Exception, match="read-only transaction"):
            cursor.execute('DELETE FROM "Interactions"')
    assert len(raw) == counts["2024-02-01"] == 50
    with database.read_only(admin) as session:
        assert len(database.read_interactions(session, ["2024-02-01"])[0]) == 50


def test_unreadable_servers_fail_with_one_sentence_without_the_password(postgres: Postgres):
    fill(postgres.fresh_database("errors"), interaction_rows(10, "2024-02-01", 1))
    postgres.fresh_database("no_tables")
    closed = free_port()
    where = f"on host 127.0.0.1:{postgres.port}"
    cases = {
        postgres.url("errors", "Wrong-Pw-123"): f"Cannot read table Interactions of database errors {where}:"
        f' connection to server at "127.0.0.1", port {postgres.port} failed: FATAL:  password authentication'
        f' failed for user "{READER}".',
        postgres.url("no_tables"): f"Cannot read table Interactions of database no_tables {where}:"
        " the table does not exist.",
        postgres.url("errors").replace(str(postgres.port), str(closed)): "Cannot read table Interactions of"
        f' database errors on host 127.0.0.1:{closed}: connection to server at "127.0.0.1", port {closed} failed',
    }
    for url, sentence in cases.items():
        with pytest.raises(database.DatabaseError) as raised, database.read_only(url) as session:
            database.read_interactions(session, ["2024-02-01"])
        assert str(raised.value).startswith(sentence), str(raised.value)
        assert "Wrong-Pw-123" not in str(raised.value) and READER_PASSWORD not in str(raised.value)


def test_the_catalog_and_users_from_postgres(postgres: Postgres):
    rows = interaction_rows(200, "2024-02-01", 2, seed=3)
    fill(postgres.fresh_database("catalog"), rows)
    with database.read_only(postgres.url("catalog")) as session:
        stars = database.read_catalog_table(session, "Star", seed=1).objects
        users = database.read_users(session)
    assert len(stars) == 40 and set(stars["Category"]) <= set("OBAFGKM")
    first_seen = pd.to_datetime(rows["Interaction_Timestamp"]).groupby(rows["User_ID"]).min().dt.date
    assert users.set_index("User_ID")["Signup_Date"].astype(str).to_dict() == first_seen.astype(str).to_dict()
