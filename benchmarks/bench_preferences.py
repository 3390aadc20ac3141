"""Layers 3 and 4 at scale, and the Poppy ML service's SGD loop on the same matrix.

    .venv/bin/python benchmarks/bench_preferences.py [--users 100000 --events 1e7]

A simulated world (tastes on) of `--users` users makes about `--events` interactions in 30 days,
simulated one day at a time into the evidence (`preferences/evidence.py`, as the assets read their
span). Then, for each model: `fit_predict` fits it on every user and day and turns the scores into
the engine's 0-10 table (what the asset publishes), `evaluate` judges it with popularity on held-out
users and days (`evaluation.evaluate`, five folds, without the service's models), and
`service_models` is the report's pair of service baselines (at most 100 users). Goal (issue 27):
each model under a minute on 2 cores at 100,000 users and 10M events. The simulation itself is not
timed.

The service's Layer-3 loop is the description's, cell by cell in Python (numpy scalars, as the
service indexes them): per type, P·Qᵀ with K = 7, for 1,500 passes over every user and category,
updating the cells that hold a strength. It is timed on `--sgd-users` users of the same pivot for
`--sgd-passes` passes; a pass visits every user's 21 cells, so its time grows linearly with the
users, and the full run's time is extrapolated as
`seconds / (passes × sampled users) × all users × 1,500`. The ratio divides that by Layer 3's
`fit_predict`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from poppy_pipeline.preferences.evaluation import POPULARITY, evaluate, evaluation_users, service_scores
from poppy_pipeline.preferences.evidence import EvidenceBuilder
from poppy_pipeline.preferences.models import (
    TYPE_OF_CATEGORY,
    TYPES,
    engine_table,
    fit_hierarchical,
    fit_popularity,
    preference_values,
)
from poppy_pipeline.preferences.network import fit_network
from poppy_pipeline.preferences.service_models import FACTORS, SGD_LEARNING_RATE, SGD_PASSES, SGD_REGULARISATION
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings

sys.path.insert(0, str(Path(__file__).parent))
from harness import Benchmark

DAYS = 30
FIRST_DAY = date(2026, 10, 1)
GOAL_SECONDS = 60.0
MODELS = {"layer 3 (category_preferences_mf)": fit_hierarchical, "layer 4 (category_preferences_nn)": fit_network}


def evidence_of_world(users: int, events: float, seed: int) -> tuple[object, float]:
    """The evidence of a simulated 30-day span, and the seconds spent adding its days up."""
    settings = SimulationSettings(
        seed=seed,
        num_users=users,
        interactions_per_day=events / DAYS,
        signup_start="2025-01-01",
        signup_end="2026-01-01",  # everyone has signed up by the span
    )
    objects, population = build_catalog(settings, None).objects, generate_users(settings)
    model = build_model(settings, objects, population)
    days = [str(FIRST_DAY + timedelta(days=d)) for d in range(DAYS)]
    builder = EvidenceBuilder(population, objects, days, held_out_days=6, seed=seed)
    seconds = 0.0
    for day in days:
        frame = simulate_day(model, date.fromisoformat(day))
        started = time.perf_counter()
        builder.add_day(frame, day)
        seconds += time.perf_counter() - started
    started = time.perf_counter()
    evidence = builder.evidence()
    return evidence, seconds + time.perf_counter() - started


def timed(work) -> tuple[object, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def fit_predict(fit, evidence, seed: int):
    scorer = fit(evidence.everything, evidence.exposure, seed)
    return engine_table(evidence.user_ids, preference_values(scorer(evidence.everything.sum(axis=2))))


def service_loop(strongest: np.ndarray, passes: int, seed: int = 0) -> None:
    """The service's Layer-3 loop as described: per type, every user and category, cell by cell."""
    rng = np.random.default_rng(seed)
    for t in range(TYPES):
        ratings = strongest[:, t == TYPE_OF_CATEGORY]
        p = rng.random((len(ratings), FACTORS))
        q = rng.random((FACTORS, ratings.shape[1]))
        for _ in range(passes):
            for i in range(len(ratings)):
                for j in range(len(ratings[i])):
                    if ratings[i][j] > 0:
                        error = ratings[i][j] - np.dot(p[i, :], q[:, j])
                        for k in range(FACTORS):
                            p[i][k] = p[i][k] + SGD_LEARNING_RATE * (2 * error * q[k][j] - SGD_REGULARISATION * p[i][k])
                            q[k][j] = q[k][j] + SGD_LEARNING_RATE * (2 * error * p[i][k] - SGD_REGULARISATION * q[k][j])


