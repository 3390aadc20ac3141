"""The click model's gate: user-bootstrap intervals, verdicts, champion against challenger, damaged models."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from poppy_pipeline.behaviour.features import WindowSpec
from poppy_pipeline.behaviour.model import BehaviourSettings
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.behaviour.windows import simulated_windows
from poppy_pipeline.click_model import gate, onnx_export
from poppy_pipeline.click_model import training as core
from poppy_pipeline.common import user_bootstrap
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW, make_model


def scored_windows(users: int, rows: int, seed: int = 0, signal: float = 1.0) -> pd.DataFrame:
    """Windows of `users` users with a per-user propensity, scores that rank them with `signal`, and ties."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, rows)
    propensity = rng.normal(-3, 0.8, users)[user]
    feature = rng.normal(size=rows)
    truth = 1 / (1 + np.exp(-(propensity + 1.2 * feature)))
    label = (rng.random(rows) < truth).astype(np.int64)
    score = np.round(signal * feature + rng.normal(scale=0.5, size=rows), 1)  # rounded: many ties
    return pd.DataFrame({"User_ID": user + 1000, "Label": label, "Score": score, "Truth": truth})


def test_resampled_aucs_equal_sklearn_on_the_resampled_windows():
    frame = scored_windows(users=25, rows=4_000)
    users, count = user_bootstrap.resampling_units(frame["User_ID"].to_numpy())
    counts = user_bootstrap.user_resamples(count, seed=3, stream_name="test", resamples=6)
    counts[0] = 1  # the full sample too
    aucs = gate.resampled_aucs(frame["Score"].to_numpy(), frame["Label"].to_numpy(), users, counts)
    for row, auc in zip(counts, aucs, strict=True):
        expected = roc_auc_score(frame["Label"], frame["Score"], sample_weight=row[users])
        assert auc == pytest.approx(expected, abs=1e-12)


def test_resamples_are_deterministic_draws_of_users():
    first = user_bootstrap.user_resamples(30, seed=42, stream_name="held_out")
    again = user_bootstrap.user_resamples(30, seed=42, stream_name="held_out")
    other = user_bootstrap.user_resamples(30, seed=43, stream_name="held_out")
    assert first.shape == (user_bootstrap.RESAMPLES, 30) and user_bootstrap.RESAMPLES >= 200
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert (first.sum(axis=1) == 30).all()


def test_intervals_hold_the_estimate_and_narrow_with_more_users():
    widths = {}
    for users in (15, 300):
        frame = scored_windows(users=users, rows=200 * users, seed=users)
        labels, user_ids = frame["Label"].to_numpy(), frame["User_ID"].to_numpy()
        intervals = gate.held_out_intervals(labels, frame["Score"].to_numpy(), frame["Truth"].to_numpy(), user_ids, 1)
        for interval in (intervals.auc, intervals.oracle_auc, intervals.ratio):
            assert interval.low <= interval.estimate <= interval.high
        assert intervals.auc.estimate == pytest.approx(roc_auc_score(labels, frame["Score"]))
        assert intervals.ratio.estimate == pytest.approx(intervals.auc.estimate / intervals.oracle_auc.estimate)
        widths[users] = intervals.ratio.high - intervals.ratio.low
    assert widths[300] < widths[15] / 2  # ~√20 narrower


def test_verdicts_need_the_whole_interval_beyond_the_bar():
    assert user_bootstrap.Interval(0.91, 0.86, 0.96).below(0.95) is False  # could be 0.95: passes
    assert user_bootstrap.Interval(0.91, 0.86, 0.94).below(0.95) is True
    assert user_bootstrap.Interval(0.15, 0.05, 0.25).outside(0.10) is False
    assert user_bootstrap.Interval(0.15, 0.11, 0.25).outside(0.10) is True
    assert user_bootstrap.Interval(-0.15, -0.25, -0.11).outside(0.10) is True
    report = {
        "auc_ratio": 0.9,
        "auc_ratio_interval": [0.85, 0.951],
        "held_out_auc": 0.7,
        "held_out_auc_interval": [0.6, 0.74],
    }
    assert gate.oracle_ratio_passes(report, 0.95) and not gate.auc_passes(report, 0.75)
    assert gate.oracle_ratio_passes({"auc_ratio": None}, 0.95)  # no oracle (a real log): not applicable


