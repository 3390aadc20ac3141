"""The cluster profile in tests: started once per session in a temporary folder on free ports.

A pytest plugin (conftest.py's `pytest_plugins`): the `cluster` fixture runs `cluster/cluster.py up`
exactly as `make cluster-up` does and `down` at the end; helpers talk to its webserver over GraphQL.
Without Postgres or RabbitMQ installed the tests skip with an install hint; under CI=true they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = REPO / "cluster" / "cluster.py"
DAGSTER = str(Path(sys.executable).with_name("dagster"))
INSTALL_HINT = "apt-get install postgresql rabbitmq-server (or run .ci/run)"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def require(condition: bool, what: str) -> None:
    """Skip with an install hint when something is missing; fail instead under CI=true."""
    if condition:
        return
    message = f"{what} is not installed: {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Webserver:
    """A Dagster webserver (the cluster's, or `make ui`'s) and the instance and files behind it."""

    url: str
    env: dict[str, str]  # the environment of its processes: DAGSTER_HOME, POPPY_DATA_DIR, ...
    name: str = "cluster"

    @property
    def data_dir(self) -> Path:
        return Path(self.env["POPPY_DATA_DIR"])

    def dagster(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """The dagster CLI against the same instance and files, from the repository."""
        return subprocess.run(
            [DAGSTER, *args], cwd=REPO, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=timeout
        )

    @property
    def location(self) -> str:
        """The name of its (only) code location."""
        data = self.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
        (entry,) = data["workspaceOrError"]["locationEntries"]
        return entry["name"]

    def graphql(self, query: str, **variables) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_until_answering(self, timeout: float = 120, in_a_row: int = 5) -> None:
        """Until GraphQL answers `in_a_row` times in a row: after Postgres restarts, the webserver's
        first query on each pooled connection (dead with the old server) fails with a 500."""
        deadline = time.monotonic() + timeout
        answered = 0
        while answered < in_a_row:
            assert time.monotonic() < deadline, f"{self.url} still failing {timeout:.0f} s after Postgres returned"
            try:
                self.graphql("{ runsOrError(limit: 1) { __typename } }")
                answered += 1
            except urllib.error.HTTPError:
                answered = 0
                time.sleep(1)

    def cancel_started_runs(self) -> list[str]:
        """Mark runs still STARTED as canceled (an operator's step for runs orphaned by an outage)."""
        data = self.graphql("""{ runsOrError(filter: {statuses: [STARTED]}) { ... on Runs { results { id } } } }""")
        run_ids = [run["id"] for run in data["runsOrError"]["results"]]
        for run_id in run_ids:
            self.graphql(
                """mutation($id: String!) { terminateRun(runId: $id, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) {
                     __typename } }""",
                id=run_id,
            )
        return run_ids

    def launch_backfill(self, assets: list[str], days: list[str], run_config: dict) -> str:
        data = self.graphql(
            """mutation($params: LaunchBackfillParams!) {
                 launchPartitionBackfill(backfillParams: $params) {
                   __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
                 } }""",
            params={
                "assetSelection": [{"path": [name]} for name in assets],
                "partitionNames": days,
                "runConfigData": run_config,
            },
        )["launchPartitionBackfill"]
        assert data["__typename"] == "LaunchBackfillSuccess", data
        return data["backfillId"]

    def backfill(self, backfill_id: str) -> dict:
        return self.graphql(
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                 ... on PartitionBackfill { status runs { id status tags { key value } } } } }""",
            id=backfill_id,
        )["partitionBackfillOrError"]

    def wait_for_backfill(self, backfill_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.backfill(backfill_id)
            if state["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
                return state
            time.sleep(2)
        raise AssertionError(f"backfill {backfill_id} still {state['status']} after {timeout:.0f} s: {state}")

    def run(self, run_id: str) -> dict:
        return self.graphql(
            """query($id: ID!) { runOrError(runId: $id) { ... on Run { id status tags { key value } } } }""",
            id=run_id,
        )["runOrError"]

    def wait_for_run(self, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["status"] in FINISHED:
                return run
            time.sleep(2)
        raise AssertionError(f"run {run_id} still {run['status']} after {timeout:.0f} s")

    def events(self, run_id: str) -> list[dict]:
        """The run's events: type, message, step key and the text metadata (e.g. the Celery worker)."""
        data = self.graphql(
            """query($id: ID!) { logsForRun(runId: $id, limit: 10000) { ... on EventConnection { events {
                 __typename ... on MessageEvent { message stepKey }
                 ... on EngineEvent { metadataEntries { label ... on TextMetadataEntry { text } } } } } } }""",
            id=run_id,
        )
        return data["logsForRun"]["events"]

    def failures(self, run_id: str) -> list[dict]:
        """The run's step failures: step key, error class and message."""
        data = self.graphql(
            """query($id: ID!) { logsForRun(runId: $id, limit: 10000) { ... on EventConnection { events {
                 ... on ExecutionStepFailureEvent { stepKey error { className message } } } } } }""",
            id=run_id,
        )
        return [event for event in data["logsForRun"]["events"] if event]

    def run_ids_since(self, created_after: float) -> list[str]:
        data = self.graphql(
            """query($after: Float) {
                 runsOrError(filter: {createdAfter: $after}) { ... on Runs { results { id } } } }""",
            after=created_after,
        )
        return [run["id"] for run in data["runsOrError"]["results"]]

    def workers_by_step(self, run_id: str) -> dict[str, list[str]]:
        """For each step, the Celery workers that started it, in order."""
        started: dict[str, list[str]] = {}
        for event in self.events(run_id):
            worker = {e["label"]: e.get("text") for e in event.get("metadataEntries") or []}.get("Celery worker")
            if worker and event.get("stepKey"):
                started.setdefault(event["stepKey"], []).append(worker.split("@")[0])
        return started


