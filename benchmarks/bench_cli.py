"""Speed where users feel it: the real commands, timed, next to the core at the same volume.

    make bench            # or: .venv/bin/python benchmarks/bench_cli.py [--only run|day] [--events 5e6]

Two scenarios, each in a fresh Dagster instance (`DAGSTER_HOME`) and outputs folder:

- `make run`: the default run once installed (the 30 days ending yesterday, every asset and
  check), exactly as a user types it;
- a day of `--events` simulated interactions (default 5,000,000, 1 user per 5 events, all signed
  up) through `dagster asset materialize` of `celestial_objects`, `users` and
  `simulated_interactions`, with their checks (`bench_plain_cli.py` times the same day without
  `-c config/run.yaml`, against `make run`'s own path).

For each: the command's wall and CPU time, then every step's time read from the run's event log
(step start to step success), next to the same work done by the pure core in a child process (the
core benchmark at the same volume: generate, check and write the same files) and their ratio.
Steps without a core counterpart here show "–". Goals (issue 14): `make run` ≤ 20 s wall on
2 cores, the day ≥ 1,000,000 events/s through the CLI, every step within 2× of its core figure
(for steps whose core takes ≥ 0.1 s: a shorter step is Dagster's own per-step cost).
The machine's load average is printed: on a shared machine, wall times grow with it. Each
instance gets the project's `config/dagster.yaml`, as `make run` gives its own. After the day, the
start-up floor: `import poppy_pipeline.definitions`, and Dagster's CLI materializing three trivial
assets with the same instance settings and executor (what no change to this project can remove).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import Benchmark

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAY = "2026-11-21"
GOAL_RUN_S = 20.0
GOAL_EVENTS_PER_S = 1_000_000
GOAL_RATIO = 2.0
# The ratio goal applies to steps whose core takes at least this long: below it the step is
# Dagster's own cost per step (about 0.02 s, see the start-up floor), which no core change moves.
MIN_CORE_S_FOR_RATIO = 0.1
EVENTS_PER_USER = 5


def run_scenario(name: str, command: list[str], folder: Path, extra_env: dict[str, str]) -> dict:
    """Run `command` in a fresh instance and outputs folder; its wall/CPU time and the run's steps."""
    home, outputs = folder / "dagster_home", folder / "outputs"
    home.mkdir(parents=True, exist_ok=True)
    # The project's instance settings, as `make run` gives its instance (SQLite without an fsync
    # per event, no telemetry); Dagster's defaults would add seconds of waiting for the disk.
    shutil.copy(REPO / "config" / "dagster.yaml", home / "dagster.yaml")
    environment = {**os.environ, "DAGSTER_HOME": str(home), "POPPY_DATA_DIR": str(outputs), **extra_env}
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{name}: `{' '.join(command)}` failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": _children_cpu() - cpu_before,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "steps": step_times(home),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def step_times(home: Path) -> dict[str, float]:
    """Seconds from STEP_START to STEP_SUCCESS of each step of the instance's latest run, in order."""
    code = """
import json, dagster as dg
instance = dg.DagsterInstance.get()  # $DAGSTER_HOME: its dagster.yaml may name it
run = instance.get_runs(limit=1)[0]
started, steps = {}, {}
for entry in instance.all_logs(run.run_id):
    event = entry.dagster_event
    if event is None or not entry.step_key:
        continue
    if event.event_type == dg.DagsterEventType.STEP_START:
        started[entry.step_key] = entry.timestamp
    elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
        steps[entry.step_key] = entry.timestamp - started[entry.step_key]
print(json.dumps(steps))
"""
    environment = {**os.environ, "DAGSTER_HOME": str(home)}
    output = subprocess.run([sys.executable, "-c", code], env=environment, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def make_run_command() -> list[str]:
    return ["make", "--no-print-directory", "run"]


def day_command(config: Path) -> list[str]:
    return [
        str(BIN / "dagster"), "asset", "materialize", "-m", "poppy_pipeline.definitions",
        "--select", "celestial_objects,users,simulated_interactions", "--partition", DAY,
        "-c", "config/run.yaml", "-c", str(config),
    ]  # fmt: skip


def day_settings(events: int) -> dict:
    """The simulation config of the day scenario: everyone signed up long before the day."""
    return {
        "num_users": max(100, events // EVENTS_PER_USER),
        "interactions_per_day": events,
        "signup_start": "2020-01-01",
        "signup_end": "2020-01-02",
    }


FLOOR_MODULE = """
import dagster as dg

@dg.asset
def a() -> int:
    return 1

@dg.asset
def b(a: int) -> int:
    return a

@dg.asset
def c(b: int) -> int:
    return b

defs = dg.Definitions(assets=[a, b, c])
"""


def start_up_floor(folder: Path) -> dict:
    """What a run pays before any step: Python importing the definitions, and Dagster's own CLI
    materializing three trivial assets (same instance settings and executor), best of three."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "floor_defs.py").write_text(FLOOR_MODULE)
    imports = [_timed([str(BIN / "python"), "-c", "import poppy_pipeline.definitions"], REPO, {}) for _ in range(3)]
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "floor_defs", "--select", "*", "-c"]
    dagster_cli = []
    for i in range(3):
        home = folder / f"home{i}"
        home.mkdir()
        shutil.copy(REPO / "config" / "dagster.yaml", home / "dagster.yaml")
        environment = {"DAGSTER_HOME": str(home), "PYTHONPATH": str(folder)}
        dagster_cli.append(_timed([*command, str(REPO / "config" / "run.yaml")], folder, environment))
        dagster_cli[-1]["steps"] = step_times(home)
    fastest = _fastest(dagster_cli)
    trivial_step = sorted(fastest["steps"].values())[len(fastest["steps"]) // 2]  # the median step
    return {
        "import_definitions": _fastest(imports),
        "dagster_trivial_run": fastest,
        "dagster_trivial_step": {"wall_s": trivial_step, "cpu_s": float("nan")},
    }


def _fastest(runs: list[dict]) -> dict:
    return min(runs, key=lambda run: run["wall_s"])


def _timed(command: list[str], cwd: Path, extra_env: dict[str, str]) -> dict:
    cpu_before, started = _children_cpu(), time.perf_counter()
    subprocess.run(command, cwd=cwd, env={**os.environ, **extra_env}, check=True, capture_output=True)
    return {"wall_s": time.perf_counter() - started, "cpu_s": _children_cpu() - cpu_before}


# --- the core at the same volume (run in a child process) ------------------------------------


def core_times(settings: dict, days: list[str], with_sessions: bool = False) -> dict:
    """The core's own time for each step of the interactions branch: the same files, the same checks."""
    from datetime import date

    from poppy_pipeline.common import tables
    from poppy_pipeline.common.paths import DEFAULT_OBJECTS_DIR
    from poppy_pipeline.simulation.catalog import build_catalog
    from poppy_pipeline.simulation.interactions import simulate_day
    from poppy_pipeline.simulation.model import build_model
    from poppy_pipeline.simulation.population import generate_users
    from poppy_pipeline.simulation.settings import SimulationSettings
    from poppy_pipeline.simulation.span_patterns import SpanPatterns

    simulation = SimulationSettings(**settings)
    times, events = {}, 0
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        started = time.perf_counter()
        objects = build_catalog(simulation, Path(DEFAULT_OBJECTS_DIR)).objects
        tables.write_csv(objects, out / "celestial_objects.csv")
        times["celestial_objects"] = time.perf_counter() - started

        started = time.perf_counter()
        users = generate_users(simulation)
        tables.write_csv(users, out / "users.csv")
        times["users"] = time.perf_counter() - started

        started = time.perf_counter()
        model = build_model(simulation, objects, users)
        # As the step: each day's integrity counted as it is made (seed 000's patterns are interaction_report's).
        window = SpanPatterns(simulation, users, objects, measures=["integrity"])
        frames, patterns_s = [], 0.0
        for key in days:
            frame = simulate_day(model, date.fromisoformat(key))
            # As the step: the day is counted into the checks while another thread writes it.
            with ThreadPoolExecutor(max_workers=1) as writer:
                written = writer.submit(tables.write_csv, frame, out / f"{key}.csv")
                window.add_day(frame)
                written.result()
            if with_sessions:
                frames.append(frame)
            events += len(frame)
        counted = time.perf_counter()
        window.integrity()
        patterns_s += time.perf_counter() - counted
        times["simulated_interactions"] = time.perf_counter() - started - patterns_s
        times["simulated_interactions_patterns"] = patterns_s
        if with_sessions:
            times["session_actions"] = _core_sessions(simulation, users, dict(zip(days, frames, strict=True)), out)
    return {"events": events, "times": times}


def _core_sessions(simulation, users, interactions: dict, out: Path) -> float:
    """`session_actions`' core: each day's browsing actions, checked and written."""
    from datetime import date

    from poppy_pipeline.behaviour.model import BehaviourSettings
    from poppy_pipeline.behaviour.session_measures import action_problems, session_problems, session_shape_problems
    from poppy_pipeline.behaviour.sessions import simulate_sessions
    from poppy_pipeline.common import tables

    started = time.perf_counter()
    for key, frame in interactions.items():
        day = date.fromisoformat(key)
        actions = simulate_sessions(BehaviourSettings(), simulation.seed, users, frame, day).actions
        action_problems(actions, day), session_problems(actions, frame), session_shape_problems(actions)
        tables.write_csv(actions, out / f"actions-{key}.csv")
    return time.perf_counter() - started


def core_in_child(settings: dict, days: list[str], with_sessions: bool = False) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); from bench_cli import core_times;"
        f" print(json.dumps(core_times({settings!r}, {days!r}, {with_sessions!r})))"
    )
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


