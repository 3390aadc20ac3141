"""A throwaway MariaDB server for the tests and the benchmark.

Debian's `mariadbd` on 127.0.0.1, a free port and a temporary data directory; a user with a real
password (no `--skip-grant-tables`), so a wrong password is refused as in production. Without
MariaDB the tests skip with an install hint; under `CI` they fail instead, so CI cannot pass
without having run them.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import pymysql
import pytest

from poppy_pipeline_tests.support.servers import free_port, require

INSTALL_HINT = "install MariaDB: `apt-get install -y mariadb-server` (the tests start their own server)"
DATABASE = "poppy"
# The pipeline's user may only read; the tests load rows as root over the socket.
READER = "poppy_reader"
READER_PASSWORD = "Rd-7fQ2-xK9pLm"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


@dataclass
class MariaDB:
    folder: Path
    port: int
    process: subprocess.Popen

    @property
    def socket_path(self) -> Path:
        return self.folder / "mariadb.sock"

    def url(self, password: str = READER_PASSWORD, database: str = DATABASE) -> str:
        return f"mysql+pymysql://{READER}:{quote_plus(password)}@127.0.0.1:{self.port}/{database}"

    def admin_url(self, database: str = DATABASE) -> str:
        return f"mysql+pymysql://root@localhost/{database}?unix_socket={self.socket_path}&local_infile=1"

    def fresh_database(self, name: str) -> str:
        """An empty database that the reader may read; returns the admin URL (for loading rows)."""
        with self.admin(database=None) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            cursor.execute(f"CREATE DATABASE {name}")
            cursor.execute(f"GRANT SELECT ON {name}.* TO '{READER}'@'%'")
        return self.admin_url(name)

    def admin(self, database: str | None = DATABASE) -> pymysql.Connection:
        """Root over the socket, for creating tables and loading rows."""
        return pymysql.connect(
            unix_socket=str(self.socket_path), user="root", database=database, local_infile=True, autocommit=True
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def binaries() -> tuple[str, str] | None:
    server = shutil.which("mariadbd", path=SEARCH_PATH)
    installer = shutil.which("mariadb-install-db", path=SEARCH_PATH)
    return (server, installer) if server and installer else None


def require_mariadb() -> tuple[str, str]:
    return require(binaries(), "MariaDB", INSTALL_HINT)


def start(folder: Path, buffer_pool: str = "128M") -> MariaDB:
    """Install a data directory in `folder`, start the server, create the database and its reader."""
    server, installer = require_mariadb()
    user = getpass.getuser()  # as root, mariadbd refuses to start without --user
    data = folder / "data"
    subprocess.run(
        [installer, "--no-defaults", f"--datadir={data}", f"--user={user}", "--auth-root-authentication-method=normal",
         "--skip-test-db"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    log = folder / "mariadb.err"
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", f"--socket={folder / 'mariadb.sock'}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--user={user}", f"--pid-file={folder / 'mariadb.pid'}", f"--log-error={log}",
         "--skip-name-resolve", "--skip-log-bin", "--local-infile=1", f"--innodb-buffer-pool-size={buffer_pool}",
         "--innodb-flush-log-at-trx-commit=0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    instance = MariaDB(folder, port, process)
    _wait_until_ready(instance, log)
    with instance.admin(database=None) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {DATABASE}")
        cursor.execute(f"CREATE USER '{READER}'@'%' IDENTIFIED BY '{READER_PASSWORD}'")
        cursor.execute(f"GRANT SELECT ON {DATABASE}.* TO '{READER}'@'%'")
    return instance


def _wait_until_ready(instance: MariaDB, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise RuntimeError(f"mariadbd exited: {log.read_text()[-2000:] if log.exists() else ''}")
        try:
            instance.admin(database=None).close()
            return
        except pymysql.err.OperationalError:
            time.sleep(0.2)
    instance.stop()
    raise RuntimeError(f"mariadbd did not accept connections within {timeout} s")


@pytest.fixture(scope="session", name="mariadb")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One server for the test session, stopped (and its data directory removed) afterwards."""
    require_mariadb()
    instance = start(tmp_path_factory.mktemp("mariadb"))
    try:
        yield instance
    finally:
        instance.stop()