def test_calibration_interval_separates_calibrated_from_inflated():
    frame = scored_windows(users=100, rows=40_000, seed=5)
    labels, users = frame["Label"].to_numpy(), frame["User_ID"].to_numpy()
    calibrated = gate.calibration_interval(labels, frame["Truth"].to_numpy(), users, seed=1)
    inflated = gate.calibration_interval(labels, 1.5 * frame["Truth"].to_numpy(), users, seed=1)
    expected = frame["Truth"].sum() / labels.sum() - 1
    assert calibrated.estimate == pytest.approx(expected)
    assert not calibrated.outside(0.10)
    assert inflated.outside(0.10) and inflated.low > 0.3


def test_champion_comparison_is_paired():
    frame = scored_windows(users=40, rows=10_000, seed=7)
    labels, users, good = frame["Label"].to_numpy(), frame["User_ID"].to_numpy(), frame["Score"].to_numpy()
    same = gate.compare_with_champion(labels, good, good.copy(), users, seed=1)
    assert same["auc_difference"] == 0 and same["auc_difference_interval"] == [0, 0] and not same["rejected"]
    noise = np.random.default_rng(0).random(len(labels))
    worse = gate.compare_with_champion(labels, noise, good, users, seed=1)
    assert worse["rejected"] and worse["auc_difference_interval"][1] < 0
    better = gate.compare_with_champion(labels, good, noise, users, seed=1)
    assert not better["rejected"] and better["auc_difference"] > 0.1


# --- a damaged model on the simulation, at the default bars --------------------------------------


def shuffled_columns_fit(features: np.ndarray, labels: np.ndarray):
    """The damage: feature columns in another order at training than at prediction."""
    order = np.random.default_rng(0).permutation(features.shape[1])
    return core.fit_calibrated(features[:, order], labels)


@pytest.fixture(scope="module")
def thirty_days() -> pd.DataFrame:
    """The default run's windows: seed 42, 100 users, the 30 days to 2026-11-21."""
    settings = SimulationSettings()
    model, _objects, users = make_model(settings)
    frames = [
        simulated_windows(simulate_sessions(BehaviourSettings(), settings.seed, users, simulate_day(model, d), d))
        for d in WINDOW
    ]
    return pd.concat(frames, ignore_index=True)


def held_out_verdicts(windows: pd.DataFrame, fit, seed: int = 42) -> tuple[dict, dict]:
    """Fit on the training users (one fit, no CV), judge the held-out AUC and oracle ratio at the defaults."""
    user_ids = windows["User_ID"].to_numpy()
    is_test = np.isin(user_ids, core.held_out_users(user_ids, seed))
    features, labels = core.feature_matrix(windows), windows["Label"].to_numpy()
    model = fit(features[~is_test], labels[~is_test])
    held_out = windows[is_test]
    intervals = gate.held_out_intervals(
        labels[is_test],
        model.predict_proba(features[is_test])[:, 1],
        core.oracle_probabilities(held_out),
        user_ids[is_test],
        seed,
    )
    report = {
        "held_out_auc": intervals.auc.estimate,
        "held_out_auc_interval": intervals.auc.as_list(),
        "auc_ratio": intervals.ratio.estimate,
        "auc_ratio_interval": intervals.ratio.as_list(),
    }
    verdicts = {"held_out_auc": gate.auc_passes(report, 0.75), "auc_vs_oracle": gate.oracle_ratio_passes(report, 0.95)}
    return verdicts, report


