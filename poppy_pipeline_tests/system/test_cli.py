"""The Dagster CLI, called the way CI and `make run` call it."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings

DAGSTER = str(Path(sys.executable).with_name("dagster"))
REPO = Path(__file__).resolve().parents[2]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POPPY_DATA_DIR": str(tmp_path / "outputs"),
        "POPPY_OBJECTS_DIR": str(tmp_path / "no_objects"),
        **env,
    }
    return subprocess.run([DAGSTER, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)


def test_definitions_validate(tmp_path: Path):
    result = run(["definitions", "validate", "-m", "poppy_pipeline.definitions"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_dg_lists_the_code_locations_definitions(tmp_path: Path):
    """`dg` (the project's [tool.dg]) finds every definition `poppy_pipeline.definitions` has, each once."""
    from poppy_pipeline.definitions import defs

    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(Path(sys.executable).parents[2])}
    dg_cli = str(Path(sys.executable).with_name("dg"))
    listed = subprocess.run(
        [dg_cli, "list", "defs", "--json"], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    found = json.loads(listed.stdout)
    repository = defs.get_repository_def()
    assert sorted(a["asset_key"] for a in found["assets"]) == sorted(
        k.to_user_string() for k in repository.asset_graph.get_all_asset_keys()
    )
    assert sorted(c["key"] for c in found["asset_checks"]) == sorted(
        f"{k.asset_key.to_user_string()}:{k.name}" for k in repository.asset_graph.asset_check_keys
    )
    assert sorted(j["name"] for j in found["jobs"]) == sorted(j.name for j in defs.jobs or [])
    assert sorted(s["name"] for s in found["schedules"]) == sorted(s.name for s in defs.schedules or [])
    assert sorted(r["name"] for r in found["resources"]) == sorted(defs.resources or {})
    checked = subprocess.run(
        [dg_cli, "check", "defs"], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr


def test_asset_materialize_one_partition_with_env_and_run_config(tmp_path: Path):
    day = "2026-11-21"
    result = run(
        [
            "asset", "materialize", "-m", "poppy_pipeline.definitions",
            "--select", "celestial_objects,users,simulated_interactions",
            "--partition", day,
            "--config-json", '{"resources": {"simulation": {"config": {"num_users": 60}}}}',
        ],
        tmp_path,
        POPPY_SEED="7",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = tmp_path / "outputs"
    # The environment's seed and the run config's size both took effect, and the file is the core's.
    settings = SimulationSettings(seed=7, num_users=60)
    model = build_model(settings, build_catalog(settings, None).objects, generate_users(settings))
    written = tables.read_csv(outputs / "simulated_interactions" / f"{day}.csv")
    expected = tables.table_to_frame(tables.frame_to_table(simulate_day(model, date.fromisoformat(day))))
    assert written.equals(expected)
    assert len(tables.read_csv(outputs / "users.csv")) == 60
    assert "Asset check 'integrity' on 'simulated_interactions' passed" in result.stderr


def test_partition_outside_the_calendar_is_refused(tmp_path: Path):
    result = run(
        [
            "asset",
            "materialize",
            "-m",
            "poppy_pipeline.definitions",
            "--select",
            "simulated_interactions",
            "--partition",
            "1999-01-01",
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert "1999-01-01" in result.stderr


def test_the_executor_refuses_a_range_that_ends_before_it_starts_before_anything_is_written(tmp_path: Path):
    """`dagster asset materialize` (and the UI, the schedules) reach the executor's refusals, not only `make run`."""
    simulation = "celestial_objects,users,simulated_interactions"
    reversed_range = ["--select", simulation, "--partition-range", "2026-11-21...2026-11-20"]
    result = run(["asset", "materialize", "-m", "poppy_pipeline.definitions", *reversed_range], tmp_path)
    assert result.returncode != 0
    assert (
        "Failure: The partition range's first day 2026-11-21 is after its last day 2026-11-20: give the partition"
        " range's first day on or before its last day (both days are included)."
    ) in result.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("module", ["poppy_pipeline.dagster_support.run_summary"])
def test_outputs_summary_names_the_folder(tmp_path: Path, module: str):
    (tmp_path / "outputs" / "simulated_interactions").mkdir(parents=True)
    (tmp_path / "outputs" / "simulated_interactions" / "2026-11-21.csv").write_text("a\n")
    (tmp_path / "outputs" / "users.csv").write_text("a\n")
    result = subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, "POPPY_DATA_DIR": str(tmp_path / "outputs")},
        capture_output=True,
        text=True,
    )
    assert str((tmp_path / "outputs").resolve()) in result.stdout
    assert "simulated_interactions/  1 files (2026-11-21.csv .. 2026-11-21.csv)" in result.stdout


def test_the_whole_graph_over_a_week_in_one_run(tmp_path: Path):
    """`make run`'s command on a week: every asset, the model's blocking checks, the browser bundle."""
    lenient = (
        '{"ops": {"click_model": {"config": {"min_auc": 0.5, "min_oracle_ratio": 0.5, "max_calibration_error": 1.0}}}}'
    )
    result = run(
        [
            "asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", "*",
            "--partition-range", "2026-11-15...2026-11-21", "--config-json", lenient,
        ],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = tmp_path / "outputs"
    assert len(list((outputs / "sliding_window_features").glob("*.csv"))) == 7
    assert (outputs / "browser_bundle" / "click_model.onnx").read_bytes() == (
        outputs / "click_model_onnx.onnx"
    ).read_bytes()
    for check in (
        "held_out_auc' on 'click_model",
        "onnx_parity' on 'click_model_onnx",
        "bundle_matches_manifest' on 'browser_bundle",
    ):
        assert f"Asset check '{check}" in result.stderr and f"{check}' passed" in result.stderr, check


def test_make_run_ends_with_the_failed_checks_and_a_non_zero_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A blocking check forced to fail by run config: the summary names it, its values and its bar."""
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "stars.csv").write_text("Star_ID,Name,Spectral_Class\n1,Sun,G2V\nx,Nowhere,K\n")
    strict = tmp_path / "strict.yaml"
    strict.write_text("resources:\n  interaction_source:\n    config:\n      max_quarantine_share: 0.0\n")
    home = tmp_path / "dagster_home"  # absent: make copies config/dagster.yaml into it
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POPPY_DATA_DIR": str(tmp_path / "outputs"),
        "POPPY_OBJECTS_DIR": str(objects),
    }
    command = ["make", "--no-print-directory", "run", "START=2026-11-21", "END=2026-11-21", f"CONFIG={strict}"]
    result = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "FAILED   celestial_objects / quarantine_share (blocking): " in result.stdout, result.stdout
    failed = next(line for line in result.stdout.splitlines() if "FAILED   celestial_objects" in line)
    assert "quarantined_rows 1" in failed and "threshold 0" in failed
    not_run = next(line for line in result.stdout.splitlines() if line.startswith("  NOT RUN  click_model_onnx: "))
    assert set(not_run.split(": ")[1].split(", ")) == {"onnx_parity", "onnx_size", "onnx_valid"}
    assert "step celestial_objects failed: DagsterAssetCheckFailedError" in result.stdout
    outputs = (tmp_path / "outputs").resolve()
    assert f"Nothing of this run was published; {outputs} keeps what it had." in result.stdout
    kept = outputs / ".poppy_staging"
    (run_folder,) = kept.iterdir()  # the failed run's rejected rows, kept until the next run
    assert result.stdout.splitlines()[-1] == (
        "celestial_objects / quarantine_share failed (input_rows 2, quarantined_rows 1, quarantined_share 0.5,"
        f" threshold 0): fix the rejected rows (each with its reason, in {run_folder}/quarantine/celestial_objects/),"
        " or raise resources.interaction_source.config.max_quarantine_share."
    )
    assert (run_folder / "quarantine" / "celestial_objects" / "stars.csv").is_file()
    assert " - INFO - " in result.stderr and " - DEBUG - " not in result.stderr  # as config/run.yaml says
    assert "Stack Trace" not in result.stderr  # only with VERBOSE=1
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # config/dagster.yaml's storage is under $DAGSTER_HOME
    with dg.DagsterInstance.get() as instance:  # the code location's default: every step in one process
        assert steps_in_process(instance, instance.get_runs(limit=1)[0].run_id)


def steps_in_process(instance: dg.DagsterInstance, run_id: str) -> bool:
    messages = [entry.message for entry in instance.all_logs(run_id)]
    return any(m.startswith("Executing steps in process") for m in messages) and not any(
        "multiprocess" in m for m in messages
    )


def test_the_plain_cli_runs_every_step_in_the_runs_process_unless_asked(tmp_path: Path):
    """`dagster asset materialize` as Dagster's docs call it (no -c): no process per step; run config can
    still ask for one (`execution: {config: {multiprocess: {}}}`)."""
    select = ["asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", "celestial_objects,users"]
    assert run(select, tmp_path).returncode == 0
    multiprocess = run([*select, "--config-json", '{"execution": {"config": {"multiprocess": {}}}}'], tmp_path)
    assert multiprocess.returncode == 0, multiprocess.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        plain, asked = reversed(instance.get_runs(limit=2))
        assert steps_in_process(instance, plain.run_id)
        assert not steps_in_process(instance, asked.run_id)


def test_make_run_prints_no_warning(tmp_path: Path):
    """A fresh DAGSTER_HOME, `make run` on a week: no Python warning (deprecation, beta, supersession)
    and no Dagster WARNING line, the run succeeding."""
    lenient = tmp_path / "lenient.yaml"  # a week is too little for the click model's default bars
    lenient.write_text(
        "ops:\n  click_model:\n    config: {min_auc: 0.5, min_oracle_ratio: 0.5, max_calibration_error: 1.0}\n"
    )
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "POPPY_DATA_DIR": str(tmp_path / "outputs"),
        "POPPY_OBJECTS_DIR": str(tmp_path / "no_objects"),
    }
    command = ["make", "--no-print-directory", "run", "START=2026-11-15", "END=2026-11-21", f"CONFIG={lenient}"]
    result = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "Warning" not in output and " - WARNING - " not in output, [
        line for line in output.splitlines() if "arning" in line
    ]
    assert ": SUCCESS. Asset checks:" in result.stdout


def test_one_run_per_outputs_folder_and_a_killed_run_is_cleared_and_marked_failed(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    environment = {**os.environ, "DAGSTER_HOME": str(home), "POPPY_DATA_DIR": str(tmp_path / "outputs")}
    environment["POPPY_OBJECTS_DIR"] = str(tmp_path / "no_objects")
    whole_month = ["asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", "*"]
    whole_month += ["--partition-range", "2026-10-23...2026-11-21"]
    first = subprocess.Popen(
        [DAGSTER, *whole_month], cwd=REPO, env=environment, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        holder = _wait_for_lock_record(tmp_path / "outputs" / ".poppy_run.lock", first)
        catalog_only = ["asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", "celestial_objects"]
        second = run(catalog_only, tmp_path)
        assert second.returncode != 0
        assert f"is in use by run {holder['run_id']} (pid {first.pid} on " in second.stderr, second.stderr[-3000:]
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the run and its step processes, as a crash or `kill -9` would
        first.wait()
    killed = {p.relative_to(tmp_path / "outputs").parts[0] for p in (tmp_path / "outputs").rglob("*") if p.is_file()}
    assert killed <= {".poppy_run.lock", ".poppy_staging"}  # a killed run published nothing
    third = run(catalog_only, tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    assert f"Removed what 1 earlier run(s) had staged and not published: {holder['run_id']}." in third.stderr
    assert not (tmp_path / "outputs" / ".poppy_staging").exists()
    assert f"Cleared a stale lock on {(tmp_path / 'outputs').resolve()}: run {holder['run_id']}" in third.stderr
    assert "Marked that run as failed." in third.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(holder["run_id"]).status == dg.DagsterRunStatus.FAILURE


PUBLISH_AND_DIE = """
import os, signal, sys
from pathlib import Path
from poppy_pipeline.common.publication import Move, RunStaging
outputs = Path(sys.argv[1])
staging = RunStaging(outputs, "killed-while-publishing")
staging.begin()
for name in ("users.csv", "simulated_interactions/2026-11-21.csv", "zz_report.json"):
    path = staging.staged(outputs / name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"new {name}\\n")
real_apply, done = Move.apply, []
def apply_then_die(self, run_id):
    if len(done) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    done.append(self)
    return real_apply(self, run_id)
Move.apply = apply_then_die
staging.publish()
"""


def test_a_run_killed_while_publishing_is_finished_by_the_next_run_into_the_folder(tmp_path: Path):
    outputs = tmp_path / "outputs"
    (outputs / "simulated_interactions").mkdir(parents=True)
    for name in ("users.csv", "simulated_interactions/2026-11-21.csv", "zz_report.json"):
        (outputs / name).write_text(f"old {name}\n")
    killed = subprocess.run([sys.executable, "-c", PUBLISH_AND_DIE, str(outputs)], cwd=REPO, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    day = "simulated_interactions/2026-11-21.csv"
    contents = {name: (outputs / name).read_text() for name in ("users.csv", day)}
    assert contents == {"users.csv": "new users.csv\n", day: f"old {day}\n"}  # cut midway: two of three moved
    assert (outputs / ".poppy_publishing.json").is_file()
    catalog_only = ["asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", "celestial_objects"]
    result = run(catalog_only, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Finished publishing run killed-while-publishing, which stopped midway (killed?): 1 more of its" in (
        result.stderr
    )
    for name in ("users.csv", "simulated_interactions/2026-11-21.csv", "zz_report.json"):
        assert (outputs / name).read_text() == f"new {name}\n", name
    assert not (outputs / ".poppy_publishing.json").exists() and not (outputs / ".poppy_staging").exists()
    assert (outputs / "celestial_objects.csv").is_file()  # and the run itself was published


def _wait_for_lock_record(path: Path, process: subprocess.Popen) -> dict:
    """The holder record of `process`'s run, once it has taken the lock."""
    while process.poll() is None:
        record = path.read_text() if path.exists() else ""
        if record:
            return json.loads(record)
        time.sleep(0.2)
    raise AssertionError(f"the first run ended (exit {process.returncode}) before taking the lock")


def test_run_config_moves_the_outputs_and_the_run_lock(tmp_path: Path):
    """`resources.outputs.config.base_dir` moves the files and the folder the run holds, not only the tables."""
    configured = tmp_path / "configured"
    config = json.dumps({"resources": {"outputs": {"config": {"base_dir": str(configured)}}}})
    select = ["asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", "celestial_objects"]
    refused = run([*select, "--config-json", config], tmp_path)  # outside $POPPY_DATA_DIR: refused by the executor
    assert refused.returncode != 0 and not configured.exists()
    assert f"resources.outputs.config.base_dir '{configured}' is outside the folders run config" in refused.stderr
    result = run([*select, "--config-json", config], tmp_path, POPPY_OUTPUT_ROOTS=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (configured / "celestial_objects.csv").is_file()
    assert (configured / ".poppy_run.lock").is_file()  # the executor held this folder
    assert not (tmp_path / "outputs").exists()  # $POPPY_DATA_DIR, which the config overrides
