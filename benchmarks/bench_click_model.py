"""Training time and inference latency of the click model, on one core.

    .venv/bin/python benchmarks/bench_click_model.py [--windows 1e6]

A child process, pinned to one core with every thread pool at one thread, simulates browsing
sessions (4,000 users, day after day) until they give at least `--windows` windows (features and
labels from the extractor; the oracle is not needed), then times:

- `fit_calibrated` (scaler, linear terms, balanced logistic regression, intercept
  correction) on all of them, once (it dominates the run);
- the gate's bootstrap intervals (`click_model_gate`: held-out AUC over 30% of the users, and
  the calibration over all of them, 1,000 user resamples each), once;
- the exported ONNX model through onnxruntime against scikit-learn's `predict_proba`, on a
  single row (median of many calls: what a browser or an API call pays) and on 10,000 rows
  (best of several).
"""

from __future__ import annotations

import argparse
import json
import time

from bench_simulation import run_child_json  # the sibling script: same one-core child process
from harness import Benchmark

USERS = 4_000
BATCH = 10_000
SINGLE_CALLS = 2_000
BATCH_REPEATS = 10


def simulate_windows(target: int):
    from datetime import date, timedelta

    import pandas as pd

    from poppy_pipeline.behaviour.model import BehaviourSettings
    from poppy_pipeline.behaviour.sessions import simulate_sessions
    from poppy_pipeline.behaviour.windows import extract_windows
    from poppy_pipeline.simulation.catalog import build_catalog
    from poppy_pipeline.simulation.interactions import simulate_day
    from poppy_pipeline.simulation.model import build_model
    from poppy_pipeline.simulation.population import generate_users
    from poppy_pipeline.simulation.settings import SimulationSettings

    settings = SimulationSettings(
        num_users=USERS, interactions_per_day=USERS * 10 / 3, signup_start="2020-01-01", signup_end="2020-01-02"
    )
    users = generate_users(settings)
    model = build_model(settings, build_catalog(settings, None).objects, users)
    frames, count, day = [], 0, date(2026, 1, 1)
    while count < target:
        actions = simulate_sessions(BehaviourSettings(), settings.seed, users, simulate_day(model, day), day).actions
        frames.append(extract_windows(actions))
        count += len(frames[-1])
        day += timedelta(days=1)
    return pd.concat(frames, ignore_index=True)


def _median_seconds(call, calls: int) -> float:
    import numpy as np

    timings = np.empty(calls)
    for i in range(calls):
        started = time.perf_counter()
        call()
        timings[i] = time.perf_counter() - started
    return float(np.median(timings))


def _best_seconds(call, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def measure(target_windows: int) -> dict:
    """Run in the child: simulate, train once, export, time the inference paths."""
    import numpy as np
    import onnxruntime

    from poppy_pipeline.behaviour.features import WindowSpec
    from poppy_pipeline.click_model import gate, onnx_export
    from poppy_pipeline.click_model import training as core

    windows = simulate_windows(target_windows)
    features, labels = core.feature_matrix(windows), windows["Label"].to_numpy()
    started = time.perf_counter()
    model = core.fit_calibrated(features, labels)
    training_s = time.perf_counter() - started
    probabilities, users = model.predict_proba(features)[:, 1], windows["User_ID"].to_numpy()
    held_out = np.isin(users, core.held_out_users(users, seed=42))
    started = time.perf_counter()
    gate.held_out_intervals(labels[held_out], probabilities[held_out], None, users[held_out], seed=42)
    gate.calibration_interval(labels, probabilities, users, seed=42)
    gate_s = time.perf_counter() - started
    payload = onnx_export.export_onnx(model, WindowSpec().settings(), "benchmark")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
    batch = features[:BATCH]
    batch32, row, row32 = batch.astype(np.float32), features[:1], features[:1].astype(np.float32)
    return {
        "windows": len(labels),
        "positive_share": float(labels.mean()),
        "training_s": training_s,
        "iterations": int(np.max(model[-1].n_iter_)),
        "gate_s": gate_s,
        "held_out_windows": int(held_out.sum()),
        "held_out_users": len(np.unique(users[held_out])),
        "onnx_bytes": len(payload),
        "parity": onnx_export.onnx_parity(payload, model, batch).max_abs_error,
        "onnx_single_s": _median_seconds(lambda: session.run(None, {onnx_export.INPUT_NAME: row32}), SINGLE_CALLS),
        "sklearn_single_s": _median_seconds(lambda: model.predict_proba(row), SINGLE_CALLS // 4),
        "onnx_batch_s": _best_seconds(lambda: session.run(None, {onnx_export.INPUT_NAME: batch32}), BATCH_REPEATS),
        "sklearn_batch_s": _best_seconds(lambda: model.predict_proba(batch), BATCH_REPEATS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=float, default=1e6)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child))))
        return
    with Benchmark("click_model", "The click model: training, the gate, inference, one core") as bench:
        row = run_child_json(__file__, int(args.windows))
        rows = [
            [f"training (`fit_calibrated`, {row['iterations']} Newton steps)", f"{row['training_s']:.1f}", ""],
            [
                f"gate intervals ({row['held_out_windows']:,} held-out windows of {row['held_out_users']:,} users;"
                " calibration on all)",
                f"{row['gate_s']:.1f}",
                "",
            ],
        ]
        for name, key, count in (
            ("onnxruntime, 1 row (median)", "onnx_single_s", 1),
            ("`predict_proba`, 1 row (median)", "sklearn_single_s", 1),
            (f"onnxruntime, {BATCH:,} rows", "onnx_batch_s", BATCH),
            (f"`predict_proba`, {BATCH:,} rows", "sklearn_batch_s", BATCH),
        ):
            rows.append([name, f"{row[key]:.6f}", f"{row[key] / count * 1e6:,.2f} µs"])
        title = f"click model ({row['windows']:,} windows, {row['positive_share']:.1%} positive)"
        bench.table(title, ["step", "seconds", "per row"], rows)
        bench.note(
            f"ONNX file {row['onnx_bytes']:,} bytes; max |p_onnx − p_sklearn| {row['parity']:.1e} on {BATCH:,} rows."
            f" onnxruntime is {row['sklearn_single_s'] / row['onnx_single_s']:,.0f}× faster on one row,"
            f" {row['sklearn_batch_s'] / row['onnx_batch_s']:,.1f}× on {BATCH:,}."
        )
        bench.record(**row)


if __name__ == "__main__":
    main()