# --- the table --------------------------------------------------------------------------------


def report_scenario(bench: Benchmark, label: str, title: str, measured: dict, core: dict, events: int) -> None:
    """The scenario's step table (CLI against core), and a ratio goal for each step the core times."""
    rate = events / measured["wall_s"]
    # Checks computed inside their asset's step are timed with it, so the core adds them up too.
    core_times_by_step = dict(core["times"])
    if "simulated_interactions_patterns" not in measured["steps"]:
        core_times_by_step["simulated_interactions"] = core_times_by_step.get(
            "simulated_interactions", 0.0
        ) + core_times_by_step.pop("simulated_interactions_patterns", 0.0)
    rows = []
    for step, seconds in measured["steps"].items():
        reference = core_times_by_step.get(step)
        if not reference:
            rows.append([f"`{step}`", f"{seconds:.2f}", "–", "–"])
            continue
        rows.append([f"`{step}`", f"{seconds:.2f}", f"{reference:.2f}", f"{seconds / reference:.1f}×"])
        if reference >= MIN_CORE_S_FOR_RATIO:
            bench.goal(f"{label}: `{step}`, CLI / core", seconds / reference, GOAL_RATIO, "×", "<=")
    inside = sum(measured["steps"].values())
    rows.append(["(outside any step: start-up, run bookkeeping)", f"{measured['wall_s'] - inside:.2f}", "", ""])
    note = (
        f"Wall {measured['wall_s']:.1f} s, CPU {measured['cpu_s']:.1f} s, {events:,} interactions"
        f" ({rate:,.0f} events/s end to end); load average {measured['load_before']:.1f} before,"
        f" {measured['load_after']:.1f} after."
    )
    bench.table(title, ["step", "CLI (s)", "core (s)", "CLI / core"], rows, note)


