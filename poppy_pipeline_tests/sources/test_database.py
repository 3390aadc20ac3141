"""The `database` source's core on SQLite files: reading, mapping, quarantine, errors, the decision."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from poppy_pipeline.common.columns import APP_INTERACTION_COLUMNS
from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation.catalog import build_catalog, generate_durations
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources import database
from poppy_pipeline.sources.database_connection import parse_url
from poppy_pipeline.sources.log_files import check_poppy_log, read_poppy_log, users_from_poppy_log
from poppy_pipeline_tests.support import mariadb_server, postgres_server
from poppy_pipeline_tests.support.backend_tables import (
    as_poppy_log,
    catalog_tables,
    fill,
    interaction_rows,
    write_object_files,
)

DAYS = ["2024-02-01", "2024-02-02", "2024-02-03"]
DEFAULT_TYPES = database.DEFAULT_EVENT_TYPES


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def good_db(tmp_path: Path) -> tuple[str, pd.DataFrame]:
    rows = interaction_rows(400, DAYS[0], len(DAYS), seed=3)
    url = sqlite_url(tmp_path / "poppy.db")
    fill(url, rows)
    return url, rows


def read_all(url: str, days=DAYS):
    with database.read_only(url) as session:
        raw, counts = database.read_interactions(session, days)
        users = database.read_users(session)
        catalog = {t: database.read_catalog_table(session, t, seed=5) for t in database.CATALOG_TABLES}
    objects = pd.concat([c.objects for c in catalog.values()], ignore_index=True)
    return raw, counts, users, objects


def test_days_are_read_mapped_and_equal_to_the_same_log_as_a_file(good_db, tmp_path: Path):
    url, rows = good_db
    raw, counts, users, objects = read_all(url)
    per_day = rows["Interaction_Timestamp"].str[:10].value_counts()
    assert {d: counts[d] for d in DAYS} == per_day.to_dict() and counts["no timestamp"] == 0
    checked = database.check_interactions(raw, objects, users, database.DEFAULT_EVENT_TYPES)
    assert checked.rejected.empty and len(checked.valid) == len(rows)
    with database.read_only(url) as session:  # checked day by day while reading: the same
        overlapped, _ = database.read_and_check(session, DAYS, objects, users, DEFAULT_TYPES)
    pd.testing.assert_frame_equal(overlapped.valid, checked.valid)
    # The same log as seed 000's CSV, through the file source's own validation, gives the same rows.
    path = tmp_path / "log.csv"
    as_poppy_log(rows).to_csv(path, index=False)
    file_rows = read_poppy_log(path)
    from_file = check_poppy_log(path, file_rows, objects, users_from_poppy_log(file_rows))
    ordered = checked.valid.sort_values("Interaction_ID").reset_index(drop=True)
    pd.testing.assert_frame_equal(ordered, from_file.valid, check_dtype=False)
    assert set(ordered["Interaction_Type"]) == {"View", "Favorite", "Rate", "Click"}
    assert (ordered["Interaction_Type"] == "Favorite").sum() == (rows["Interaction_Type"] == "Like").sum()


def test_bad_rows_are_quarantined_with_table_key_and_column(tmp_path: Path):
    good = interaction_rows(20, DAYS[0], 1, seed=1)
    bad = good.iloc[:8].copy()
    bad["Interaction_ID"] = [101, 102, 103, 104, 105, 106, 107, 7]  # 7 repeats a good row's ID
    bad["Interaction_Type"] = ["View", "View", "Share", "Rate", "View", "View", "View", "View"]
    bad["Interaction_Rating"] = pd.array([None, None, None, 7, 3, None, None, None], dtype="Int64")
    bad["Object_Reference_ID"] = [1, 1, 1, 1, 1, 999, 1, 1]
    bad["Interaction_Timestamp"] = [None, "2024-02-01 25:61:00", *["2024-02-01 10:00:00"] * 6]
    bad["Object_Type"] = "Star"
    url = sqlite_url(tmp_path / "poppy.db")
    fill(url, pd.concat([good, bad], ignore_index=True), primary_key=False, stamp_type=sa.Text())
    raw, counts, users, objects = read_all(url, DAYS[:1])
    checked = database.check_interactions(raw, objects, users, database.DEFAULT_EVENT_TYPES)
    with database.read_only(url) as session:  # the same, checked day by day while reading
        overlapped, same_counts = database.read_and_check(session, DAYS[:1], objects, users, DEFAULT_TYPES)
    assert same_counts == counts
    pd.testing.assert_frame_equal(overlapped.valid, checked.valid)
    pd.testing.assert_frame_equal(overlapped.rejected, checked.rejected)
    assert counts["no timestamp"] == 1 and checked.input_rows == len(good) + len(bad)
    assert len(checked.valid) + len(checked.rejected) == checked.input_rows == len(raw)
    reasons = dict(zip(checked.rejected["Interaction_ID"], checked.rejected["reason"], strict=True))
    assert reasons == {
        "101": "Interactions Interaction_ID=101: Interaction_Timestamp '' is not an ISO 8601 date-time",
        "102": "Interactions Interaction_ID=102: Interaction_Timestamp '2024-02-01 25:61:00'"
        " is not an ISO 8601 date-time",
        "103": "Interactions Interaction_ID=103: Interaction_Type 'Share' is not one of View, Click, Like, Rate",
        "104": "Interactions Interaction_ID=104: Interaction_Rating '7' is not a whole rating 1-5",
        "105": "Interactions Interaction_ID=105: Interaction_Rating '3' is given on a non-Rate event",
        "106": "Interactions Interaction_ID=106: Object_Reference_ID '999' is not the ID of a Star in the catalog",
        "7": "Interactions Interaction_ID=7: Interaction_ID '7' repeats an earlier row",
    }
    # Quarantined with the table's own columns and values.
    assert checked.rejected.columns.tolist() == [*APP_INTERACTION_COLUMNS, "reason"]
    assert checked.rejected.set_index("Interaction_ID").loc["103", "Interaction_Type"] == "Share"


def test_the_type_map_is_configuration(good_db):
    url, rows = good_db
    raw, _, users, objects = read_all(url)
    only_views_and_likes = {"View": "View", "Like": "Rate"}
    checked = database.check_interactions(raw, objects, users, only_views_and_likes)
    unknown = checked.rejected["reason"].str.contains("is not one of View, Like").sum()
    assert unknown == rows["Interaction_Type"].isin(["Click", "Rate"]).sum()
    # Likes carry no rating, so as Rate they are rejected; views pass.
    assert set(checked.valid["Interaction_Type"]) == {"View"}
    assert len(checked.valid) == (rows["Interaction_Type"] == "View").sum()


def test_catalog_from_the_tables(good_db):
    url, _ = good_db
    with database.read_only(url) as session:
        stars = database.read_catalog_table(session, "Star", seed=5)
        planets = database.read_catalog_table(session, "Planet", seed=5)
        moons = database.read_catalog_table(session, "Moon", seed=5)
    tables = catalog_tables()
    assert stars.objects["Object_ID"].tolist() == tables["Stars"]["Star_ID"].tolist()
    assert stars.objects["Category"].tolist() == tables["Stars"]["Star_SpType"].str[0].tolist()
    assert stars.objects["Name"].tolist() == tables["Stars"]["Star_Name"].tolist()
    assert set(planets.objects["Category"]) == {"Terrestrial", "GasGiant", "IceGiant", "DwarfPlanet"}
    assert moons.objects["Category"].tolist() == tables["Moons"]["Parent_Planet_Name"].tolist()
    # Durations the tables lack come from the seed, exactly as for object files.
    expected = generate_durations(stream(5, "durations:Star"), "Star", len(tables["Stars"]))
    np.testing.assert_array_equal(stars.objects["Duration_Sec"], expected)
    files = build_catalog(SimulationSettings(seed=5), write_object_files(Path(url[10:]).parent / "objects"))
    pd.testing.assert_frame_equal(files.objects[files.objects["Object_Type"] == "Star"], stars.objects)


def test_reading_never_writes(good_db):
    url, _ = good_db
    path = Path(url.removeprefix("sqlite:///"))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with database.read_only(url) as session:
        database.read_interactions(session, DAYS)
        cursor = session.connection.cursor()
        with pytest.raises(Exception, match=r"readonly|read-only|query_only|attempt to write"):
            cursor.execute("DELETE FROM Interactions")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_unreadable_databases_fail_with_one_sentence(tmp_path: Path):
    missing = sqlite_url(tmp_path / "absent.db")
    with pytest.raises(database.DatabaseError, match=r"^Cannot read table Interactions of SQLite file .*absent\.db:"):
        database.read_only(missing).__enter__()
    empty = tmp_path / "empty.db"
    fill(sqlite_url(empty), interaction_rows(5, DAYS[0], 1))
    import sqlite3

    with sqlite3.connect(empty) as connection:
        connection.execute("DROP TABLE Interactions")
    with (
        pytest.raises(database.DatabaseError) as raised,
        database.read_only(sqlite_url(empty)) as session,
    ):
        database.read_interactions(session, DAYS)
    assert str(raised.value) == f"Cannot read table Interactions of SQLite file {empty}: the table does not exist."
    with pytest.raises(database.DatabaseError, match="not an SQLAlchemy URL") as raised:
        parse_url("mysql+pymysql://u:Secret-Pw@host:notaport/db")
    assert "Secret-Pw" not in str(raised.value)


def test_too_few_rows_fail_or_simulate(good_db):
    url, rows = good_db
    known = len(rows)
    args = (url, DAYS[0], DAYS[-1], database.DEFAULT_EVENT_TYPES)
    assert database.decide(*args, known, "fail").use_database
    with pytest.raises(database.DatabaseError) as raised:
        database.decide(*args, known + 1, "fail")
    assert str(raised.value).startswith(
        f"table Interactions of SQLite file {url[10:]} holds {known} rows in {DAYS[0]}..{DAYS[-1]},"
        f" fewer than min_real_interactions {known + 1}"
    )
    decision = database.decide(*args, known + 1, "simulate")
    assert not decision.use_database and decision.rows == known
    assert "simulating instead" in decision.message and "simulation_fit" in decision.message
    # Only types the map knows count, as the back end counts its Like/Rate/View rows.
    views = database.decide(url, DAYS[0], DAYS[-1], {"View": "View"}, 1, "fail").rows
    assert views == (rows["Interaction_Type"] == "View").sum()


@pytest.mark.parametrize(
    ("module", "require", "server", "package"),
    [
        (mariadb_server, "require_mariadb", "MariaDB", "mariadb-server"),
        (postgres_server, "require_postgres", "PostgreSQL", "postgresql"),
    ],
)
def test_without_a_server_its_tests_skip_with_a_hint_but_fail_under_ci(monkeypatch, module, require, server, package):
    monkeypatch.setattr(module, "binaries", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"apt-get install -y {package}"):
        getattr(module, require)()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"CI is set but no {server} server found"):
        getattr(module, require)()


def test_naive_timestamps_are_read_in_the_source_time_zone(tmp_path: Path):
    rows = interaction_rows(4, DAYS[0], 1, seed=2)
    # Paris is UTC+1 in February: local 00:30 on Feb 2 is 23:30 UTC on Feb 1; local 00:30 on Feb 1 is Jan 31.
    rows["Interaction_Timestamp"] = [
        "2024-02-01 00:30:00",
        "2024-02-01 12:00:00",
        "2024-02-02 00:30:00",
        "2024-02-02 01:30:00",
    ]
    url = sqlite_url(tmp_path / "poppy.db")
    fill(url, rows)
    zone = "Europe/Paris"
    with database.read_only(url) as session:
        raw, counts = database.read_interactions(session, ["2024-02-01"], zone)
        users = database.read_users(session, zone)
        objects = pd.concat([database.read_catalog_table(session, t, seed=0).objects for t in database.CATALOG_TABLES])
    assert counts["2024-02-01"] == 2 and raw["Interaction_ID"].tolist() == ["2", "3"]
    checked = database.check_interactions(raw, objects, users, database.DEFAULT_EVENT_TYPES, zone)
    assert checked.valid["Timestamp"].astype(str).tolist() == ["2024-02-01 11:00:00", "2024-02-01 23:30:00"]
    first_user = rows.loc[0, "User_ID"]
    assert str(users.set_index("User_ID").loc[first_user, "Signup_Date"]) == "2024-01-31"
    # The too-few count is bounded the same way: Feb 2 (UTC) holds one row in Paris time, two in UTC.
    assert database.decide(url, DAYS[1], DAYS[1], database.DEFAULT_EVENT_TYPES, 1, "fail", zone).rows == 1
    assert database.decide(url, DAYS[1], DAYS[1], database.DEFAULT_EVENT_TYPES, 1, "fail").rows == 2
