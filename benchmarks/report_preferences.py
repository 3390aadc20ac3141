"""Layers 3 and 4 against the truth on simulated worlds the tests never use (the README's figures).

    .venv/bin/python benchmarks/report_preferences.py                      # the worlds below
    .venv/bin/python benchmarks/report_preferences.py --world 101 100 2026-06-01 30   # one world

Each world (seed, users, first day, days) is simulated with its tastes and judged as the assets
judge it (`preferences/learning.py`: held-out users in five folds, the span's last fifth of days
held out, against popularity and the Poppy ML service's two models). Goals: each model ahead of
the best of the three baselines on Spearman and on NDCG@3, in every world (a margin ≥ 0). The
tables and the result (`benchmarks/results/preferences_quality.json`) hold every figure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

from poppy_pipeline.preferences.evaluation import POPULARITY, SERVICE_MF, SERVICE_NN
from poppy_pipeline.preferences.evidence import EvidenceBuilder
from poppy_pipeline.preferences.learning import evaluation_table, learn, truth_matrix
from poppy_pipeline.preferences.models import fit_hierarchical
from poppy_pipeline.preferences.network import fit_network
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.tastes import true_preferences

sys.path.insert(0, str(Path(__file__).parent))
from harness import Benchmark

# Seeds, sizes and spans no test uses: a small world, the default size, a bigger one, a short span.
WORLDS = [
    (101, 100, "2026-06-01", 30),
    (202, 300, "2027-02-01", 30),
    (303, 1000, "2025-12-01", 30),
    (404, 200, "2026-09-10", 14),
]
BASELINES = [POPULARITY, SERVICE_MF, SERVICE_NN]
MEASURES = {"spearman": "Spearman", "ndcg_at_3": "NDCG@3"}
MODELS = {"category_preferences_mf": fit_hierarchical, "category_preferences_nn": fit_network}


def judged_world(seed: int, num_users: int, start: str, num_days: int) -> dict[str, dict]:
    """Each model's report on one simulated world."""
    settings = SimulationSettings(seed=seed, num_users=num_users, interactions_per_day=num_users * 10 / 3)
    objects, users = build_catalog(settings, None).objects, generate_users(settings)
    model = build_model(settings, objects, users)
    days = [str(date.fromisoformat(start) + timedelta(days=d)) for d in range(num_days)]
    builder = EvidenceBuilder(users, objects, days, held_out_days=round(0.2 * len(days)), seed=seed)
    for day in days:
        builder.add_day(simulate_day(model, date.fromisoformat(day)), day)
    evidence = builder.evidence()
    truth = truth_matrix(true_preferences(settings, users), evidence.user_ids)
    return {name: learn(name, fit, evidence, truth, seed).report for name, fit in MODELS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", nargs=4, action="append", metavar=("SEED", "USERS", "START", "DAYS"))
    args = parser.parse_args()
    worlds = [(int(a), int(b), c, int(d)) for a, b, c, d in args.world] if args.world else WORLDS
    with Benchmark("preferences_quality", "Layers 3 and 4 against the truth, beside the baselines") as bench:
        for seed, num_users, start, num_days in worlds:
            world = f"seed {seed}, {num_users} users, {start} + {num_days} days"
            reports = judged_world(seed, num_users, start, num_days)
            bench.record(**{world: reports})
            for name, report in reports.items():
                table = evaluation_table(report).astype(str)
                bench.table(f"{name}, {world}", list(table.columns), table.values.tolist())
                evaluation = report["evaluation"]
                for key, label in MEASURES.items():
                    best = max(evaluation[b][key] for b in BASELINES if evaluation.get(b, {}).get(key) is not None)
                    margin = evaluation[name][key] - best
                    bench.goal(f"{name}, {world}: {label} − best baseline", margin, 0.0, "")


if __name__ == "__main__":
    main()
