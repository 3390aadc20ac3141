"""A throwaway PostgreSQL server for the database source's tests.

Debian's `initdb` and `postgres` (through `pg_ctl`) on 127.0.0.1, a free port and a temporary
folder, passwords checked (scram-sha-256), no Unix socket. Postgres refuses to run as root: as
root, the server runs as the unprivileged `postgres` user (as `cluster/cluster.py` does). Without
PostgreSQL the tests skip with an install hint; under `CI` they fail instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import psycopg2
import pytest

from poppy_pipeline_tests.support.servers import free_port, require

INSTALL_HINT = "install PostgreSQL: `apt-get install -y postgresql` (the tests start their own server)"
ADMIN, ADMIN_PASSWORD = "poppy_admin", "Adm-3vN8-pQ5t"
# The pipeline's user may only read.
READER, READER_PASSWORD = "poppy_reader", "Pg-4tR8-wQ1zNx"
OS_USER = "postgres"


def binaries() -> dict[str, str] | None:
    """`initdb` and `pg_ctl` of the newest installed PostgreSQL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        return None
    folder = Path(found[-1]).parent
    return {name: str(folder / name) for name in ("initdb", "pg_ctl")}


def require_postgres() -> dict[str, str]:
    return require(binaries(), "PostgreSQL", INSTALL_HINT)


@dataclass
class Postgres:
    folder: Path
    port: int
    pg_ctl: str

    def url(self, database: str, password: str = READER_PASSWORD) -> str:
        return f"postgresql+psycopg2://{READER}:{quote_plus(password)}@127.0.0.1:{self.port}/{database}"

    def admin_url(self, database: str) -> str:
        return f"postgresql+psycopg2://{ADMIN}:{ADMIN_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres"):
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=ADMIN, password=ADMIN_PASSWORD, dbname=database
        )
        connection.autocommit = True
        return connection

    def fresh_database(self, name: str) -> str:
        """An empty database whose tables (created later by the admin) the reader may read; its admin URL."""
        connection = self.admin()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        connection = self.admin(name)
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READER}")
        connection.close()
        return self.admin_url(name)

    def stop(self) -> None:
        _run([*_as_server_user(), self.pg_ctl, "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_server_user() -> list[str]:
    return ["runuser", "-u", OS_USER, "--"] if os.geteuid() == 0 else []


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}")


def start() -> Postgres:
    """initdb in a new temporary folder, start the server, create the reader."""
    tools = require_postgres()
    folder = Path(tempfile.mkdtemp(prefix="poppy_postgres_"))  # not under pytest's root-only folder
    data, password_file = folder / "data", folder / "admin.pw"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam(OS_USER)
        for path in (folder, password_file):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    password_file.chmod(0o600)
    as_user = _as_server_user()
    _run([*as_user, tools["initdb"], "-D", str(data), "-U", ADMIN, "--pwfile", str(password_file),
          "--auth=scram-sha-256", "-E", "UTF8", "--no-instructions"])  # fmt: skip
    password_file.unlink()
    port = free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    _run([*as_user, tools["pg_ctl"], "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "start"])
    server = Postgres(folder, port, tools["pg_ctl"])
    connection = server.admin()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
    connection.close()
    return server


@pytest.fixture(scope="session", name="postgres")
def postgres_server() -> Iterator[Postgres]:
    """One server for the test session, stopped (and its folder removed) afterwards."""
    require_postgres()
    server = start()
    try:
        yield server
    finally:
        server.stop()
