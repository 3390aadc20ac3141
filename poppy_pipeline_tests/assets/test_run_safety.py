"""One run per outputs folder (the lock), and the run summary read from the Dagster instance: what the run
published, what is older, and its closing sentence."""

import errno
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from poppy_pipeline.common.publication import JOURNAL_FILE
from poppy_pipeline.common.run_lock import FolderBusy, Holder, folder_lock, read_holder
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource, write_failure
from poppy_pipeline.dagster_support.run_lock_executor import _mark_failed
from poppy_pipeline.dagster_support.run_report import NEXT_STEP, CheckOutcome, RunOutcome, StepError, run_outcome
from poppy_pipeline.dagster_support.run_summary import describe_outputs
from poppy_pipeline.definitions import defs
from poppy_pipeline.defs.celestial_objects import celestial_objects
from poppy_pipeline.defs.engagement_scores import engagement_scores
from poppy_pipeline.defs.interaction_report import interaction_report
from poppy_pipeline.defs.simulated_interactions import simulated_interactions
from poppy_pipeline.defs.users import users as users_asset
from poppy_pipeline.simulation import patterns
from poppy_pipeline_tests.conftest import make_model, simulate_window

SIMULATION = [celestial_objects, users_asset, simulated_interactions]

HOLD_LOCK = """
import sys, time
from pathlib import Path
from poppy_pipeline.common.run_lock import folder_lock
with folder_lock(Path(sys.argv[1]), "killed-run"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_second_run_is_refused_with_a_sentence_naming_the_holder(tmp_path: Path):
    with folder_lock(tmp_path, "run-a") as holder, pytest.raises(FolderBusy) as refused, folder_lock(tmp_path, "run-b"):
        pass
    message = str(refused.value)
    for part in ("run-a", f"pid {os.getpid()}", socket.gethostname(), holder.started, str(tmp_path.resolve())):
        assert part in message, part


def test_a_waiting_run_gets_the_folder_once_the_holder_releases_it(tmp_path: Path):
    holding, release = threading.Event(), threading.Event()

    def hold():
        with folder_lock(tmp_path, "run-a"):
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    threading.Timer(1.0, release.set).start()
    stale: list[Holder] = []
    with folder_lock(tmp_path, "run-b", wait_seconds=60, on_stale=stale.append) as mine:
        assert read_holder(tmp_path) == mine
    holder.join()
    assert stale == []  # a clean release leaves no stale record
    assert read_holder(tmp_path) is None


def test_the_lock_of_a_killed_process_is_cleared_and_reported(tmp_path: Path):
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    with pytest.raises(FolderBusy, match="killed-run"), folder_lock(tmp_path, "run-b"):
        pass
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stale: list[Holder] = []
    with folder_lock(tmp_path, "run-b", on_stale=stale.append):
        assert [(h.run_id, h.pid) for h in stale] == [("killed-run", process.pid)]


def test_a_dead_holders_run_is_marked_failed_in_the_instance():
    with dg.instance_for_test() as instance:
        run = instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED))
        dead = Holder(run_id=run.run_id, pid=2**22 + 1, host="here", started="2026-11-21T00:00:00+00:00")
        assert _mark_failed(instance, dead) == "Marked that run as failed."
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert _mark_failed(instance, dead) == "That run's status is FAILURE."
        assert "not in this instance" in _mark_failed(instance, Holder("unknown", 1, "here", "now"))


def test_summary_lists_failed_and_not_applicable_checks_and_blocks_on_blocking_failures():
    checks = [
        CheckOutcome("a", "fine", passed=True, metadata={"measured": 0.5, "target": "≥ 0.4"}),
        CheckOutcome("a", "low", passed=False, metadata={"measured": 0.123456, "target": "≥ 0.4"}),
        CheckOutcome("b", "real_only", passed=True, description="Not applicable: a real log has no oracle."),
        CheckOutcome("c", "parity", evaluated=False, blocking=True),
    ]
    outcome = RunOutcome("r1", "SUCCESS", checks, failures=[])
    lines = outcome.summary()
    assert lines[0] == "Run r1: SUCCESS. Asset checks: 1 passed, 1 failed (0 blocking), 1 not applicable, 1 not run."
    assert "  FAILED   a / low: measured 0.1235, target ≥ 0.4" in lines
    assert "  N/A      b / real_only: a real log has no oracle." in lines
    assert "  NOT RUN  c: parity" in lines
    assert outcome.ok  # a non-blocking failure is reported, not fatal
    checks[1].blocking = True
    assert not outcome.ok


def test_a_check_that_cannot_measure_says_not_applicable_and_the_run_summary_lists_it(data_dir: Path):
    day = "2026-11-21"
    model, _, users = make_model(defs.resources["simulation"].settings())
    frame = simulate_window(model, [date.fromisoformat(day)])
    assert math.isnan(patterns.rating_bias_correlation(frame, users).value)  # the case this test is about
    with dg.instance_for_test() as instance:
        # The patterns are interaction_report's checks, on the days it reads: here the run's one day.
        assets = [*SIMULATION, engagement_scores, interaction_report]
        result = dg.materialize(assets, resources=defs.resources, partition_key=day, instance=instance)
        assert result.success
        all_evaluations = result.get_asset_check_evaluations()
        evaluations = {e.check_name: e for e in all_evaluations if e.asset_key.path == ["interaction_report"]}
        correlation = evaluations["rating_bias_correlation"]
        assert correlation.passed and correlation.description.startswith("Not applicable: only ")
        for evaluation in all_evaluations:
            measured = evaluation.metadata.get("measured")
            assert measured is None or math.isfinite(measured.value), evaluation.check_name
        outcome = run_outcome(instance, instance.get_run_by_id(result.run_id))
    assert outcome.ok and len(outcome.checks) == len(all_evaluations)
    listed = [line for line in outcome.summary() if line.startswith("  N/A")]
    reason = correlation.description.removeprefix("Not applicable: ")
    assert listed == [f"  N/A      interaction_report / rating_bias_correlation: {reason}"]


def test_killed_holders_are_detected_even_when_pids_are_reused(tmp_path: Path):
    """The kernel's flock, not the pid, says whether the holder lives: a live pid in a stale record is stale too."""
    (tmp_path / ".poppy_run.lock").write_text(
        f'{{"run_id": "old", "pid": {os.getpid()}, "host": "{socket.gethostname()}", "started": "{time.time()}"}}'
    )
    stale: list[Holder] = []
    with folder_lock(tmp_path, "new", on_stale=stale.append):
        pass
    assert [h.run_id for h in stale] == ["old"]


