"""`sliding_window_features` through the CLI, next to its core at the same volume.

    .venv/bin/python benchmarks/bench_cli_windows.py [--actions 1e7] [--data DIR] [--profile FILE]

One simulated day (`bench_cli.DAY`) of about `--actions` browsing actions (default 10,000,000:
80,000 users at the default traffic, all signed up long before):

1. the upstream assets (`celestial_objects`, `users`, `simulated_interactions`,
   `session_actions`) are materialized once into an outputs folder (kept with `--data DIR`, and
   reused when that folder already holds them for the same settings);
2. `dagster asset materialize --select sliding_window_features --partition <day>` runs with the
   in-process executor as `make run` does (`-c config/run.yaml`), in a fresh Dagster instance
   (the project's `config/dagster.yaml`), checks included; with `--profile FILE` under cProfile;
3. the pure core does the step's work on the same files in a child process pinned to one core
   with single-threaded libraries (read the actions, sort them, traits and the day's plan, then
   part by part as the step: windows with the oracle, the membership recount, the checks' counts
   and the CSV text; the targets' measures), in CPU seconds.

Printed: the command's wall and CPU time, the step's time from the run's event log, windows/s of
each, and the core's parts. Goal (issue 14): ≥ 200,000 windows/s through the CLI, the step within
2× of its core. The load average is printed: on a shared machine, wall times grow with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_cli import BIN, DAY, run_scenario  # the sibling script: the same command timing
from bench_simulation import run_child_json  # one core, single-threaded libraries
from harness import Benchmark

GOAL_WINDOWS_PER_S = 200_000
GOAL_RATIO = 2.0
# Actions per user and day at the default traffic (10/3 interactions a day): about 10.07M from 80,000 users.
ACTIONS_PER_USER = 125.0
UPSTREAM = "celestial_objects,users,simulated_interactions,session_actions"
STEP = "sliding_window_features"


def day_settings(actions: float) -> dict:
    """The simulation config giving about `actions` actions on `DAY`: default traffic, everyone signed up."""
    users = max(100, round(actions / ACTIONS_PER_USER))
    return {
        "num_users": users,
        "interactions_per_day": users * 10 / 3,
        "signup_start": "2020-01-01",
        "signup_end": "2020-01-02",
    }


def materialize_command(select: str, config: Path, profile: Path | None = None) -> list[str]:
    dagster = [str(BIN / "dagster")]
    if profile is not None:
        dagster = [sys.executable, "-m", "cProfile", "-o", str(profile), str(BIN / "dagster")]
    return [
        *dagster, "asset", "materialize", "-m", "poppy_pipeline.definitions", "--select", select,
        "--partition", DAY, "-c", "config/run.yaml", "-c", str(config),
    ]  # fmt: skip


def prepare_upstream(data: Path, settings: dict) -> Path:
    """`data`/outputs holding the upstream day for `settings` (materialized unless already there)."""
    config = data / "simulation.yaml"
    config.write_text(json.dumps({"resources": {"simulation": {"config": settings}}}))
    stamp = data / "upstream.json"
    if stamp.exists() and json.loads(stamp.read_text()) == settings:
        print(f"upstream day reused from {data / 'outputs'}")
        return config
    shutil.rmtree(data / "upstream", ignore_errors=True)
    measured = run_scenario("upstream", materialize_command(UPSTREAM, config), data / "upstream", {})
    shutil.rmtree(data / "outputs", ignore_errors=True)
    (data / "upstream" / "outputs").rename(data / "outputs")
    stamp.write_text(json.dumps(settings))
    print(f"upstream ({UPSTREAM}) materialized in {measured['wall_s']:.1f} s: {measured['steps']}")
    return config


def time_step(data: Path, config: Path, profile: Path | None) -> dict:
    """The timed command: a fresh instance (`run_scenario` gives it the project's dagster.yaml), the
    upstream day's outputs folder."""
    run = data / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    (run / "outputs").symlink_to(data / "outputs")
    return run_scenario(STEP, materialize_command(STEP, config, profile), run, {})


# --- the core on the same files (run in a child process) --------------------------------------


def core_parts(outputs: str, settings: dict) -> dict:
    """CPU seconds of each part of the step's work, done by the core on the upstream day's files."""
    import io
    from datetime import date

    from poppy_pipeline.behaviour.day_tallies import FiniteTally
    from poppy_pipeline.behaviour.features import FEATURE_NAMES, WindowSpec
    from poppy_pipeline.behaviour.model import BehaviourSettings, draw_traits
    from poppy_pipeline.behaviour.oracle import recorded_day
    from poppy_pipeline.behaviour.window_stream import write_windows
    from poppy_pipeline.behaviour.window_targets import WindowSummary, WindowTargets
    from poppy_pipeline.behaviour.windows import session_arrays
    from poppy_pipeline.common import tables

    folder, parts = Path(outputs), {}

    def timed(name, work):
        started = time.process_time()
        result = work()
        parts[name] = time.process_time() - started
        return result

    actions = timed("read session_actions (CSV)", lambda: tables.read_csv(folder / "session_actions" / f"{DAY}.csv"))
    interactions = tables.read_csv(folder / "simulated_interactions" / f"{DAY}.csv")
    users = tables.read_csv(folder / "users.csv")
    arrays = timed("sort the actions by session and time", lambda: session_arrays(actions))
    seed = settings.get("seed", 42)

    def plan():
        traits = draw_traits(seed, users)
        return recorded_day(BehaviourSettings(), seed, traits, interactions, date.fromisoformat(DAY))

    recorded = timed("traits and the day's plan", plan)
    tallies = (FiniteTally(FEATURE_NAMES), WindowSummary(users, True), WindowTargets(users))

    def observe(windows) -> None:
        for tally in tallies:
            tally.add_day(windows)

    name = "windows, 20 features, oracle, windows_within_sessions, checks' counts, CSV text (part by part)"
    written = timed(name, lambda: write_windows(arrays, WindowSpec(), recorded, io.BytesIO(), observe))
    assert not any(written.problems.values()), written.problems
    targets = "targets (bootstrap over users, profiles)"
    timed(targets, lambda: (tallies[2].positive_share(), tallies[2].profiles_present(users)))
    positive = tallies[1].metadata()["positive_share"]
    return {"windows": written.rows, "actions": len(actions), "positive": float(positive), **parts}


def core_in_child(outputs: Path, settings: dict) -> dict:
    """`core_parts` pinned to one core with single-threaded libraries (as `bench_windows.py`)."""
    return run_child_json(__file__, json.dumps({"outputs": str(outputs), "settings": settings}))


# --- the table --------------------------------------------------------------------------------


def report(bench: Benchmark, measured: dict, core: dict | None, settings: dict) -> None:
    """The command's and the core's figures as tables, and the goals they can judge."""
    step = measured["steps"].get(STEP)
    windows = core["windows"] if core else None
    rows = [("command, wall", measured["wall_s"]), ("command, CPU (all threads)", measured["cpu_s"])]
    if step is not None:
        rows.append(("step (event log: start to success), wall", step))
    total = sum(v for k, v in core.items() if k not in ("windows", "actions", "positive")) if core else None
    if core:
        rows.append(("core on the same files, CPU, one core", total))
    table = [[name, f"{seconds:.2f}", f"{windows / seconds:,.0f}" if windows else "–"] for name, seconds in rows]
    note = f"Load average {measured['load_before']:.1f} before, {measured['load_after']:.1f} after."
    if core:
        note += f" {core['windows']:,} windows of {core['actions']:,} actions ({core['positive']:.1%} positive)."
    title = f"`{STEP}` through the CLI ({settings['num_users']:,} users, {DAY})"
    bench.table(title, ["measured", "seconds", "windows/s"], table, note)
    if not core:
        return
    parts = [
        [name, f"{seconds:.2f}"] for name, seconds in core.items() if name not in ("windows", "actions", "positive")
    ]
    bench.table("the core's parts (one core)", ["part", "CPU s"], parts)
    bench.goal(
        "windows/s through the CLI (command wall)", windows / measured["wall_s"], GOAL_WINDOWS_PER_S, "windows/s"
    )
    if step is not None:
        bench.goal("the step / its core", step / total, GOAL_RATIO, "×", "<=")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=float, default=1e7, help="about this many actions on the day")
    parser.add_argument("--data", type=Path, help="keep (and reuse) the upstream day in this folder")
    parser.add_argument("--profile", type=Path, help="run the command under cProfile, writing this file")
    parser.add_argument("--no-core", action="store_true", help="skip the core's figures")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        request = json.loads(args.child)
        print(json.dumps(core_parts(request["outputs"], request["settings"])))
        return
    settings = day_settings(args.actions)
    with (
        Benchmark("cli_windows", "`sliding_window_features` through the CLI, next to its core") as bench,
        tempfile.TemporaryDirectory(prefix="bench_cli_windows_") as scratch,
    ):
        data = args.data.resolve() if args.data else Path(scratch)
        data.mkdir(parents=True, exist_ok=True)
        config = prepare_upstream(data, settings)
        measured = time_step(data, config, args.profile.resolve() if args.profile else None)
        core = None if args.no_core else core_in_child(data / "outputs", settings)
        report(bench, measured, core, settings)
        bench.record(**measured, core=core, settings=settings)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n(benchmark's own wall time {time.perf_counter() - started:.0f} s; pid {os.getpid()})", file=sys.stderr)
