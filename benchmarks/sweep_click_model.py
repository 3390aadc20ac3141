"""The click model's gate verdict over seeds and windows, on the pure core (no Dagster).

    .venv/bin/python benchmarks/sweep_click_model.py [--seeds 1-10,4242] [--starts 2025-12-01,...]
        [--days 7,30] [--cache /tmp/click_sweep]

For each seed and window it simulates what the assets would (interactions, sessions, the
windows with the oracle), splits the users as `train_and_evaluate` does (`held_out_users`),
fits `fit_calibrated` on the training users only (no CV: the gate does not judge it) and prints
the held-out ratio of AUC to the oracle's AUC with the gate's 90% user-bootstrap interval. The
`auc_vs_oracle` check fails when the interval's upper end is below 0.95. Windows are cached as
Parquet under `--cache` so that a model change can be swept again without simulating.

`--ceiling` adds the ratio of the same model given each user's true log ad receptiveness as a
21st feature (what the oracle knows and the features must infer): how much of a shortfall is
the window's information rather than the model.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

MIN_ORACLE_RATIO = 0.95


def simulate(seed: int, start: date, days: int) -> pd.DataFrame:
    """`sliding_window_features` of `days` days from `start` for the default settings at `seed`."""
    from poppy_pipeline.behaviour.model import BehaviourSettings
    from poppy_pipeline.behaviour.sessions import simulate_sessions
    from poppy_pipeline.behaviour.windows import simulated_windows
    from poppy_pipeline.simulation.catalog import build_catalog
    from poppy_pipeline.simulation.interactions import simulate_day
    from poppy_pipeline.simulation.model import build_model
    from poppy_pipeline.simulation.population import generate_users
    from poppy_pipeline.simulation.settings import SimulationSettings

    settings = SimulationSettings(seed=seed)
    users = generate_users(settings)
    model = build_model(settings, build_catalog(settings, None).objects, users)
    frames = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        sessions = simulate_sessions(BehaviourSettings(), seed, users, simulate_day(model, day), day)
        frames.append(simulated_windows(sessions))
    return pd.concat(frames, ignore_index=True)


def cached_windows(cache: Path | None, seed: int, start: date, days: int) -> pd.DataFrame:
    if cache is None:
        return simulate(seed, start, days)
    path = cache / f"windows_{seed}_{start}_{days}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        simulate(seed, start, days).to_parquet(path)
    return pd.read_parquet(path)


def true_receptiveness(seed: int, user_ids: np.ndarray) -> np.ndarray:
    """Each window's user's log ad receptiveness, as the session generator draws it."""
    from poppy_pipeline.behaviour.model import BehaviourSettings, draw_traits, log_receptiveness
    from poppy_pipeline.simulation.population import generate_users
    from poppy_pipeline.simulation.settings import SimulationSettings

    traits = draw_traits(seed, generate_users(SimulationSettings(seed=seed)))
    by_user = pd.Series(log_receptiveness(BehaviourSettings(), traits), index=traits.user_ids)
    return by_user.loc[user_ids].to_numpy()


def verdict(windows: pd.DataFrame, seed: int, fit=None, ceiling: bool = False) -> dict:
    """The gate's ratio interval for a model fitted (by `fit`, default `fit_calibrated`) on the training users.

    `ceiling`: the features get the users' true receptiveness as one more column.
    """
    from poppy_pipeline.click_model import gate
    from poppy_pipeline.click_model import training as core

    fit = fit or core.fit_calibrated
    user_ids = windows["User_ID"].to_numpy()
    is_test = np.isin(user_ids, core.held_out_users(user_ids, seed))
    features, labels = core.feature_matrix(windows), windows["Label"].to_numpy(dtype=np.int64)
    if ceiling:
        features = np.column_stack([features, true_receptiveness(seed, user_ids)])
    model = fit(features[~is_test], labels[~is_test])
    probabilities = model.predict_proba(features[is_test])[:, 1]
    oracle = core.oracle_probabilities(windows[is_test])
    intervals = gate.held_out_intervals(labels[is_test], probabilities, oracle, user_ids[is_test], seed)
    return {
        "users": len(np.unique(user_ids)),
        "windows": len(labels),
        "positive_share": float(labels.mean()),
        "auc": intervals.auc.estimate,
        "oracle_auc": intervals.oracle_auc.estimate,
        "ratio": intervals.ratio.estimate,
        "low": intervals.ratio.low,
        "high": intervals.ratio.high,
        "passes": not intervals.ratio.below(MIN_ORACLE_RATIO),
    }


def _seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1-10,4242")
    parser.add_argument("--starts", default="2025-12-01,2026-03-01,2026-11-01")
    parser.add_argument("--days", default="7,30")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--ceiling", action="store_true", help="also fit with the true receptiveness")
    args = parser.parse_args()
    extra = " given the true receptiveness |" if args.ceiling else ""
    print(f"| seed | window | users | windows | positive | AUC | oracle | ratio [90% interval] | gate |{extra}")
    print("|---:|---|---:|---:|---:|---:|---:|---|---|" + ("---|" if args.ceiling else ""))
    rows = []
    for days in (int(d) for d in args.days.split(",")):
        for start in (date.fromisoformat(s) for s in args.starts.split(",")):
            for seed in _seeds(args.seeds):
                windows = cached_windows(args.cache, seed, start, days)
                row = verdict(windows, seed)
                rows.append(row)
                if args.ceiling:
                    best = verdict(windows, seed, ceiling=True)
                    extra = f" {best['ratio']:.3f} [{best['low']:.3f}, {best['high']:.3f}] |"
                print(
                    f"| {seed} | {start} +{days}d | {row['users']} | {row['windows']:,} | {row['positive_share']:.1%}"
                    f" | {row['auc']:.3f} | {row['oracle_auc']:.3f} | {row['ratio']:.3f}"
                    f" [{row['low']:.3f}, {row['high']:.3f}] | {'pass' if row['passes'] else 'FAIL'} |{extra}",
                    flush=True,
                )
    failed = sum(not row["passes"] for row in rows)
    print(f"\n{len(rows) - failed} of {len(rows)} pass; median ratio {np.median([r['ratio'] for r in rows]):.3f}")


if __name__ == "__main__":
    main()
