"""Engagement scoring throughput on one core: `engagement_scores` over 10M events.

    .venv/bin/python benchmarks/bench_engagement.py [--events 1e7]

The events are a realistic mix (heavy-tailed users, Zipf objects, the Poppy types and watch
times) built directly with numpy, so the table measures the scoring alone. Best of three runs,
in a child process pinned to one core. Goal (issue 3): ≥ 5,000,000 events/s in memory.
"""

import argparse
import json
import time

import numpy as np
import pandas as pd
from bench_simulation import run_child_json  # the sibling script: same one-core child process
from harness import Benchmark

from poppy_pipeline.engagement.scores import engagement_scores, trending_objects
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources.log_files import POPPY

GOAL = 5_000_000
REPEATS = 3


def synthetic_events(events: int, users: int, objects: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0, 1, users)
    user = rng.choice(users, events, p=activity / activity.sum()) + 1
    popularity = 1 / np.arange(1, len(objects) + 1) ** 0.7
    row = rng.choice(len(objects), events, p=popularity / popularity.sum())
    kinds = rng.choice(list(POPPY.event_weights), events, p=[0.5, 0.3, 0.05, 0.15])
    watch = np.where(kinds == "View", rng.integers(1, 300, events), -1)
    return pd.DataFrame(
        {
            "Interaction_ID": np.arange(events, dtype=np.int64),
            "User_ID": user,
            "Object_Type": pd.Categorical(objects["Object_Type"].to_numpy()[row]),
            "Object_ID": objects["Object_ID"].to_numpy()[row],
            "Interaction_Type": pd.Categorical(kinds),
            "Watch_Time_Sec": pd.arrays.IntegerArray(watch, watch < 0),
            "Timestamp": np.datetime64("2026-11-01", "s")
            + rng.integers(0, 30 * 86_400, events).astype("timedelta64[s]"),
        }
    )


def measure(events: int) -> dict:
    objects = build_catalog(SimulationSettings(), None).objects
    log = synthetic_events(events, max(100, events // 100), objects)
    timings = {"engagement_scores": [], "trending_objects": []}
    for _ in range(REPEATS):
        started = time.perf_counter()
        pairs = engagement_scores(log, objects, POPPY.event_weights)
        timings["engagement_scores"].append(time.perf_counter() - started)
        started = time.perf_counter()
        trending_objects(log, objects, POPPY.event_weights, POPPY.trending_roles, pd.Timestamp("2026-12-01"), 7.0, 100)
        timings["trending_objects"].append(time.perf_counter() - started)
    import resource

    return {
        "events": events,
        "pairs": len(pairs),
        **{f"{name}_s": min(values) for name, values in timings.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=float, default=1e7)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child))))
        return
    with Benchmark("engagement", "Engagement scoring and trending (seed 002's score), one core") as bench:
        row = run_child_json(__file__, int(args.events))
        rows = []
        for step in ("engagement_scores", "trending_objects"):
            seconds = row[f"{step}_s"]
            rows.append(
                [
                    f"`{step}`",
                    f"{row['events']:,}",
                    f"{row['pairs']:,}",
                    f"{seconds:.2f}",
                    f"{row['events'] / seconds:,.0f}",
                    f"{row['peak_rss_mb']:,.0f} MB",
                ]
            )
        columns = ["step", "events", "pairs", "seconds", "events/s", "peak RSS"]
        bench.table("best of three, one core", columns, rows)
        bench.goal("`engagement_scores` in memory", row["events"] / row["engagement_scores_s"], GOAL, "events/s")
        bench.record(**row)


if __name__ == "__main__":
    main()