def measure(args: argparse.Namespace) -> dict:
    evidence, evidence_s = evidence_of_world(args.users, args.events, args.seed)
    users = len(evidence.user_ids)
    result = {
        "users_in_span": users,
        "events": evidence.events,
        "evidence_s": round(evidence_s, 3),
        "models": {},
    }
    for name, fit in MODELS.items():
        table, fit_s = timed(lambda fit=fit: fit_predict(fit, evidence, args.seed))
        judged, evaluate_s = timed(
            lambda fit=fit, name=name: evaluate(
                {name: fit, POPULARITY: fit_popularity}, evidence, None, args.seed, with_service=False
            )
        )
        result["models"][name] = {
            "fit_predict_s": round(fit_s, 3),
            "evaluate_s": round(evaluate_s, 3),
            "total_s": round(fit_s + evaluate_s, 3),
            "rows": len(table),
            "held_out_like_auc": judged[name].summary()["held_out_like_auc"],
            "popularity_auc": judged[POPULARITY].summary()["held_out_like_auc"],
        }
    rows = evaluation_users(evidence, args.seed)
    _, service_s = timed(lambda: service_scores(evidence, rows, args.seed))
    result["service_models_in_report_s"] = round(service_s, 3)
    sample = evidence.strongest[: min(args.sgd_users, users)]
    _, loop_s = timed(lambda: service_loop(sample, args.sgd_passes))
    per_user_pass = loop_s / (args.sgd_passes * len(sample))
    extrapolated = per_user_pass * users * SGD_PASSES
    layer_3 = result["models"][next(iter(MODELS))]["fit_predict_s"]
    result["service_sgd_loop"] = {
        "sampled_users": len(sample),
        "passes_timed": args.sgd_passes,
        "seconds_timed": round(loop_s, 3),
        "seconds_per_user_and_pass": per_user_pass,
        "extrapolated_s": round(extrapolated, 1),
        "how": f"seconds / (passes × sampled users) × {users} users × {SGD_PASSES} passes",
        "ratio_to_layer_3_fit_predict": round(extrapolated / max(layer_3, 1e-9), 1),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=float, default=1e7, help="interactions in the 30 days")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sgd-users", type=int, default=200, help="users the service's loop is timed on")
    parser.add_argument("--sgd-passes", type=int, default=2, help="passes the service's loop is timed for")
    args = parser.parse_args()
    with Benchmark("preferences", "Layers 3 and 4 at scale, and the service's SGD loop") as bench:
        result = measure(args)
        bench.record(**result)
        bench.note(
            f"{result['users_in_span']:,} users and {result['events']:,} events in 30 days; adding up the"
            f" evidence took {result['evidence_s']:.2f} s (counted in each model's total below)."
        )
        rows = []
        for name, row in result["models"].items():
            total = row["total_s"] + result["evidence_s"]
            rows.append([name, f"{row['fit_predict_s']:.2f}", f"{row['evaluate_s']:.2f}", f"{total:.2f}"])
            bench.goal(f"{name}: evidence + fit + predict + evaluation", total, GOAL_SECONDS, "s", "<=")
        bench.table("Seconds per model", ["model", "fit + predict", "evaluation", "total with evidence"], rows)
        loop = result["service_sgd_loop"]
        bench.note(
            f"The service's SGD loop: {loop['seconds_timed']:.2f} s for {loop['passes_timed']} passes over"
            f" {loop['sampled_users']} users; extrapolated ({loop['how']}) to {loop['extrapolated_s']:,.0f} s,"
            f" {loop['ratio_to_layer_3_fit_predict']:,.0f}× Layer 3's fit + predict."
            f" The report's two service baselines took {result['service_models_in_report_s']:.2f} s."
        )


if __name__ == "__main__":
    main()
