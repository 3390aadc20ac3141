"""The plain CLI against `make run`'s path, on the same day of interactions.

    .venv/bin/python benchmarks/bench_plain_cli.py [--events 5e6] [--repeats 3]

The same work, `celestial_objects`, `users` and `simulated_interactions` (with its checks) for one
day of `--events` simulated interactions (default 5,000,000; 1 user per 5 events, all signed up),
through two commands, each in a fresh Dagster instance and outputs folder:

- **plain CLI**: `dagster asset materialize -m poppy_pipeline.definitions --select … --partition …`
  as Dagster's docs (and CI) call it, without `-c config/run.yaml`; only the simulation's size is
  given (`--config-json`, resources only, no executor config);
- **`make run`'s path**: `python -m poppy_pipeline.dagster_support.launch --start D --end D
  --select … --config FILE` (what `make run` runs: its refusals, the materialization with
  `config/run.yaml`, the run's summary) with the same size.

Goal (issue 25): the plain CLI within 1.5× of `make run`'s path (its executor is the code
location's default, in process, so no step starts a Python process of its own). The commands
alternate, `--repeats` times each; the table gives each one's median and best wall and CPU time
and the ratio of the medians (`benchmarks/harness.py` writes `benchmarks/results/plain_cli.json`;
a smoke run at a tiny size: `POPPY_BENCH_RESULTS=/tmp/smoke … --events 20000 --repeats 1`). The
machine's load average is recorded: on a shared machine, wall times grow with it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_cli import BIN, DAY, day_settings, run_scenario
from harness import Benchmark

GOAL_RATIO = 1.5
ASSETS = "celestial_objects,users,simulated_interactions"


def plain_cli(settings: dict) -> list[str]:
    config = json.dumps({"resources": {"simulation": {"config": settings}}})
    return [
        str(BIN / "dagster"), "asset", "materialize", "-m", "poppy_pipeline.definitions",
        "--select", ASSETS, "--partition", DAY, "--config-json", config,
    ]  # fmt: skip


def make_run_path(config: Path) -> list[str]:
    return [
        str(BIN / "python"), "-m", "poppy_pipeline.dagster_support.launch",
        "--start", DAY, "--end", DAY, "--select", ASSETS, "--config", str(config),
    ]  # fmt: skip


def summary(runs: list[dict]) -> dict:
    walls, cpus = [run["wall_s"] for run in runs], [run["cpu_s"] for run in runs]
    return {
        "median_wall_s": statistics.median(walls),
        "best_wall_s": min(walls),
        "median_cpu_s": statistics.median(cpus),
        "best_cpu_s": min(cpus),
        "load": [round(run["load_before"], 1) for run in runs],
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=float, default=5e6, help="interactions of the day")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command, alternating")
    args = parser.parse_args()
    settings = day_settings(int(args.events))
    title = f"The plain CLI against make run's path, one day of {int(args.events):,} interactions"
    with Benchmark("plain_cli", title) as bench, tempfile.TemporaryDirectory(prefix="bench_plain_cli_") as folder:
        config = Path(folder) / "day.yaml"
        config.write_text(json.dumps({"resources": {"simulation": {"config": settings}}}))
        commands = {"plain_cli": plain_cli(settings), "make_run_path": make_run_path(config)}
        measured: dict[str, list[dict]] = {name: [] for name in commands}
        for repeat in range(args.repeats):
            for name, command in commands.items():
                measured[name].append(run_scenario(name, command, Path(folder) / f"{name}-{repeat}", {}))
        results = {name: summary(runs) for name, runs in measured.items()}
        labels = {"plain_cli": "`dagster asset materialize` (no -c)", "make_run_path": "`make run`'s path (launch.py)"}
        rows = [
            [
                labels[name],
                f"{row['median_wall_s']:.1f}",
                f"{row['best_wall_s']:.1f}",
                f"{row['median_cpu_s']:.1f}",
                ", ".join(map(str, row["load"])),
            ]
            for name, row in results.items()
        ]
        columns = ["command", "median wall (s)", "best wall (s)", "median CPU (s)", "load before each run"]
        bench.table(f"one day of {int(args.events):,} interactions, {settings['num_users']:,} users", columns, rows)
        ratio = results["plain_cli"]["median_wall_s"] / results["make_run_path"]["median_wall_s"]
        bench.goal("plain CLI / make run's path, median wall", ratio, GOAL_RATIO, "×", comparison="<=")
        bench.record(events=int(args.events), users=settings["num_users"], **results)


if __name__ == "__main__":
    main()
