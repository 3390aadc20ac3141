"""The `database` source against a real MariaDB server (Debian's mariadb-server, started by the tests)."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.engagement.engine_exports import LAYER_2_FILE
from poppy_pipeline.sources import database
from poppy_pipeline_tests.assets.test_database_assets import FEBRUARY, SUMMARIES, bad_rows, materialize_from
from poppy_pipeline_tests.support.backend_tables import as_poppy_log, fill, interaction_rows, write_object_files
from poppy_pipeline_tests.support.mariadb_server import READER, READER_PASSWORD, MariaDB, free_port, mariadb_server  # noqa: F401 (fixture)

DOWNSTREAM = ["celestial_objects.csv", "users.csv", "engagement_scores.csv", "trending_objects.csv"]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
REPO = Path(__file__).resolve().parents[2]


def month_with_bad_rows(seed: int) -> pd.DataFrame:
    rows = interaction_rows(2_000, "2024-02-01", 29, seed=seed)
    no_timestamp = rows.iloc[:1].assign(Interaction_ID=90_010, Interaction_Timestamp=None)
    return pd.concat([rows, bad_rows(rows), no_timestamp], ignore_index=True)


def checksum(server: MariaDB, name: str) -> tuple:
    with server.admin(name) as connection, connection.cursor() as cursor:
        cursor.execute("CHECKSUM TABLE Interactions, Stars, Planets, Moons")
        return tuple(cursor.fetchall())


def assert_database_and_csv_give_identical_files(
    url: str, rows: pd.DataFrame, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """`rows` (from `month_with_bad_rows`, already in the database at `url`) through the `database`
    source, then as seed 000's CSV with the tables as object files: byte-identical files."""
    from_database = materialize_from(InteractionSourceResource(format="database", database_url=url))
    assert from_database.success
    metadata = from_database.asset_materializations_for_node("simulated_interactions")[0].metadata
    assert metadata["rows_read"].value == len(rows) and metadata["rows_without_timestamp"].value == 1
    rejected = pd.read_csv(data_dir / "quarantine" / "simulated_interactions" / "Interactions.csv")
    assert sorted(rejected["reason"]) == [
        "Interactions Interaction_ID=90001: Interaction_Type 'Share' is not one of View, Click, Like, Rate",
        "Interactions Interaction_ID=90002: Object_Reference_ID '10000' is not the ID of a Star in the catalog",
        "Interactions Interaction_ID=90003: Interaction_Rating '4' is given on a non-Rate event",
        "Interactions Interaction_ID=90010: Interaction_Timestamp '' is not an ISO 8601 date-time",
    ]

    # The same rows as seed 000's CSV, with the tables as object files, in another data folder.
    log = tmp_path / "log.csv"
    as_poppy_log(rows).to_csv(log, index=False)
    files_dir = tmp_path / "from_files"
    monkeypatch.setenv("POPPY_DATA_DIR", str(files_dir))
    simulation = SimulationResource(objects_dir=str(write_object_files(tmp_path / "objects")))
    assert materialize_from(InteractionSourceResource(path=str(log), format="poppy"), simulation=simulation).success
    days = sorted(p.name for p in (data_dir / "simulated_interactions").iterdir())
    assert len(days) == 29
    for name in [*(f"simulated_interactions/{d}" for d in days), *DOWNSTREAM, f"engine_exports/{LAYER_2_FILE}"]:
        assert (data_dir / name).read_bytes() == (files_dir / name).read_bytes(), name


def test_the_same_log_from_mariadb_and_from_a_csv_gives_identical_files(
    mariadb: MariaDB, data_dir: Path, tmp_path: Path, monkeypatch
):
    rows = month_with_bad_rows(seed=21)
    fill(mariadb.fresh_database("same_log"), rows)
    before = checksum(mariadb, "same_log")
    assert_database_and_csv_give_identical_files(
        mariadb.url(database="same_log"), rows, data_dir, tmp_path, monkeypatch
    )
    assert checksum(mariadb, "same_log") == before  # nothing written (and the reader may only SELECT)


