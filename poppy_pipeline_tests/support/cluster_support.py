"""The cluster profile in tests: started once per session in a temporary folder on free ports.

A pytest plugin (conftest.py's `pytest_plugins`): the `cluster` fixture runs `cluster/cluster.py up`
exactly as `make cluster-up` does and `down` at the end; helpers talk to its webserver over GraphQL.
The tests that use it (and the UI's) run after the others.
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
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPT = REPO / "cluster" / "cluster.py"
DAGSTER = str(Path(sys.executable).with_name("dagster"))
INSTALL_HINT = "apt-get install postgresql rabbitmq-server (or run .ci/run)"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
CLUSTER_USERS, CLUSTER_SEED = "40", "11"


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
        for attempt in range(3):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    body = json.load(response)
                break
            except urllib.error.HTTPError as error:
                # After a Postgres restart, a pooled connection's first use fails (500) and is replaced.
                if error.code != 500 or attempt == 2:
                    raise
                time.sleep(0.5)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_until_answering(self, timeout: float = 120, in_a_row: int = 3) -> None:
        """Until a query that reads each storage (runs, event log, schedules) answers `in_a_row` times
        in a row: after Postgres restarts, the webserver's first query on each of its pooled
        connections (dead with the old server) fails with a 500."""
        query = """query($repo: RepositorySelector!) {
            runsOrError(limit: 1) { __typename } assetsOrError(limit: 1) { __typename }
            schedulesOrError(repositorySelector: $repo) { __typename } }"""
        repo = {"repositoryLocationName": self.location, "repositoryName": "__repository__"}
        deadline = time.monotonic() + timeout
        answered = 0
        while answered < in_a_row:
            assert time.monotonic() < deadline, f"{self.url} still failing {timeout:.0f} s after Postgres returned"
            try:
                data = self.graphql(query, repo=repo)
                healthy = {v["__typename"] for v in data.values()} == {"Runs", "AssetConnection", "Schedules"}
            except (urllib.error.URLError, AssertionError):
                healthy = False
            answered = answered + 1 if healthy else 0
            if not healthy:
                time.sleep(0.5)

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

    def wait_for_backfill_runs(self, backfill_id: str, count: int, timeout: float) -> list[dict]:
        """The backfill's runs once there are `count` and all have finished (without waiting for the
        daemon's next pass, up to 30 s later, to mark the backfill itself completed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.backfill(backfill_id)["runs"]
            if len(runs) >= count and all(run["status"] in FINISHED for run in runs):
                return runs
            time.sleep(1)
        raise AssertionError(f"backfill {backfill_id}: not {count} finished runs after {timeout:.0f} s: {runs}")

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
            time.sleep(1)
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

    def finished_steps(self, run_id: str) -> set[str]:
        """Steps of the run that succeeded or failed."""
        data = self.graphql(
            """query($id: ID!) { logsForRun(runId: $id, limit: 10000) { ... on EventConnection { events {
                 __typename ... on StepEvent { stepKey } } } } }""",
            id=run_id,
        )
        done = ("ExecutionStepSuccessEvent", "ExecutionStepFailureEvent")
        return {event["stepKey"] for event in data["logsForRun"]["events"] if event["__typename"] in done}

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

    def command(self, name: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """`cluster/cluster.py <name>` with the cluster's environment (`up` also restarts what died)."""
        result = subprocess.run(
            [sys.executable, str(CLUSTER_SCRIPT), name],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def signal(self, name: str, sig: signal.Signals) -> bool:
        """Send `sig` to a cluster process and its children (SIGKILL: as a crash would); False if gone."""
        try:
            os.killpg(int((self.folder / "run" / f"{name}.pid").read_text()), sig)
        except (FileNotFoundError, ProcessLookupError):
            return False
        return True

    def stop_daemon(self, timeout: float = 30) -> None:
        """Kill the daemon (and its code server) if it runs, and wait until it is gone."""
        deadline = time.monotonic() + timeout
        while self.signal("daemon", signal.SIGKILL):
            assert time.monotonic() < deadline, f"the daemon still runs {timeout:.0f} s after SIGKILL"
            time.sleep(0.2)

    def set_schedule(self, name: str, running: bool) -> None:
        """Start a schedule, or reset it to its default status (stopped) as in the UI."""
        mutation = "startSchedule" if running else "resetSchedule"
        result = self.graphql(
            f"""mutation($selector: ScheduleSelector!) {{ {mutation}(scheduleSelector: $selector) {{
                 __typename ... on PythonError {{ message }} }} }}""",
            selector={"repositoryLocationName": self.location, "repositoryName": "__repository__",
                      "scheduleName": name},
        )[mutation]  # fmt: skip
        assert result["__typename"] == "ScheduleStateResult", result

    def backdate_schedule(self, name: str, started: datetime) -> None:
        """Record a running schedule as started at `started`: its ticks since then are due."""
        from dagster import DagsterInstance
        from dagster._core.scheduler.instigation import InstigatorType, ScheduleInstigatorData

        with mock.patch.dict(os.environ, self.env), DagsterInstance.get() as instance:
            states = instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
            (state,) = [s for s in states if s.name == name]
            data = ScheduleInstigatorData(state.instigator_data.cron_schedule, started.timestamp())
            instance.update_instigator_state(state.with_data(data))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run alone, the tests that need the cluster or the UI last (in their own order), so that the
    rest of the suite runs before the cluster starts rather than beside its idle processes. (Under
    pytest-xdist, conftest.py puts them first, in a worker of their own.)"""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: any(item.iter_markers("cluster")) or any(item.iter_markers("browser")))


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
        "POPPY_CLUSTER_STOP_SECONDS": "5",  # at the end of the session, nothing is left to finish
        # The daemon starts queued runs every second and evaluates backfills every 2 s (not 5 and 30):
        # the tests wait on runs, not on the daemon's clock.
        "POPPY_DEQUEUE_SECONDS": "1",
        "POPPY_DAEMON_PASS_SECONDS": "2",
        # A small world for runs without run config (the schedule's, the UI's launches).
        "POPPY_NUM_USERS": CLUSTER_USERS,
        "POPPY_SEED": CLUSTER_SEED,
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
