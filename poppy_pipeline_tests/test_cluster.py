"""The cluster profile (cluster/): backfills over Celery workers, and the faults it survives.

Every test is bounded in time (each wait has a deadline) and compares the cluster's files byte for
byte with an embedded `dagster asset materialize` of the same window and seed.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .cluster_support import DAGSTER, REPO, Cluster

pytestmark = pytest.mark.cluster

ASSETS = ["celestial_objects", "users", "simulated_interactions", "session_actions", "sliding_window_features"]
DAYS = [f"2026-11-{day}" for day in range(16, 22)]  # six days: two runs of three on the cluster
SIMULATION = {"resources": {"simulation": {"config": {"num_users": 40, "seed": 11}}}}
HEAVY_STEPS = ("session_actions", "sliding_window_features")


def materialize_args(module: str, partitions: list[str] | None = None) -> list[str]:
    partitions = partitions or ["--partition-range", f"{DAYS[0]}...{DAYS[-1]}"]
    return ["asset", "materialize", "-m", module, "--select", ",".join(ASSETS), *partitions,
            "--config-json", json.dumps(SIMULATION)]  # fmt: skip


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files of the embedded default (sqlite, one process) for the same window and seed."""
    folder = tmp_path_factory.mktemp("embedded")
    (folder / "home").mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(folder / "home"),
        "POPPY_DATA_DIR": str(folder / "outputs"),
        "POPPY_OBJECTS_DIR": str(folder / "no_objects"),
    }
    result = subprocess.run(
        [DAGSTER, *materialize_args("poppy_pipeline.definitions")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return output_files(folder / "outputs")


def output_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, temp files included (there must be none)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def fresh_outputs(cluster: Cluster) -> None:
    shutil.rmtree(cluster.data_dir, ignore_errors=True)
    cluster.data_dir.mkdir(parents=True)


def daily_runs(state: dict) -> list[dict]:
    return [r for r in state["runs"] if any(t["key"] == "dagster/asset_partition_range_start" for t in r["tags"])]


def test_backfill_spreads_days_over_runs_and_workers_with_identical_files(cluster: Cluster, embedded):
    fresh_outputs(cluster)
    backfill_id = cluster.launch_backfill(ASSETS, DAYS, SIMULATION)
    state = cluster.wait_for_backfill(backfill_id)

    assert state["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), state
    assert {run["status"] for run in state["runs"]} == {"SUCCESS"}
    runs = daily_runs(state)
    assert len(runs) == 2  # POPPY_BACKFILL_DAYS_PER_RUN=3 for six days
    workers = {w for run in runs for started in cluster.workers_by_step(run["id"]).values() for w in started}
    assert workers == {"worker1", "worker2"}
    assert output_files(cluster.data_dir) == embedded


def test_worker_killed_mid_step_the_step_is_redelivered_to_the_other_worker(cluster: Cluster, embedded):
    """Celery's late acknowledgement: the killed worker never acknowledged the step's message, so
    RabbitMQ hands it to the other worker when the connection drops; the run still succeeds."""
    fresh_outputs(cluster)
    backfill_id = cluster.launch_backfill(ASSETS, DAYS, SIMULATION)
    run_id, step, victim = wait_for_heavy_step(cluster, backfill_id, timeout=600)
    cluster.kill(victim)
    try:
        state = cluster.wait_for_backfill(backfill_id)
    finally:
        cluster.command("up")  # the killed worker back, for the other tests
    assert state["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), state
    assert {run["status"] for run in state["runs"]} == {"SUCCESS"}
    survivor = "worker2" if victim == "worker1" else "worker1"
    assert cluster.workers_by_step(run_id)[step] == [victim, survivor]
    assert output_files(cluster.data_dir) == embedded


def wait_for_heavy_step(cluster: Cluster, backfill_id: str, timeout: float) -> tuple[str, str, str]:
    """The first (run, step, worker) where a session or window step has started on a Celery worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in daily_runs(cluster.backfill(backfill_id)):
            for step, workers in cluster.workers_by_step(run["id"]).items():
                if step in HEAVY_STEPS:
                    return run["id"], step, workers[0]
        time.sleep(0.3)
    raise AssertionError(f"no step of {HEAVY_STEPS} started within {timeout:.0f} s")


def test_postgres_stopped_mid_run_fails_cleanly_and_the_same_command_then_completes(cluster: Cluster, embedded):
    """`dagster asset materialize` on the cluster (Celery steps, Postgres events) for one day; Postgres
    stops once users.csv is written. The command fails naming the database; every file then present is
    complete (identical to the embedded run's); with Postgres back, the same command completes."""
    sys.path.insert(0, str(REPO / "cluster"))
    import cluster as cluster_script  # cluster/cluster.py

    fresh_outputs(cluster)
    day = DAYS[2]
    args = [DAGSTER, *materialize_args("poppy_pipeline.cluster_definitions", ["--partition", day])]
    environment = {**os.environ, **cluster.env}
    process = subprocess.Popen(
        args, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for_file(cluster.data_dir / "users.csv", timeout=300)
        cluster_script.postgres_down(cluster.env)
        output, _ = process.communicate(timeout=300)
    finally:
        process.kill()
        cluster_script.postgres_up(cluster.env)
        cluster.wait_until_answering()
    assert process.returncode != 0
    # Dagster's own report: a stack trace whose last line says what happened, after psycopg2's reason.
    assert output.strip().splitlines()[-1].endswith("too many retries for DB connection"), output[-3000:]
    assert f'"127.0.0.1", port {cluster.env["POPPY_PG_PORT"]} failed: Connection refused' in output
    written = output_files(cluster.data_dir)
    assert written and all(embedded.get(path) == content for path, content in written.items())

    # The interrupted run could not record its failure: it stays STARTED (and holds a queue slot).
    assert len(cluster.cancel_started_runs()) == 1

    again = subprocess.run(args, cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    one_day = {path: content for path, content in embedded.items() if "/" not in path or path.endswith(f"{day}.csv")}
    assert output_files(cluster.data_dir) == one_day


def wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not written within {timeout:.0f} s"
        time.sleep(0.2)


def test_daemon_evaluates_the_daily_schedule_and_its_run_succeeds(cluster: Cluster, monkeypatch):
    """The schedule is started as if a day ago (the daemon stopped meanwhile), so the daemon's
    next evaluation finds this morning's 01:00 tick due and launches yesterday's partition."""
    from dagster import DagsterInstance
    from dagster._core.scheduler.instigation import InstigatorType, ScheduleInstigatorData

    name = "daily_partitions_job_schedule"
    cluster.kill("daemon")
    started = cluster.graphql(
        """mutation($selector: ScheduleSelector!) { startSchedule(scheduleSelector: $selector) {
             __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }""",
        selector={"repositoryLocationName": cluster.location, "repositoryName": "__repository__",
                  "scheduleName": name},
    )["startSchedule"]  # fmt: skip
    assert started["__typename"] == "ScheduleStateResult", started
    for key, value in cluster.env.items():
        monkeypatch.setenv(key, value)
    now = datetime.now(UTC)
    with DagsterInstance.get() as instance:
        (state,) = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE) if s.name == name]
        data = state.instigator_data
        instance.update_instigator_state(
            state.with_data(ScheduleInstigatorData(data.cron_schedule, (now - timedelta(days=1)).timestamp()))
        )
    cluster.command("up")  # the daemon again

    expected_day = str((now - timedelta(days=1, hours=1)).date())
    run_id = wait_for_scheduled_run(cluster, name, timeout=300)
    run = cluster.wait_for_run(run_id, timeout=600)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS"
    assert tags["dagster/partition"] == expected_day
    assert (cluster.data_dir / "simulated_interactions" / f"{expected_day}.csv").exists()


def wait_for_scheduled_run(cluster: Cluster, schedule: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = cluster.graphql(
            """query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results { id } } } }""",
            filter={"tags": [{"key": "dagster/schedule_name", "value": schedule}]},
        )["runsOrError"]["results"]
        if runs:
            return runs[0]["id"]
        time.sleep(2)
    raise AssertionError(f"the daemon launched no run of {schedule} within {timeout:.0f} s")
