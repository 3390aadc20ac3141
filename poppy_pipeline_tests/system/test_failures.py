"""Every failure a user can cause ends `make run` with one sentence naming what to change, and leaves
the published outputs as they were (the SHA-256 of every published file, before and after).

Refusals before anything is written run `make run`'s launcher (`launch.main`) in this process; the
failures of a running run (a full disk, a forged pickle, a size that cannot fit) and the Makefile
itself (a DAGSTER_HOME with a space) go through the command line in a process of their own.
"""

import hashlib
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from poppy_pipeline.dagster_support import launch
from poppy_pipeline_tests.common.test_safe_pickle import Forged
from poppy_pipeline_tests.support.mounts import fill, read_only, small_filesystem

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-21"
SMALL = "resources:\n  simulation:\n    config:\n      num_users: {users}\n      seed: {seed}\n"
REFUSED = "Not run, nothing written: "


def hashes(folder: Path) -> dict[str, str]:
    """Every published file with its SHA-256 (the hidden lock and staging aside)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    }


def published(folder: Path) -> Path:
    """A folder with published outputs (their bytes are what matters here, not their contents)."""
    for name, text in {
        "users.csv": "User_ID\n1\n",
        f"simulated_interactions/{DAY}.csv": "Interaction_ID\n1\n",
        "click_model_onnx.onnx": "model bytes",
        "engine_exports/Layer_2_Top_Trending_Per_Type.csv": "Object_Type\nStar\n",
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = published(tmp_path / "outputs")
    monkeypatch.chdir(REPO)
    for name in ("POPPY_ENGINE_EXPORT_DIR", "POPPY_OUTPUT_ROOTS", "POPPY_INPUT_ROOTS", "POPPY_SOURCE_PATH", "VERBOSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POPPY_DATA_DIR", str(folder))
    monkeypatch.setenv("POPPY_OBJECTS_DIR", str(tmp_path / "no_objects"))
    return folder


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "my.yaml"
    path.write_text(text)
    return str(path)


# (days, a config file, the sentence); in the sentence `{config}` is the file, `{outputs}` the folder,
# `{day}` any day and `{any}` anything.
REFUSALS = [
    (
        {"start": "2026-11-21", "end": "2026-11-20"},
        None,
        "START 2026-11-21 is after END 2026-11-20: give START on or before END (both days are included).",
    ),
    (
        {"start": "1990-01-01"},
        None,
        "START 1990-01-01 is before the first daily partition, 2024-01-01: give START on or after it, or set"
        " POPPY_PARTITIONS_START earlier (for an older log).",
    ),
    (
        {"end": "2099-01-01"},
        None,
        "END 2099-01-01 is after the last complete day, {day}: a day is materialized once it has ended (UTC);"
        " give END on or before it.",
    ),
    (
        {"start": "2026-02-30"},
        None,
        "START 2026-02-30 is not a day of the calendar (day is out of range for month): give a day that exists.",
    ),
    ({"start": "21/11/2026"}, None, "START '21/11/2026' is not a date: write it as YYYY-MM-DD, e.g. {day}."),
    (
        {},
        'resources:\n  simulation:\n    config:\n      num_users: "many"\n',
        'resources.simulation.config.num_users (in {config}) is "many", not a valid Int: fix it and run again.',
    ),
    (
        {},
        "resources:\n  simulation:\n    config: [\n",
        "The config file {config} is not valid YAML at line 4, column 1 (expected the node content, but found"
        " '<stream end>'): fix it and run again.",
    ),
    ({}, "- a list\n", "The config file {config} holds a list, not run config (a mapping): fix it."),
    (
        {},
        "resources:\n  simulaton:\n    config: {}\n",
        "resources.simulaton (in {config}) is not a resource of the pipeline (action_source, {any}, simulation):"
        " check its spelling.",
    ),
    (
        {},
        "ops:\n  click_model:\n    config:\n      min_aux: 0.5\n",
        'ops.click_model.config has no setting "min_aux" (its settings: challenge_shipped, end, held_out_share,'
        " {any}): check its spelling.",
    ),
    (
        {},
        "resources:\n  simulation:\n    config:\n      num_users: 0\n",
        "resources.simulation.config.num_users must be at least 1, got 0.",
    ),
    (
        {},
        "ops:\n  engine_exports:\n    config:\n      folder: ../../etc\n",
        "ops.engine_exports.config.folder '../../etc' is outside the folders run config may name for the engine"
        " folder ({outputs}), so the run was refused: give a path inside one of them, or set POPPY_ENGINE_EXPORT_DIR"
        " to let it in.",
    ),
    (
        {},
        "resources:\n  outputs:\n    config:\n      base_dir: /etc\n",
        "resources.outputs.config.base_dir '/etc' is outside the folders run config may name for the outputs folder"
        " ({outputs}, data), so the run was refused: give a path inside one of them, or set POPPY_DATA_DIR (or"
        " POPPY_OUTPUT_ROOTS) to let it in.",
    ),
    (
        {},
        "resources:\n  interaction_source:\n    config:\n      path: /etc/shadow\n",
        "resources.interaction_source.config.path '/etc/shadow' is outside the folders run config may name for the"
        " input (data{any}), so the run was refused: give a path inside one of them, or set POPPY_INPUT_ROOTS to let"
        " it in.",
    ),
]


def pattern(template: str, config: str, outputs: Path) -> str:
    """`template` as a regular expression: its text literally, its placeholders filled."""
    regex = re.escape(template)
    for placeholder, value in {
        "{config}": re.escape(config),
        "{outputs}": re.escape(str(outputs)),
        "{day}": r"\d{4}-\d\d-\d\d",
        "{any}": ".*",
    }.items():
        regex = regex.replace(re.escape(placeholder), value)
    return regex


@pytest.mark.parametrize(("days", "config", "sentence"), REFUSALS)
def test_a_run_that_cannot_succeed_is_refused_with_one_sentence_before_anything_is_written(
    outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture, days: dict, config: str | None, sentence: str
):
    argv = ["--start", days.get("start", "2026-11-20"), "--end", days.get("end", DAY)]
    path = config_file(tmp_path, config) if config is not None else ""
    before = sorted(p.name for p in outputs.iterdir()), hashes(outputs)
    assert launch.main(argv + (["--config", path] if path else [])) == 1
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and printed[0].startswith(REFUSED), printed
    assert re.fullmatch(pattern(sentence, path, outputs), printed[0].removeprefix(REFUSED)), printed[0]
    assert (sorted(p.name for p in outputs.iterdir()), hashes(outputs)) == before  # not even a lock file


def test_outputs_folder_naming_a_file_is_refused(outputs: Path, tmp_path: Path, monkeypatch, capsys):
    file = tmp_path / "a_file"
    file.write_text("not a folder")
    for named, detail in ((file, ""), (file / "below", f" ({file} is a file)")):
        monkeypatch.setenv("POPPY_DATA_DIR", str(named))
        assert launch.main(["--start", DAY, "--end", DAY]) == 1
        assert capsys.readouterr().out == (
            f"{REFUSED}The outputs folder {named} names a file, not a folder{detail}: set POPPY_DATA_DIR (or"
            " resources.outputs.config.base_dir) to a folder; it is made when missing.\n"
        )
    assert file.read_text() == "not a folder"


def test_a_read_only_outputs_folder_is_refused_and_kept(tmp_path: Path, monkeypatch, capsys):
    with small_filesystem(tmp_path / "mounted", "1m") as mounted:
        folder = published(mounted / "outputs")
        before = hashes(folder)
        read_only(mounted)
        monkeypatch.chdir(REPO)
        monkeypatch.setenv("POPPY_DATA_DIR", str(folder))
        assert launch.main(["--start", DAY, "--end", DAY]) == 1
        assert capsys.readouterr().out == (
            f"{REFUSED}The outputs folder {folder} is on a read-only filesystem, so nothing was written and its"
            " outputs stay as they were: make it writable, or set POPPY_DATA_DIR to another folder.\n"
        )
        assert hashes(folder) == before


def run_cli(command: list[str], tmp_path: Path, outputs: Path, **env: str) -> subprocess.CompletedProcess:
    home = tmp_path / "dagster home"  # with a space: every run here works in such a DAGSTER_HOME
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "config" / "dagster.yaml").read_text())
    environment = {**os.environ, "DAGSTER_HOME": str(home), "POPPY_DATA_DIR": str(outputs)}
    environment |= {"POPPY_OBJECTS_DIR": str(tmp_path / "no_objects"), **env}
    environment.pop("VERBOSE", None) if "VERBOSE" not in env else None
    return subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)


def launcher(*args: str) -> list[str]:
    return [sys.executable, "-m", "poppy_pipeline.dagster_support.launch", "--start", DAY, "--end", DAY, *args]


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stdout.rstrip("\n").splitlines()[-1]


def test_a_full_disk_ends_in_one_sentence_naming_the_path_and_keeps_the_published_run(tmp_path: Path):
    simulation = "celestial_objects,users,simulated_interactions"
    with small_filesystem(tmp_path / "mounted", "8m") as mounted:
        outputs = mounted / "outputs"
        first = run_cli(
            launcher("--select", simulation, "--config", config_file(tmp_path, SMALL.format(users=50, seed=1))),
            tmp_path,
            outputs,
        )
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
        before = hashes(outputs)
        fill(mounted, leave_bytes=40_000)  # the next run's users.csv (3,000 users) cannot fit
        second = run_cli(
            launcher("--select", simulation, "--config", config_file(tmp_path, SMALL.format(users=3000, seed=2))),
            tmp_path,
            outputs,
        )
        after, left = hashes(outputs), sorted(p.name for p in outputs.iterdir() if p.name.startswith("."))
    assert second.returncode == 1
    sentence = last_line(second)
    assert re.fullmatch(
        f"Could not write {re.escape(str(outputs))}/[^ ]+: no space left on the device; nothing of this run was"
        f" published, {re.escape(str(outputs))} keeps its previous outputs; free space there \\(or set POPPY_DATA_DIR"
        " to another disk\\) and run again.",
        sentence,
    ), sentence
    assert "Stack Trace" not in second.stderr and "Traceback" not in second.stderr
    assert after == before and left == [".poppy_run.lock"]  # nothing staged is left behind


def test_a_forged_pickle_is_refused_with_one_sentence_and_verbose_shows_the_stack(tmp_path: Path):
    outputs = published(tmp_path / "outputs")
    marker = tmp_path / "ran"
    payload = pickle.dumps(Forged(marker))
    (outputs / "click_model.pkl").write_bytes(payload)
    (outputs / "click_model.pkl.sha256").write_text(f"{hashlib.sha256(payload).hexdigest()}  click_model.pkl\n")
    before = hashes(outputs)
    quiet = run_cli(launcher("--select", "click_model_onnx"), tmp_path, outputs)
    assert quiet.returncode == 1
    assert last_line(quiet) == (
        f"{outputs / 'click_model.pkl'} names posix.system, which the pipeline never writes and which could run code"
        " when loaded, so it is not loaded: delete it and materialize click_model again."
    )
    assert "Stack Trace" not in quiet.stderr and " - ERROR - " in quiet.stderr
    assert not marker.exists() and hashes(outputs) == before
    verbose = run_cli(launcher("--select", "click_model_onnx"), tmp_path, outputs, VERBOSE="1")
    assert "Stack Trace" in verbose.stderr and last_line(verbose) == last_line(quiet)
    assert not marker.exists() and hashes(outputs) == before


def test_a_size_whose_arrays_cannot_fit_is_one_sentence_naming_the_setting(tmp_path: Path):
    outputs = published(tmp_path / "outputs")
    before = hashes(outputs)
    huge = config_file(tmp_path, "resources:\n  simulation:\n    config:\n      num_users: 1000000000000\n")
    result = run_cli(
        ["make", "--no-print-directory", "run", f"START={DAY}", f"END={DAY}", f"CONFIG={huge}"], tmp_path, outputs
    )
    assert result.returncode != 0
    sentence = last_line(result)
    assert "num_users" in sentence and re.search(r"\d+(\.\d+)? ?[KMGTP]i?B", sentence), sentence
    assert "Traceback" not in result.stdout + result.stderr and "Stack Trace" not in result.stderr
    assert hashes(outputs) == before


def test_make_run_with_a_space_in_dagster_home_runs_and_leaves_no_stray_folders(tmp_path: Path):
    home = tmp_path / "with space" / "dagster home"  # absent: make creates it and copies config/dagster.yaml
    outputs = tmp_path / "outputs"
    untracked = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    wrong_order = run_cli(
        ["make", "--no-print-directory", "run", f"START={DAY}", "END=2026-11-20"],
        tmp_path,
        outputs,
        DAGSTER_HOME=str(home),
    )
    assert wrong_order.returncode != 0 and "too many arguments" not in wrong_order.stderr
    assert (
        wrong_order.stdout
        == f"{REFUSED}START {DAY} is after END 2026-11-20: give START on or before END (both days are included).\n"
    )
    assert (home / "dagster.yaml").is_file() and not (tmp_path / "with").exists()
    assert (
        subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout == untracked
    )
    assert not outputs.exists()
