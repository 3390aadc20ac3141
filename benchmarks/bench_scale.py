"""How time and peak memory grow with the volume, to predict a run: the scale table.

    .venv/bin/python benchmarks/bench_scale.py [--quick]

Interactions branch, 30 days: simulate each day and write it as CSV (as the IO manager does),
then the window assets' core reads the days back one at a time (`engagement_scores`,
`trending_objects`, `interaction_report`). Behaviour branch, 30 days: simulate each day's
browsing sessions, extract its windows with the oracle, feed them to the click model's
user-stratified sample (at most 1,000,000 windows), then train and evaluate the model. Each
size runs in its own child process, which reports its own peak RSS. `--quick` runs the smaller
sizes only; `--events N ...` and `--actions N ...` choose the sizes. The interactions users scale
with the volume (one per 100 events of the window).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from harness import Benchmark

from poppy_pipeline.behaviour.model import BehaviourSettings
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.behaviour.windows import simulated_windows
from poppy_pipeline.click_model.training import train_and_evaluate
from poppy_pipeline.common import tables
from poppy_pipeline.common.user_sample import MAX_WINDOWS, UserStratifiedSample
from poppy_pipeline.engagement.report_totals import ReportTotals
from poppy_pipeline.engagement.span_totals import PairTotals, TrendingTotals
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.sources.log_files import POPPY

DAYS = 30
FIRST_DAY = date(2026, 10, 1)
EVENT_SIZES = (10_000, 1_000_000, 10_000_000, 30_000_000)
ACTION_SIZES = (100_000, 1_000_000, 10_000_000)
QUICK_EVENT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_ACTION_SIZES = (100_000, 1_000_000)
ACTIONS_PER_INTERACTION = 37  # measured at the default behaviour settings (each session browses ~110 actions)


def world(events: int) -> tuple[SimulationSettings, pd.DataFrame, pd.DataFrame]:
    """Settings, catalog and users for `events` interactions over the 30 days."""
    settings = SimulationSettings(
        num_users=max(100, events // 100),
        interactions_per_day=events / DAYS,
        signup_start="2025-01-01",
        signup_end="2026-01-01",  # everyone has signed up by the window
    )
    return settings, build_catalog(settings, None).objects, generate_users(settings)


def interactions_branch(events: int) -> dict:
    settings, objects, users = world(events)
    model = build_model(settings, objects, users)
    days = [FIRST_DAY + timedelta(days=d) for d in range(DAYS)]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        for day in days:
            tables.write_csv(simulate_day(model, day), Path(folder) / f"{day}.csv")
        generated = time.perf_counter() - started
        started = time.perf_counter()
        pairs = PairTotals(objects, POPPY.event_weights)
        trending = TrendingTotals(
            objects, POPPY.event_weights, POPPY.trending_roles, pd.Timestamp(days[-1] + timedelta(days=1)), 7.0
        )
        report = ReportTotals(objects, users, POPPY.view_type, POPPY.engaging_types, POPPY.rated_type)
        for day in days:
            frame = tables.read_csv(Path(folder) / f"{day}.csv")
            for totals in (pairs, trending, report):
                totals.add(frame)
            del frame
        scores = pairs.frame()
        trending.top(100)
        report.report(scores)
        windowed = time.perf_counter() - started
    return {
        "events": pairs.events,
        "users": len(users),
        "pairs": len(scores),
        "generate_and_write_s": generated,
        "window_assets_s": windowed,
    }


def behaviour_branch(actions: int) -> dict:
    settings, objects, users = world(int(actions / ACTIONS_PER_INTERACTION))
    model = build_model(settings, objects, users)
    behaviour = BehaviourSettings()
    sample = UserStratifiedSample(MAX_WINDOWS, settings.seed)
    simulated = windows = 0
    started = time.perf_counter()
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        simulation = simulate_sessions(behaviour, settings.seed, users, simulate_day(model, day), day)
        day_windows = simulated_windows(simulation)
        simulated, windows = simulated + len(simulation.actions), windows + len(day_windows)
        sample.add(day_windows)
        del simulation, day_windows
    simulated_s = time.perf_counter() - started
    started = time.perf_counter()
    result = train_and_evaluate(sample.rows(), settings.seed)
    return {
        "actions": simulated,
        "windows": windows,
        "sampled": sample.summary()["windows_sampled"],
        "actions_and_windows_s": simulated_s,
        "click_model_s": time.perf_counter() - started,
        "held_out_auc": result.report["held_out_auc"],
    }


def child(branch: str, size: int) -> None:
    measure = interactions_branch if branch == "interactions" else behaviour_branch
    figures = measure(size)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def run_child(branch: str, size: int) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", branch, str(size)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes only")
    parser.add_argument("--events", nargs="+", type=float, help="these interaction volumes instead")
    parser.add_argument("--actions", nargs="+", type=float, help="these action volumes instead")
    parser.add_argument("--child", nargs=2, metavar=("BRANCH", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    events = [int(n) for n in args.events] if args.events else QUICK_EVENT_SIZES if args.quick else EVENT_SIZES
    actions = [int(n) for n in args.actions] if args.actions else QUICK_ACTION_SIZES if args.quick else ACTION_SIZES
    with Benchmark("scale", f"How time and peak memory grow with the volume ({DAYS} days)") as bench:
        interactions = [run_child("interactions", size) for size in events]
        bench.table(
            "interactions branch: simulate + write CSV, then engagement, trending and report read day by day",
            ["events", "users", "pairs", "simulate + write s", "window assets s", "wall s", "peak RSS"],
            [
                [
                    f"{r['events']:,}",
                    f"{r['users']:,}",
                    f"{r['pairs']:,}",
                    f"{r['generate_and_write_s']:.1f}",
                    f"{r['window_assets_s']:.1f}",
                    f"{r['wall_s']:.1f}",
                    f"{r['peak_rss_mb']:,.0f} MB",
                ]
                for r in interactions
            ],
        )
        behaviour = [run_child("behaviour", size) for size in actions]
        bench.table(
            f"behaviour branch: actions + windows with the oracle day by day, a sample ≤ {MAX_WINDOWS:,}, the click"
            " model",
            ["actions", "windows", "sampled", "sessions + windows + oracle s", "click model s", "wall s", "peak RSS"],
            [
                [
                    f"{r['actions']:,}",
                    f"{r['windows']:,}",
                    f"{r['sampled']:,}",
                    f"{r['actions_and_windows_s']:.1f}",
                    f"{r['click_model_s']:.1f}",
                    f"{r['wall_s']:.1f}",
                    f"{r['peak_rss_mb']:,.0f} MB",
                ]
                for r in behaviour
            ],
        )
        bench.note("Each size runs in its own child process; peak RSS is that process's.")
        bench.record(interactions=interactions, behaviour=behaviour)


if __name__ == "__main__":
    main()
