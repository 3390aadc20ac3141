"""Fitting the simulation to a log, and how close the regenerated log gets.

    .venv/bin/python benchmarks/bench_fit.py [--events 1e7]     # seconds to fit the simulation's own log
    .venv/bin/python benchmarks/bench_fit.py --ratings 1e5      # seconds to fit a MovieLens-sized ratings log
    .venv/bin/python benchmarks/bench_fit.py --goals [--small]  # fidelity on every kind of log

Timed fits run in a child process pinned to one core with single-threaded libraries. Goals: the
simulation's own 10,000,000-event log in under a minute (issue 12); a 100,000-event ratings log
with every habit of issue 29 (no repeats, same-second bursts, items' Gini 0.65, personal hours,
≥ 20 events per user: `poppy_pipeline_tests/support/rating_habits.py`) in under 10 s. `--goals`
fits and regenerates ratings logs with each habit (the real MovieLens 100k is not reachable from
this machine: the logs are drawn by the tests' generators), seed 000's notebook log and a log in
seed 002's layout, and prints closeness, detection AUC and SDMetrics' quality against their noise
floors (the log's two halves); the harness writes them to `benchmarks/results/` (`fit_fidelity`, `fit_ratings`).
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
RATINGS_GOAL_SECONDS = 10.0
# MovieLens 100k's shape: 943 users, 1,682 movies, 1997-09-20..1998-04-22 (215 days).
MOVIELENS = {"users": 943, "items": 1682, "start": "1997-09-20", "days": 215}
# SDMetrics' quality at most this far below its own noise floor (the log's two halves).
MAX_QUALITY_GAP = 0.02
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


def measure_ratings(events: int) -> dict:
    """Seconds to fit a ratings log with every habit, about `events` events over MovieLens' 215 days."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from poppy_pipeline_tests.support.rating_habits import as_events, ratings_log

    users = max(20, round(MOVIELENS["users"] * events / 75_000))  # about 75,000 events per 943 users
    log, objects = as_events(ratings_log(**(MOVIELENS | {"users": users})))
    days = [str(d.date()) for d in pd.date_range(MOVIELENS["start"], periods=MOVIELENS["days"])]
    started = time.perf_counter()
    fit_log(log, objects, days)
    seconds = time.perf_counter() - started
    return {
        "events": len(log),
        "users": users,
        "fit_s": seconds,
        "events_per_s": len(log) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def ratings_logs(small: bool) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, None, list[str]]]:
    """Ratings logs with every habit, and with one habit off at a time."""
    from poppy_pipeline_tests.support.movielens import movielens_like
    from poppy_pipeline_tests.support.rating_habits import as_events, ratings_log

    shape = MOVIELENS | ({"users": 200, "items": 500, "days": 60} if small else {})
    variants = {
        "every habit": {},
        "repeats by chance (no order)": {"repeats": True},
        "no same-second bursts": {"burst_share": 0.0},
        "no personal hours": {"personal_hour_share": 0.0},
        "flatter popularity (σ 0.9)": {"popularity_sigma": 0.9},
        "no floor (≥ 1 event)": {"floor": 1},
    }
    all_days = [str(d.date()) for d in pd.date_range(shape["start"], periods=shape["days"])]
    logs = {}
    for name, options in variants.items():
        events, objects = as_events(ratings_log(**(shape | options)))
        logs[f"ratings, {name} ({shape['users']} users, {shape['items']} items)"] = (events, objects, None, all_days)
    events, objects = logs[next(iter(logs))][:2]
    month = all_days[30:60]
    in_month = events["Timestamp"].dt.strftime("%Y-%m-%d").isin(month)
    logs["ratings, every habit, one month of it"] = (events[in_month.to_numpy()], objects, None, month)
    old, catalog = as_events(movielens_like(users=shape["users"], movies=shape["items"]))
    logs["MovieLens-like (the earlier generator)"] = (old, catalog, None, None)
    return logs


