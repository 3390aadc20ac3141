"""The cluster profile (cluster/): backfills over Celery workers, and the faults it survives.

Every test is bounded in time (pytest-timeout, and each wait has its own deadline) and compares the
cluster's files byte for byte with an embedded `dagster asset materialize` of the same window and
seed. Each test leaves the cluster as it found it (all processes up, no run in progress), so they
pass in any order.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from poppy_pipeline.common.run_lock import LOCK_NAME
from poppy_pipeline_tests.support.cluster_support import DAGSTER, REPO, Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

UNPARTITIONED = ["celestial_objects", "users"]
DAILY = ["simulated_interactions", "session_actions", "sliding_window_features"]
ASSETS = UNPARTITIONED + DAILY
DAYS = [f"2026-11-{day}" for day in range(16, 22)]  # six days: two runs of three on the cluster
# The cluster's processes get the same size and seed from the environment (cluster_support), so
# the schedule's runs, which have no run config, are as small.
SIMULATION = {"resources": {"simulation": {"config": {"num_users": 40, "seed": 11}}}}
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
TEMP_FILE = re.compile(r"(.*/)?\.(?P<target>[^/]+)\.[0-9a-f]{32}\.tmp$")  # paths.replaced_atomically's


def materialize_args(module: str, partitions: list[str], assets: list[str] = ASSETS, config: dict = SIMULATION):
    return ["asset", "materialize", "-m", module, "--select", ",".join(assets), *partitions,
            "--config-json", json.dumps(config)]  # fmt: skip


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, bytes]:
    """The files of the embedded default (sqlite, one process) for the same window and seed; the
    command runs while the cluster starts."""
    folder = tmp_path_factory.mktemp("embedded")
    (folder / "home").mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(folder / "home"),
        "POPPY_DATA_DIR": str(folder / "outputs"),
        "POPPY_OBJECTS_DIR": str(folder / "no_objects"),
    }
    args = materialize_args("poppy_pipeline.definitions", ["--partition-range", f"{DAYS[0]}...{DAYS[-1]}"],
                            config={**SIMULATION, **IN_PROCESS})  # fmt: skip
    with open(folder / "materialize.log", "w") as log:
        process = subprocess.Popen([DAGSTER, *args], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        request.getfixturevalue("cluster")
        returncode = process.wait(timeout=300)
    finally:
        process.kill()
    assert returncode == 0, (folder / "materialize.log").read_text()[-3000:]
    return output_files(folder / "outputs")


def output_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, temp files included; not the run lock (a run's
    record, not an output: the embedded executor holds it, the Celery one does not)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != LOCK_NAME
    }


def of_days(files: dict[str, bytes], days: list[str]) -> dict[str, bytes]:
    """The unpartitioned files and the daily ones of `days` (`<asset>/<day>.csv` and its sidecars)."""
    return {path: content for path, content in files.items() if "/" not in path or Path(path).name[:10] in days}


def fresh_outputs(cluster: Cluster, seeded: dict[str, bytes] | None = None) -> None:
    shutil.rmtree(cluster.data_dir, ignore_errors=True)
    cluster.data_dir.mkdir(parents=True)
    for path, content in (seeded or {}).items():
        (cluster.data_dir / path).write_bytes(content)


def test_backfill_spreads_days_over_runs_and_workers_with_identical_files(cluster: Cluster, embedded):
    fresh_outputs(cluster)
    backfill_id = cluster.launch_backfill(ASSETS, DAYS, SIMULATION)
    # The catalog and users first, then the days in two runs (the daemon marks the backfill completed
    # on its next pass, up to 30 s later: its runs are what matters).
    all_runs = cluster.wait_for_backfill_runs(backfill_id, count=3, timeout=240)

    assert {run["status"] for run in all_runs} == {"SUCCESS"}
    runs = [run for run in all_runs if partition_range(run)]
    assert sorted(partition_range(run) for run in runs) == [(DAYS[0], DAYS[2]), (DAYS[3], DAYS[5])]
    workers = {w for run in runs for started in cluster.workers_by_step(run["id"]).values() for w in started}
    assert workers == {"worker1", "worker2"}
    assert output_files(cluster.data_dir) == embedded


def partition_range(run: dict) -> tuple[str, str] | None:
    tags = {t["key"]: t["value"] for t in run["tags"]}
    start = tags.get("dagster/asset_partition_range_start")
    return (start, tags["dagster/asset_partition_range_end"]) if start else None


def test_worker_killed_mid_step_the_step_is_redelivered_to_the_other_worker(cluster: Cluster, embedded):
    """Celery's late acknowledgement: the killed worker never acknowledged the step's message, so
    RabbitMQ hands it to the other worker when the connection drops; the run still succeeds.

    The catalog and users are in place (the embedded run's files), so the backfill of three days is
    one run of the daily assets. The worker is frozen (SIGSTOP) as soon as a step starts on it and
    killed only if that step has not finished: the kill always lands mid-step."""
    days = DAYS[:3]
    fresh_outputs(cluster, seeded=of_days(embedded, []))
    backfill_id = cluster.launch_backfill(DAILY, days, SIMULATION)
    try:
        run_id, step, victim = kill_a_worker_mid_step(cluster, backfill_id, timeout=120)
        (run,) = cluster.wait_for_backfill_runs(backfill_id, count=1, timeout=180)
    finally:
        cluster.command("up")  # the killed worker back, for the other tests
    assert run["status"] == "SUCCESS"
    survivor = "worker2" if victim == "worker1" else "worker1"
    assert cluster.workers_by_step(run_id)[step] == [victim, survivor]
    written = output_files(cluster.data_dir)
    # The killed attempt may leave the temp file of a write it had begun (never read): nothing else.
    leftovers = [path for path in written if TEMP_FILE.match(path)]
    assert all(TEMP_FILE.match(path)["target"] in {Path(p).name for p in written} for path in leftovers)
    assert {path: content for path, content in written.items() if path not in leftovers} == of_days(embedded, days)


def kill_a_worker_mid_step(cluster: Cluster, backfill_id: str, timeout: float) -> tuple[str, str, str]:
    """The (run, step, worker) of the first step that a worker had started and not finished when killed."""
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline:
        for run in cluster.backfill(backfill_id)["runs"]:
            for step, workers in cluster.workers_by_step(run["id"]).items():
                if (run["id"], step) in seen:
                    continue
                seen.add((run["id"], step))
                cluster.signal(workers[0], signal.SIGSTOP)
                if step in cluster.finished_steps(run["id"]):
                    cluster.signal(workers[0], signal.SIGCONT)  # too late for this one: the next step
                    continue
                cluster.signal(workers[0], signal.SIGKILL)
                return run["id"], step, workers[0]
        time.sleep(0.2)
    raise AssertionError(f"no step caught running on a worker within {timeout:.0f} s")


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
        wait_for_file(cluster.data_dir / "users.csv", timeout=120)
        cluster_script.postgres_down(cluster.env)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
        # The daemon's code location, reloaded during the outage, failed to load and stays so until
        # its next refresh (every 60 s); backfills and schedules evaluated meanwhile fail. A restart
        # loads it now: stopped here, it starts again with Postgres and any process the outage stopped.
        cluster.stop_daemon()
        cluster.command("up")
        cluster.wait_until_answering()
    assert process.returncode != 0
    # Dagster's own report: a stack trace whose last line says what happened, after psycopg2's reason.
    assert output.strip().splitlines()[-1].endswith("too many retries for DB connection"), output[-3000:]
    assert f'"127.0.0.1", port {cluster.env["POPPY_PG_PORT"]} failed: Connection refused' in output
    written = output_files(cluster.data_dir)
    assert written and all(embedded.get(path) == content for path, content in written.items())

    # The interrupted run could not record its failure: it stays STARTED (and holds a queue slot).
    assert len(cluster.cancel_started_runs()) == 1

    again = subprocess.run(args, cwd=REPO, env=environment, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    assert output_files(cluster.data_dir) == of_days(embedded, [day])


def wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} not written within {timeout:.0f} s"
        time.sleep(0.2)


SCHEDULE = "daily_partitions_job_schedule"


def test_daemon_evaluates_the_daily_schedule_and_its_run_succeeds(cluster: Cluster):
    """The schedule is started as if a day ago (the daemon stopped meanwhile), so the daemon's
    first evaluation when it starts again finds this morning's 01:00 tick due and launches
    yesterday's partition."""
    fresh_outputs(cluster)
    cluster.stop_daemon()
    try:
        cluster.set_schedule(SCHEDULE, running=True)
        now = datetime.now(UTC)
        cluster.backdate_schedule(SCHEDULE, now - timedelta(days=1))
        since = now.timestamp()
        cluster.command("up")  # the daemon again
        run_id = wait_for_scheduled_run(cluster, SCHEDULE, created_after=since, timeout=120)
        run = cluster.wait_for_run(run_id, timeout=240)
    finally:
        cluster.set_schedule(SCHEDULE, running=False)  # no more ticks during the other tests
    expected_day = str((now - timedelta(days=1, hours=1)).date())  # the last 01:00 tick's day before
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS", cluster.failures(run_id)
    assert tags["dagster/partition"] == expected_day
    assert (cluster.data_dir / "simulated_interactions" / f"{expected_day}.csv").exists()


def wait_for_scheduled_run(cluster: Cluster, schedule: str, created_after: float, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = cluster.graphql(
            """query($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results { id } } } }""",
            filter={"tags": [{"key": "dagster/schedule_name", "value": schedule}], "createdAfter": created_after},
        )["runsOrError"]["results"]
        if runs:
            return runs[0]["id"]
        time.sleep(1)
    raise AssertionError(f"the daemon launched no run of {schedule} within {timeout:.0f} s")