def report_floor(bench: Benchmark, floor: dict) -> None:
    rows = []
    for name, label in (
        ("import_definitions", "`import poppy_pipeline.definitions`"),
        ("dagster_trivial_run", "`dagster asset materialize` of 3 trivial assets (Dagster's own floor)"),
        ("dagster_trivial_step", "one of those trivial steps, start to success (Dagster's own cost per step)"),
    ):
        cpu = floor[name]["cpu_s"]
        rows.append([label, f"{floor[name]['wall_s']:.2f}", "–" if cpu != cpu else f"{cpu:.2f}"])
    bench.table("start-up floor (best of 3)", ["", "wall (s)", "CPU (s)"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["run", "day"], help="one scenario only")
    parser.add_argument("--events", type=float, default=5e6, help="interactions of the day scenario")
    args = parser.parse_args()
    name = "cli" if args.only is None else f"cli_{args.only}"
    with (
        Benchmark(name, "The commands users type: `make run`, and a day through the CLI") as bench,
        tempfile.TemporaryDirectory(prefix="bench_cli_") as folder,
    ):
        if args.only in (None, "run"):
            measured = run_scenario("make run", make_run_command(), Path(folder) / "run", {})
            days = _make_run_days()
            core = core_in_child({}, days, with_sessions=True)
            report_scenario(
                bench, "`make run`", "`make run` (default window, every asset)", measured, core, core["events"]
            )
            bench.goal("`make run`, wall", measured["wall_s"], GOAL_RUN_S, "s", "<=")
            bench.record(make_run={**measured, "core": core})
        if args.only in (None, "day"):
            settings = day_settings(int(args.events))
            config = Path(folder) / "day.yaml"
            config.write_text(json.dumps({"resources": {"simulation": {"config": settings}}}))
            measured = run_scenario("day", day_command(config), Path(folder) / "day", {})
            core = core_in_child(settings, [DAY])
            users = settings["num_users"]
            title = f"one day of {core['events']:,} interactions, {users:,} users (`dagster asset materialize`)"
            report_scenario(bench, "the day", title, measured, core, core["events"])
            bench.goal("the day, end to end", core["events"] / measured["wall_s"], GOAL_EVENTS_PER_S, "events/s")
            floor = start_up_floor(Path(folder) / "floor")
            report_floor(bench, floor)
            bench.record(day={**measured, "core": core, "floor": floor})


def _make_run_days() -> list[str]:
    """The default window of `make run`: the 30 days ending yesterday (UTC), as the Makefile sets it."""
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    return [str(today - timedelta(days=d)) for d in range(30, 0, -1)]


if __name__ == "__main__":
    main()