def test_unreadable_servers_fail_with_one_sentence_without_the_password(mariadb: MariaDB):
    fill(mariadb.fresh_database("errors"), interaction_rows(10, "2024-02-01", 1))
    mariadb.fresh_database("no_tables")
    closed = free_port()
    cases = {
        mariadb.url("Wrong-Pw-123", "errors"): f"Cannot read table Interactions of database errors on host"
        f" 127.0.0.1:{mariadb.port}: Access denied for user '{READER}'@'127.0.0.1' (using password: YES).",
        mariadb.url(database="no_tables"): f"Cannot read table Interactions of database no_tables on host"
        f" 127.0.0.1:{mariadb.port}: the table does not exist.",
        mariadb.url(database="errors").replace(str(mariadb.port), str(closed)): f"Cannot read table Interactions"
        f" of database errors on host 127.0.0.1:{closed}: Can't connect to MySQL server on '127.0.0.1'",
    }
    for url, sentence in cases.items():
        with pytest.raises(database.DatabaseError) as raised, database.read_only(url) as session:
            database.read_interactions(session, ["2024-02-01"])
        assert str(raised.value).startswith(sentence)
        assert "Wrong-Pw-123" not in str(raised.value) and READER_PASSWORD not in str(raised.value)


def run_cli(tmp_path: Path, url: str, select: list[str] = SUMMARIES) -> tuple[subprocess.CompletedProcess, Path]:
    home, outputs = tmp_path / "dagster_home", tmp_path / "outputs"
    home.mkdir(parents=True)
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POPPY_DATA_DIR": str(outputs),
        "POPPY_OBJECTS_DIR": str(tmp_path / "no_objects"),
        "POPPY_SOURCE_FORMAT": "database",
        "POPPY_DATABASE_URL": url,
    }
    command = [DAGSTER, "asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", ",".join(select)]
    range_ = f"{FEBRUARY['dagster/asset_partition_range_start']}...{FEBRUARY['dagster/asset_partition_range_end']}"
    result = subprocess.run(
        [*command, "--partition-range", range_],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, tmp_path


def files_holding(folder: Path, secret: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_the_cli_reads_mariadb_and_never_shows_the_password(mariadb: MariaDB, tmp_path: Path):
    fill(mariadb.fresh_database("cli"), month_with_bad_rows(seed=5))
    result, folder = run_cli(tmp_path / "good", mariadb.url(database="cli"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "outputs" / "engine_exports" / LAYER_2_FILE).exists()
    assert "holds 2002 rows in 2024-02-01..2024-02-29" in result.stderr  # known types in the window
    assert READER_PASSWORD not in result.stdout + result.stderr
    assert files_holding(folder, READER_PASSWORD) == []  # outputs, quarantine, Dagster's own storage

    wrong = "Wr0ng-Pass-77"
    result, folder = run_cli(tmp_path / "wrong", mariadb.url(wrong, "cli"), SUMMARIES[:3])
    assert result.returncode != 0
    sentence = (
        f"Cannot read table Interactions of database cli on host 127.0.0.1:{mariadb.port}:"
        f" Access denied for user '{READER}'@'127.0.0.1' (using password: YES)."
    )
    assert sentence in result.stderr
    assert wrong not in result.stdout + result.stderr and files_holding(folder, wrong) == []
    assert not (folder / "outputs" / "simulated_interactions").exists()


def test_a_table_without_primary_key_rows_without_id_and_repeated_ids(mariadb: MariaDB):
    rows = interaction_rows(3_000, "2024-02-01", 2, seed=8)
    extra = rows.iloc[:2].assign(Interaction_ID=pd.array([None, 5], dtype="Int64"))
    fill(mariadb.fresh_database("no_key"), pd.concat([rows, extra], ignore_index=True), primary_key=False)
    with database.read_only(mariadb.url(database="no_key"), chunk_rows=1_000) as session:
        raw, counts = database.read_interactions(session, ["2024-02-01", "2024-02-02"])
        users = database.read_users(session)
        objects = pd.concat([database.read_catalog_table(session, t, seed=0).objects for t in database.CATALOG_TABLES])
    assert counts["2024-02-01"] + counts["2024-02-02"] == len(raw) == 3_002
    checked = database.check_interactions(raw, objects, users, database.DEFAULT_EVENT_TYPES)
    assert len(checked.valid) == 3_000
    assert sorted(checked.rejected["reason"]) == [
        "Interactions Interaction_ID=5: Interaction_ID '5' repeats an earlier row",
        "Interactions Interaction_ID=NULL: Interaction_ID '' is not a positive integer",
    ]
