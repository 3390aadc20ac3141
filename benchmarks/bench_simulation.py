"""Throughput and peak memory of the interaction simulation, on one core.

    make bench            # or: .venv/bin/python benchmarks/bench_simulation.py [--sizes 1e6 1e7]

Each size runs in its own child process (so its peak RSS is its own), pinned to one core with
every thread pool at one thread. "in memory" times `simulate_day` producing the DataFrame;
"to CSV" times generating *and* writing the day's CSV file with pyarrow. Each is the best of
three runs; peak RSS is the child's maximum over all of them. The seed notebook's
per-event loop is timed on a small sample for comparison. Goals (issue 2): ≥ 2,000,000 events/s
in memory and ≥ 1,000,000 events/s to CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Benchmark

SINGLE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ARROW_NUM_THREADS": "1",
}
GOAL_IN_MEMORY = 2_000_000
GOAL_TO_CSV = 1_000_000
SEED_LOOP_EVENTS = 20_000
REPEATS = 3  # best of: the machine is shared, the minimum is the least disturbed run


def measure(events: int) -> dict:
    """Run in the child: generate about `events` interactions in one day, then write them."""
    from datetime import date

    import pyarrow as pa

    from poppy_pipeline.common import tables
    from poppy_pipeline.simulation.catalog import build_catalog
    from poppy_pipeline.simulation.interactions import simulate_day
    from poppy_pipeline.simulation.model import build_model
    from poppy_pipeline.simulation.population import generate_users
    from poppy_pipeline.simulation.settings import SimulationSettings

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    # Everyone signed up long before the day, 100 events per user: the seed's ratio.
    settings = SimulationSettings(
        num_users=max(100, events // 100),
        interactions_per_day=events,
        signup_start="2020-01-01",
        signup_end="2020-01-02",
    )
    model = build_model(settings, build_catalog(settings, None).objects, generate_users(settings))
    day = date(2026, 11, 21)

    in_memory, to_csv = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        frame = simulate_day(model, day)
        in_memory.append(time.perf_counter() - started)
        count = len(frame)
        del frame
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "day.csv"
        for _ in range(REPEATS):
            started = time.perf_counter()
            tables.write_csv(simulate_day(model, day), path)
            to_csv.append(time.perf_counter() - started)
        csv_bytes = path.stat().st_size

    import resource

    return {
        "events": count,
        "in_memory_s": min(in_memory),
        "to_csv_s": min(to_csv),
        "csv_mb": csv_bytes / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def seed_loop_rate(events: int) -> float:
    """Events/s of seed 000's per-event loop (its code, minus the CSV write)."""
    started = time.perf_counter()
    seed_loop_rows(events)
    return events / (time.perf_counter() - started)


def seed_loop_rows(events: int) -> list[list]:
    """Seed 000's per-event loop: its seven columns, row by row."""
    from datetime import datetime, timedelta

    import numpy as np

    object_types = ["Star", "Planet", "Moon"]
    ids = {"Star": np.arange(1, 201), "Planet": np.arange(1, 101), "Moon": np.arange(1, 101)}
    hour_probs = np.array([0.02] * 6 + [0.03] * 6 + [0.05] * 6 + [0.065] * 6)
    hour_probs /= hour_probs.sum()
    seen = {u: {t: set() for t in object_types} for u in range(1, 101)}
    rows = []
    for i in range(1, events + 1):
        user = np.random.randint(1, 101)
        object_type = np.random.choice(object_types, p=[0.5, 0.25, 0.25])
        if seen[user][object_type] and np.random.random() < 0.3:
            object_id = np.random.choice(list(seen[user][object_type]))
        else:
            object_id = int(np.random.choice(ids[object_type]))
            seen[user][object_type].add(object_id)
        kind = np.random.choice(["View", "Click", "Favorite", "Rate"], p=[0.5, 0.3, 0.15, 0.05])
        rating = np.random.choice([1, 2, 3, 4, 5], p=[0.05, 0.1, 0.2, 0.3, 0.35]) if kind == "Rate" else np.nan
        hour = int(np.random.choice(range(24), p=hour_probs))
        stamp = datetime.now() - timedelta(days=min(np.random.exponential(10), 30), hours=hour)
        rows.append([i, user, object_type, object_id, kind, rating, stamp])
    return rows


def run_child_json(script: str, events: int, flag: str = "--child") -> dict:
    """Run `script --child events` on one core with single-threaded libraries; its JSON line."""
    command = [sys.executable, script, flag, str(events)]
    root = str(Path(__file__).resolve().parents[1])
    environment = {**os.environ, **SINGLE_THREAD, "PYTHONPATH": root}
    prefix = ["taskset", "-c", os.environ.get("BENCH_CPU", "0")] if _has_taskset() else []
    output = subprocess.run(prefix + command, env=environment, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def _has_taskset() -> bool:
    return subprocess.run(["which", "taskset"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7], help="events per run")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child))))
        return

    with Benchmark("simulation", "The interaction simulation (`simulate_day`), one core") as bench:
        rows = [run_child_json(__file__, int(size)) for size in args.sizes]
        seed_rate = seed_loop_rate(SEED_LOOP_EVENTS)
        table = []
        for row in rows:
            memory_rate = row["events"] / row["in_memory_s"]
            csv_rate = row["events"] / row["to_csv_s"]
            row.update(in_memory_events_per_s=memory_rate, to_csv_events_per_s=csv_rate)
            table.append(
                [
                    f"{row['events']:,}",
                    f"{memory_rate:,.0f}",
                    f"{csv_rate:,.0f}",
                    f"{row['csv_mb']:,.0f} MB",
                    f"{row['peak_rss_mb']:,.0f} MB",
                    f"{memory_rate / seed_rate:,.0f}×",
                ]
            )
            bench.goal(f"in memory, {row['events']:,} events", memory_rate, GOAL_IN_MEMORY, "events/s")
            bench.goal(f"to CSV, {row['events']:,} events", csv_rate, GOAL_TO_CSV, "events/s")
        table.append([f"seed 000's per-event loop ({SEED_LOOP_EVENTS:,})", f"{seed_rate:,.0f}", "", "", "", "1×"])
        columns = ["events", "in memory (events/s)", "to CSV (events/s)", "CSV size", "peak RSS", "vs seed loop"]
        bench.table("simulate_day, best of three, one core", columns, table)
        bench.record(runs=rows, seed_loop_events_per_s=seed_rate)


if __name__ == "__main__":
    main()
