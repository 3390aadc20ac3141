"""The Layers 3 and 4 evaluation table for any simulated world and span (the README's tables).

    .venv/bin/python benchmarks/report_preferences.py --seed 101 --users 100 --start 2026-06-01 --days 30

The world is simulated with its tastes and judged as the assets judge it (`preferences/learning.py`:
held-out users in five folds, the span's last fifth of days held out, against popularity and the
Poppy ML service's two models); prints one Markdown table per model and a JSON line.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta

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

MODELS = {"category_preferences_mf": fit_hierarchical, "category_preferences_nn": fit_network}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--per-user-day", type=float, default=10 / 3, help="interactions a user makes a day")
    parser.add_argument("--start", default="2026-11-07")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    settings = SimulationSettings(
        seed=args.seed, num_users=args.users, interactions_per_day=args.users * args.per_user_day
    )
    objects, users = build_catalog(settings, None).objects, generate_users(settings)
    model = build_model(settings, objects, users)
    days = [str(date.fromisoformat(args.start) + timedelta(days=d)) for d in range(args.days)]
    builder = EvidenceBuilder(users, objects, days, held_out_days=round(0.2 * len(days)), seed=args.seed)
    for day in days:
        builder.add_day(simulate_day(model, date.fromisoformat(day)), day)
    evidence = builder.evidence()
    truth = truth_matrix(true_preferences(settings, users), evidence.user_ids)
    reports = {}
    for name, fit in MODELS.items():
        learned = learn(name, fit, evidence, truth, args.seed)
        reports[name] = learned.report
        print(f"\n{name}, seed {args.seed}, {len(evidence.user_ids)} users, {days[0]}..{days[-1]}:\n")
        table = evaluation_table(learned.report).astype(str)
        print("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns))
        print("\n".join("| " + " | ".join(row) + " |" for row in table.itertuples(index=False)))
    print(json.dumps({"seed": args.seed, "span": f"{days[0]}..{days[-1]}", "reports": reports}))


if __name__ == "__main__":
    main()