def test_every_job_runs_on_the_folder_locked_executor():
    jobs = [defs.resolve_implicit_global_asset_job_def(), *(defs.resolve_job_def(j.name) for j in defs.jobs)]
    assert {job.executor_def.name for job in jobs} == {"folder_locked_executor"}


def test_the_summary_lists_what_this_run_published_then_what_is_older_marked(tmp_path: Path):
    for name in ("users.csv", "old_report.json", "days/2026-11-20.csv", "days/2026-11-21.csv", "bundle/a.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    (tmp_path / ".poppy_run.lock").write_text("")
    published = ["users.csv", "days/2026-11-21.csv", "bundle", "/srv/engine/Layer_2_Top_Trending_Per_Type.csv"]
    lines = describe_outputs(tmp_path, published)
    assert lines[0] == f"Published by this run in {tmp_path.resolve()}:"
    assert lines[1:5] == [
        "  bundle/  1 files (a.js .. a.js)",  # published as a whole
        "  days/  1 of its 2 files written by this run (2026-11-20.csv .. 2026-11-21.csv)",
        "  users.csv  2 bytes",
        "  /srv/engine/Layer_2_Top_Trending_Per_Type.csv",  # under the engine's own folder
    ]
    assert lines[5] == "Older, not written by this run (marked *):"
    assert re.fullmatch(r"  \* old_report\.json  2 bytes, \d{4}-\d\d-\d\d \d\d:\d\d UTC", lines[6])
    assert len(lines) == 7
    nothing = describe_outputs(tmp_path, [])
    assert nothing[0] == f"Nothing of this run was published; {tmp_path.resolve()} keeps what it had."
    assert all(line.startswith("  * ") for line in nothing[2:]) and len(nothing) == 2 + 4
    (tmp_path / JOURNAL_FILE).write_text("{}")
    assert describe_outputs(tmp_path, [])[-1].startswith("A publication stopped midway (killed?): the next run")


@pytest.mark.parametrize(
    ("check", "asset", "sentence"),
    [
        (
            "quarantine_share",
            "session_actions",
            "session_actions / quarantine_share failed (measured 0.02, target ≤ 0.01): fix the rejected rows (each"
            " with its reason, in /o/.poppy_staging/r/quarantine/session_actions/), or raise"
            " resources.action_source.config.max_quarantine_share.",
        ),
        (
            "held_out_auc",
            "click_model",
            "click_model / held_out_auc failed (measured 0.02, target ≤ 0.01): the shipped model is kept;"
            " ops.click_model.config.min_auc sets this bar.",
        ),
        (
            "not_worse_than_shipped",
            "click_model",
            "click_model / not_worse_than_shipped failed (measured 0.02, target ≤ 0.01): the shipped model is kept;"
            " set ops.click_model.config.challenge_shipped: false to replace it regardless.",
        ),
        (
            "integrity",
            "simulated_interactions",
            "simulated_interactions / integrity failed (measured 0.02, target ≤ 0.01): it guards against a broken"
            " input or a bug, not a setting; `make ui` shows its measures.",
        ),
    ],
)
def test_a_failed_blocking_check_closes_the_summary_with_its_setting(check: str, asset: str, sentence: str):
    failed = CheckOutcome(asset, check, passed=False, blocking=True, metadata={"measured": 0.02, "target": "≤ 0.01"})
    step = StepError(asset, "DagsterAssetCheckFailedError", "1 blocking asset check failed")
    outcome = RunOutcome("r", "FAILURE", [failed], ["…"], kept_rejected="/o/.poppy_staging/r/quarantine", errors=[step])
    assert outcome.closing() == sentence


def test_a_failed_step_closes_the_summary_with_its_own_sentence_or_its_error():
    def closing(*errors: StepError) -> str:
        return RunOutcome("r", "FAILURE", [], ["…"], errors=list(errors)).closing()

    assert closing(StepError("users", "Failure", "Could not write /o/users.csv: no space left.")) == (
        "Could not write /o/users.csv: no space left."
    )
    assert closing(StepError("users", "IndexError", "list index out of range")) == (
        "step users failed with IndexError: list index out of range (VERBOSE=1 shows the stack)."
    )
    assert closing(StepError("users", "MemoryError", "Unable to allocate 7.28 TiB")).startswith(
        "step users ran out of memory (Unable to allocate 7.28 TiB): lower the sizes in resources.simulation.config"
    )
    assert closing(StepError("users", "DagsterExecutionInterruptedError", "interrupted")) == (
        "The run was interrupted during step users (Ctrl-C, or terminated): nothing of it was published; run it again."
    )
    assert closing() == "The run ended FAILURE; `make ui` shows its events."
    assert RunOutcome("r", "SUCCESS", [], []).closing() == NEXT_STEP


def test_a_failed_write_is_one_sentence_naming_the_file_what_was_kept_and_what_to_do(tmp_path: Path):
    outputs = OutputsResource(base_dir=str(tmp_path))  # no publisher: files are written in place
    temporary = str(tmp_path / f".users.csv.{'a' * 32}.tmp")  # the atomic writer's file stands for users.csv
    read_only = write_failure(OSError(errno.EROFS, "Read-only file system", temporary), None, outputs)
    assert read_only.description == (
        f"Could not write {tmp_path / 'users.csv'}: the filesystem is read-only; the previous users.csv is kept;"
        " make it writable (or set POPPY_DATA_DIR to another folder) and run again."
    )
    # pyarrow's error carries the code only in its text, and no file: the path the writer was given.
    full = OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")
    day = tmp_path / "simulated_interactions"
    assert write_failure(full, day, outputs).description.startswith(
        f"Could not write {day}: no space left on the device; the previous simulated_interactions is kept;"
    )
    assert write_failure(OSError(errno.ENOENT, "No such file or directory"), day, outputs) is None  # not the user's