def goals(bench: Benchmark, small: bool = False) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
    from poppy_pipeline_tests.support.seed002 import write_pings_folder

    logs = {"seed 000's notebook (its loop, 10,000 rows)": (*seed000_log(), None), **ratings_logs(small)}
    with tempfile.TemporaryDirectory() as folder:
        pings = write_pings_folder(Path(folder), users=200, pings=300, events=20_000)
        source = InteractionSourceResource(path=str(pings), format="pings")
        users, _ = source.log_users()
        objects, _ = source.log_objects(lambda: None)
        rows = source.log_days(objects, users, [str(d.date()) for d in pd.date_range("2024-02-01", "2024-02-29")])
        events = pd.concat([f for f in rows.days.values() if len(f)], ignore_index=True)
        logs["seed 002 layout (200 users, 300 pings)"] = (events, objects, len(users), None)
    summary, details, sdmetrics = [], {}, {}
    for name, (events, objects, population, window) in logs.items():
        days = window or sorted(events["Timestamp"].dt.strftime("%Y-%m-%d").unique())
        started = time.perf_counter()
        fit = fit_log(events, objects, days, population)
        report = fidelity_report(events, simulate_from_fit(fit, days))
        seconds = time.perf_counter() - started
        close, floor, auc = (report[k] for k in ("overall_closeness", "noise_floor_closeness", "detection_auc"))
        closeness_goal = bench.goal(f"{name}: closeness − noise floor", close - floor, -MAX_CLOSENESS_GAP, "")
        detection_goal = bench.goal(f"{name}: detection AUC", auc, MAX_DETECTION_AUC, "", "<=")
        field = report["sdmetrics"]
        quality, quality_floor = field["quality"], field["noise_floor_quality"]
        quality_goal = bench.goal(
            f"{name}: SDMetrics quality − noise floor", quality - quality_floor, -MAX_QUALITY_GAP, ""
        )
        goals_met = (closeness_goal, detection_goal, quality_goal)
        verdict = " / ".join("pass" if goal.met else "FAIL" for goal in goals_met)
        drops = sorted(report["detection_importance"].items(), key=lambda item: -item[1])[:2]
        summary.append(
            [
                name,
                f"{len(events):,}",
                f"{report['users']['real']:,}",
                f"{close:.3f} ({floor:.3f})",
                f"{auc:.3f} ({report['noise_floor_detection_auc']:.3f})",
                f"{quality:.3f} ({quality_floor:.3f})",
                verdict,
                ", ".join(f"{f} {d:.3f}" for f, d in drops),
                f"{seconds:.1f}",
            ]
        )
        details[name] = report["statistics"]
        sdmetrics[name] = field
    columns = [
        "log",
        "events",
        "users",
        "overall closeness (noise floor)",
        "detection AUC (noise floor)",
        "SDMetrics quality (noise floor)",
        "closeness / detection / SDMetrics",
        "largest AUC drops when shuffled",
        "fit + report s",
    ]
    bench.table("fidelity of a fitted simulation: ratings logs with each habit, seed 000, seed 002", columns, summary)
    for name, statistics in details.items():
        bench.table(
            name,
            ["statistic", "real", "simulated", "closeness", "noise floor"],
            [
                [stat, row["real"], row["simulated"], row["closeness"], row["noise_floor"]]
                for stat, row in statistics.items()
            ],
        )
    bench.record(statistics=details, sdmetrics=sdmetrics)


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
    parser.add_argument("--ratings", type=float, help="time the fit of a ratings log of about this many events")
    parser.add_argument("--goals", action="store_true", help="fidelity on ratings, seed 000 and seed 002 logs")
    parser.add_argument("--small", action="store_true", help="with --goals: small logs (a smoke run)")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--child-ratings", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child))))
        return
    if args.child_ratings:
        print(json.dumps(measure_ratings(int(args.child_ratings))))
        return
    if args.goals:
        title = (
            "Fidelity: how close a simulation fitted to a log gets (ratings logs with each habit, seed 000, seed 002)"
        )
        with Benchmark("fit_fidelity", title) as bench:
            goals(bench, args.small)
        return
    if args.ratings:
        with Benchmark("fit_ratings", "Fitting a ratings log with every habit (`fit_log`), one core") as bench:
            row = run_child_json(__file__, int(args.ratings), flag="--child-ratings")
            bench.table(
                "fitting a ratings log (`fit_log`)",
                ["events", "users", "seconds", "events/s", "peak RSS"],
                [
                    [
                        f"{row['events']:,}",
                        row["users"],
                        f"{row['fit_s']:.2f}",
                        f"{row['events_per_s']:,.0f}",
                        f"{row['peak_rss_mb']:.0f} MB",
                    ]
                ],
            )
            bench.goal(
                "fit of a ratings log (100,000 events in under 10 s)",
                row["fit_s"] * 100_000 / row["events"],
                RATINGS_GOAL_SECONDS,
                "s",
                "<=",
            )
            bench.record(**row)
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