@dataclass
class Cluster(Webserver):
    folder: Path = Path()

    def command(self, name: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """`cluster/cluster.py <name>` with the cluster's environment."""
        result = subprocess.run(
            [sys.executable, str(CLUSTER_SCRIPT), name],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def kill(self, name: str) -> None:
        """SIGKILL a cluster process with its children, as a crash would."""
        os.killpg(int((self.folder / "run" / f"{name}.pid").read_text()), signal.SIGKILL)


def parse_exports(text: str) -> dict[str, str]:
    """The `export KEY='value'` lines of `cluster.py env`: ports, secrets, DAGSTER_HOME, broker URL."""
    pairs = (line.removeprefix("export ").split("=", 1) for line in text.splitlines() if line)
    return {key: value.strip("'") for key, value in pairs}


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    require(any(Path("/usr/lib/postgresql").glob("*/bin/initdb")), "postgresql")
    require(Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists(), "rabbitmq-server")
    # Not under pytest's private tmp folder: Postgres runs as an unprivileged user that must reach it.
    folder = Path(tempfile.mkdtemp(prefix="poppy-cluster-"))
    folder.chmod(0o755)
    env = {
        "POPPY_CLUSTER_DIR": str(folder),
        "POPPY_DATA_DIR": str(folder / "outputs"),
        "POPPY_OBJECTS_DIR": str(folder / "no_objects"),
        "POPPY_BACKFILL_DAYS_PER_RUN": "3",
        **{
            name: str(free_port())
            for name in (
                "POPPY_PG_PORT",
                "POPPY_AMQP_PORT",
                "POPPY_AMQP_DIST_PORT",
                "POPPY_EPMD_PORT",
                "POPPY_CLUSTER_UI_PORT",
            )
        },
    }
    started = Cluster(url=f"http://127.0.0.1:{env['POPPY_CLUSTER_UI_PORT']}", env=env, folder=folder)
    try:
        started.command("up", timeout=600)
        started.env = {**env, **parse_exports(started.command("env").stdout)}
        yield started
    finally:
        subprocess.run([sys.executable, str(CLUSTER_SCRIPT), "down"], env={**os.environ, **env}, timeout=300)
        shutil.rmtree(folder, ignore_errors=True)
