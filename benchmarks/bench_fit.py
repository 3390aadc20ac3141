"""Fitting the simulation to a log, and how close the regenerated log gets.

    .venv/bin/python benchmarks/bench_fit.py [--events 1e7]     # seconds to fit a log that size
    .venv/bin/python benchmarks/bench_fit.py --goals            # fidelity on three kinds of log

The timed log is the project's own simulation at a size of `--events` over 28 days (the fit
reads only the seven interaction columns, so where it came from does not matter). The fit runs
in a child process pinned to one core with single-threaded libraries. Goal (issue 12): a
10,000,000-event log in under a minute. `--goals` fits and regenerates a MovieLens-like ratings
log (drawn by the test's own generator: there is no network here to download MovieLens) and a
log in seed 002's layout and seed 000's own notebook log, and prints closeness, detection AUC and their noise floors.
"""

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from bench_simulation import run_child_json, seed_loop_rows  # the sibling script
from harness import Benchmark

from poppy_pipeline.common.columns import INTERACTION_COLUMNS
from poppy_pipeline.fidelity.fit import fit_log
from poppy_pipeline.fidelity.regenerate import fidelity_report, simulate_from_fit
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings

DAYS = [str(date(2024, 2, 1) + timedelta(days=d)) for d in range(28)]
GOAL_SECONDS = 60.0
GOAL_EVENTS = 10_000_000
# The fidelity_report asset's own bars: closeness at most this far below the noise floor, detection AUC.
MAX_CLOSENESS_GAP = 0.05
MAX_DETECTION_AUC = 0.65


def measure(events: int) -> dict:
    users = max(100, events // 250)
    settings = SimulationSettings(
        num_users=users,
        founding_user_share=1.0,
        signup_start=DAYS[0],
        signup_end=DAYS[0],
        interactions_per_day=events / len(DAYS),
        num_stars=5000,
        num_planets=2000,
        num_moons=2000,
    )
    objects = build_catalog(settings, None).objects
    model = build_model(settings, objects, generate_users(settings))
    log = pd.concat([simulate_day(model, date.fromisoformat(d)) for d in DAYS], ignore_index=True)
    log = log.drop(columns=["Session_ID"])
    started = time.perf_counter()
    fit_log(log, objects, DAYS, population=users)
    seconds = time.perf_counter() - started
    return {
        "events": len(log),
        "fit_s": seconds,
        "events_per_s": len(log) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def goals(bench: Benchmark) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
    from poppy_pipeline_tests.support.movielens import as_events, movielens_like
    from poppy_pipeline_tests.support.seed002 import write_pings_folder

    ratings, catalog = as_events(movielens_like(users=943, movies=1682))
    logs = {
        "seed 000's notebook (its loop, 10,000 rows)": seed000_log(),
        "MovieLens-like (u.data, 943 users, 1,682 movies)": (ratings, catalog, None),
    }
    with tempfile.TemporaryDirectory() as folder:
        pings = write_pings_folder(Path(folder), users=200, pings=300, events=20_000)
        source = InteractionSourceResource(path=str(pings), format="pings")
        users, _ = source.log_users()
        objects, _ = source.log_objects(lambda: None)
        rows = source.log_days(objects, users, [str(d.date()) for d in pd.date_range("2024-02-01", "2024-02-29")])
        events = pd.concat([f for f in rows.days.values() if len(f)], ignore_index=True)
        logs["seed 002 layout (200 users, 300 pings)"] = (events, objects, len(users))
    summary, details = [], {}
    for name, (events, objects, population) in logs.items():
        days = sorted(events["Timestamp"].dt.strftime("%Y-%m-%d").unique())
        started = time.perf_counter()
        fit = fit_log(events, objects, days, population)
        report = fidelity_report(events, simulate_from_fit(fit, days))
        seconds = time.perf_counter() - started
        close, floor, auc = (report[k] for k in ("overall_closeness", "noise_floor_closeness", "detection_auc"))
        closeness_goal = bench.goal(f"{name}: closeness − noise floor", close - floor, -MAX_CLOSENESS_GAP, "")
        detection_goal = bench.goal(f"{name}: detection AUC", auc, MAX_DETECTION_AUC, "", "<=")
        verdict = " / ".join("pass" if goal.met else "FAIL" for goal in (closeness_goal, detection_goal))
        drops = sorted(report["detection_importance"].items(), key=lambda item: -item[1])[:2]
        summary.append(
            [
                name,
                f"{len(events):,}",
                f"{report['users']['real']:,}",
                f"{close:.3f} ({floor:.3f})",
                f"{auc:.3f} ({report['noise_floor_detection_auc']:.3f})",
                verdict,
                ", ".join(f"{f} {d:.3f}" for f, d in drops),
                f"{seconds:.1f}",
            ]
        )
        details[name] = report["statistics"]
    columns = [
        "log",
        "events",
        "users",
        "overall closeness (noise floor)",
        "detection AUC (noise floor)",
        "closeness / detection",
        "largest AUC drops when shuffled",
        "fit + report s",
    ]
    bench.table("fidelity of a fitted simulation, three logs", columns, summary)
    for name, statistics in details.items():
        bench.table(
            name,
            ["statistic", "real", "simulated", "closeness", "noise floor"],
            [
                [stat, row["real"], row["simulated"], row["closeness"], row["noise_floor"]]
                for stat, row in statistics.items()
            ],
        )
    bench.record(statistics=details)


def seed000_log() -> tuple[pd.DataFrame, pd.DataFrame, None]:
    """Seed 000's own generator (its per-event loop, seeded; times end at 2024-03-01), its catalog."""
    np.random.seed(0)
    rows = seed_loop_rows(10_000)
    frame = pd.DataFrame(rows, columns=INTERACTION_COLUMNS[:7])
    shift = pd.Timestamp("2024-03-01") - frame["Timestamp"].max().normalize() - pd.Timedelta(days=1)
    frame["Timestamp"] = (frame["Timestamp"] + shift).dt.floor("s")
    frame["Interaction_Rating"] = frame["Interaction_Rating"].astype("Int64")
    frame["Watch_Time_Sec"] = np.nan
    settings = SimulationSettings()
    return frame, build_catalog(settings, None).objects, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=float, default=1e7, help="events in the log to fit")
    parser.add_argument("--goals", action="store_true", help="fidelity on a MovieLens-like and a seed-002 log")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child))))
        return
    if args.goals:
        with Benchmark("fit_fidelity", "Fidelity: how close a simulation fitted to a log gets, three logs") as bench:
            goals(bench)
        return
    with Benchmark("fit", "Fitting the simulation to a log (`fit_log`), one core") as bench:
        row = run_child_json(__file__, int(args.events))
        bench.table(
            "fitting (`fit_log`)",
            ["events", "seconds", "events/s", "peak RSS"],
            [
                [
                    f"{row['events']:,}",
                    f"{row['fit_s']:.1f}",
                    f"{row['events_per_s']:,.0f}",
                    f"{row['peak_rss_mb']:.0f} MB",
                ]
            ],
        )
        bench.goal(
            "fit rate (10,000,000 events in under a minute)",
            row["events_per_s"],
            GOAL_EVENTS / GOAL_SECONDS,
            "events/s",
        )
        bench.record(**row)


if __name__ == "__main__":
    main()
