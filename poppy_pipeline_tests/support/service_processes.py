"""The service and a Dagster webserver as the tests' own processes, on free ports, with their logs kept.

`dagster dev` is `make ui`'s command (workspace.yaml, a sqlite instance in a temporary
DAGSTER_HOME); `python -m poppy_pipeline.service` is `make serve`'s. Both are stopped, with their
children, when the test is done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import dagster as dg

from poppy_pipeline_tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))


@dataclass
class Process:
    url: str
    log: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if process.poll() is not None:
                exited = f"the process exited ({process.returncode})"
                raise RuntimeError(f"{url}: {exited}: {log.read_text()[-3000:]}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s: {log.read_text()[-3000:]}") from None
            time.sleep(0.3)


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path, health_path: str, timeout: float) -> Iterator[Process]:
    """`command` (its `{port}` filled with a free port) until it answers `health_path`; stopped afterwards."""
    port = free_port()
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [part.replace("{port}", str(port)) for part in command],
            cwd=REPO,
            env={**os.environ, **env, "POPPY_SERVICE_PORT": str(port)},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + health_path, process, log, timeout)
        yield Process(url, log, process)
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def dagster_dev(folder: Path, env: dict[str, str]) -> Iterator[Process]:
    """`make ui`'s webserver (and daemon) on a fresh instance in `folder`."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text((REPO / "config" / "dagster.yaml").read_text())
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": str(home)}), dg.DagsterInstance.from_config(str(home)):
        pass  # its storage created once, before two processes open it
    command = [DAGSTER, "dev", "-h", "127.0.0.1", "-p", "{port}"]
    with started(command, {**env, "DAGSTER_HOME": str(home)}, folder / "dagster_dev.log", "/server_info", 240) as dev:
        yield dev


@contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[Process]:
    """`make serve`'s process."""
    with started([sys.executable, "-m", "poppy_pipeline.service"], env, log, "/", 60) as running:
        yield running