@pytest.mark.parametrize("days", [30, 7])
def test_a_model_trained_on_shuffled_columns_is_blocked_at_the_defaults(thirty_days: pd.DataFrame, days: int):
    first = str(WINDOW[-days])
    windows = thirty_days[thirty_days["Window_End"].astype(str) >= first].reset_index(drop=True)
    damaged, report = held_out_verdicts(windows, shuffled_columns_fit)
    assert damaged == {"held_out_auc": False, "auc_vs_oracle": False}, report
    if days == 30:  # the same data, undamaged, pass: the gate separates the two
        healthy, report = held_out_verdicts(windows, core.fit_calibrated)
        assert healthy == {"held_out_auc": True, "auc_vs_oracle": True}, report


def test_the_onnx_export_carries_the_window_of_the_trained_model():
    frame = scored_windows(users=20, rows=3_000)
    features = np.repeat(frame[["Score"]].to_numpy(), 20, axis=1) + np.random.default_rng(1).normal(size=(3_000, 20))
    pipeline = core.fit_calibrated(features, frame["Label"].to_numpy())
    spec = WindowSpec(60_000, 5_000, 20_000, 3)
    trained = core.TrainedModel(pipeline, ("2026-11-01", "2026-11-02"), (1000,), spec, seed=1)
    properties = gate.onnx_properties(trained.onnx_bytes())
    assert properties["training_window"] == "2026-11-01..2026-11-02"
    assert (properties["window_seconds"], properties["step_seconds"], properties["horizon_seconds"]) == (
        "60.0",
        "5.0",
        "20.0",
    )
    other = core.TrainedModel(pipeline, ("2026-11-01",), (1000,), WindowSpec(), seed=1)
    assert "other windows" in gate.incomparable(trained.onnx_bytes(), other)
    assert gate.incomparable(trained.onnx_bytes(), trained) is None
    assert "cannot be read" in gate.incomparable(b"not an onnx file", trained)


def test_many_users_are_resampled_in_fixed_groups(monkeypatch: pytest.MonkeyPatch):
    frame = scored_windows(users=60, rows=6_000, seed=9)
    labels, users, scores = frame["Label"].to_numpy(), frame["User_ID"].to_numpy(), frame["Score"].to_numpy()
    monkeypatch.setattr(user_bootstrap, "MAX_GROUPS", 8)
    groups, count = user_bootstrap.resampling_units(users, seed=1)
    assert count == 8 and set(groups) == set(range(8))
    assert all(len(set(groups[users == u])) == 1 for u in np.unique(users))  # a user stays in one group
    intervals = gate.held_out_intervals(labels, scores, frame["Truth"].to_numpy(), users, seed=1)
    assert intervals.auc.estimate == pytest.approx(roc_auc_score(labels, scores))
    assert intervals.auc.low < intervals.auc.estimate < intervals.auc.high


def test_the_onnx_verdicts_hold_for_the_export_and_name_what_breaks():
    frame = scored_windows(users=20, rows=2_000)
    features = np.repeat(frame[["Score"]].to_numpy(), 20, axis=1) + np.random.default_rng(2).normal(size=(2_000, 20))
    pipeline = core.fit_calibrated(features, frame["Label"].to_numpy())
    payload = core.TrainedModel(pipeline, ("2026-11-01",), (1000,), WindowSpec(), seed=1).onnx_bytes()
    parity = onnx_export.onnx_parity(payload, pipeline, features)
    names = list(core.FEATURE_NAMES)
    verdicts = gate.onnx_verdicts(payload, parity, names)
    assert {name: v.passed for name, v in verdicts.items()} == {
        gate.VALID_CHECK: True,
        gate.SIZE_CHECK: True,
        gate.PARITY_CHECK: True,
    }
    assert verdicts[gate.SIZE_CHECK].measures["size_bytes"] == len(payload)
    reordered = gate.onnx_verdicts(payload, parity, names[::-1])[gate.VALID_CHECK]
    assert not reordered.passed and reordered.measures["problems"] == [
        "metadata property feature_names is not the training order"
    ]
    off = onnx_export.Parity(max_abs_error=1e-3, max_error_ratio=2.0, rows=10)
    assert not gate.onnx_verdicts(payload, off, names)[gate.PARITY_CHECK].passed
