"""The oracle from the recorded stream equals the oracle of the re-simulated day, window by window."""

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from poppy_pipeline.behaviour import oracle as oracle_module
from poppy_pipeline.behaviour import windows as windows_module
from poppy_pipeline.behaviour.features import WindowSpec
from poppy_pipeline.behaviour.model import (
    CLICK_AD,
    CLOSED,
    MODE_AFTER,
    STATE_RULE_TICKS,
    TICK_MS,
    BehaviourSettings,
    draw_traits,
)
from poppy_pipeline.behaviour.oracle import ranking_auc, recorded_day
from poppy_pipeline.behaviour.sessions import SessionSimulation, simulate_sessions
from poppy_pipeline.behaviour.window_membership import checked_windows
from poppy_pipeline.behaviour.windows import StreamMismatch, recorded_windows
from poppy_pipeline.common import threads
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW, make_model
from poppy_pipeline_tests.support.oracle_reference import reference_oracle


def simulated_day(seed: int, day: date) -> tuple[SessionSimulation, pd.DataFrame, pd.DataFrame]:
    # Twice the default population, so that a day has sessions of every kind.
    settings = SimulationSettings(seed=seed, num_users=200, interactions_per_day=2 * 10_000 / 30)
    model, _objects, users = make_model(settings)
    interactions = simulate_day(model, day)
    return simulate_sessions(BehaviourSettings(), seed, users, interactions, day), users, interactions


def window_states(simulation: SessionSimulation, windows: pd.DataFrame, horizon_ticks: int) -> dict[str, np.ndarray]:
    """What kind of window each is, from the simulation's own latent state (to show each kind is covered)."""
    plan = simulation.plan
    sessions = np.searchsorted(plan.session_ids, windows["Session_ID"].to_numpy())
    offset = (windows["Window_End"] - pd.Timestamp(simulation.day)) // pd.Timedelta(milliseconds=1)
    end_tick = (offset.to_numpy() - plan.start_ms[sessions]) // TICK_MS
    stride = int(plan.end_ticks.max()) + 2
    keys = simulation.action_session * stride + simulation.action_tick + 1
    last = np.searchsorted(keys, sessions * stride + end_tick, side="right") - 1
    idle = end_tick - 1 - simulation.action_tick[last]
    return {
        "closed": MODE_AFTER[simulation.action_code[last]] == CLOSED,
        "after an ad click": simulation.action_code[last] == CLICK_AD,
        "clicking in the horizon": windows["Label"].to_numpy() == 1,
        "at the session's start (warming up)": end_tick * TICK_MS < BehaviourSettings().ad_warmup_sec * 1000,
        "at the session's end (planned end in the horizon)": plan.end_ticks[sessions] - 1 < end_tick + horizon_ticks,
        "close_tab allowed within the horizon": (plan.close_from_ticks[sessions] > end_tick)
        & (plan.close_from_ticks[sessions] < end_tick + horizon_ticks),
        "turning stale within the horizon": (idle < STATE_RULE_TICKS) & (idle + horizon_ticks > STATE_RULE_TICKS),
        "stale at the end": idle >= STATE_RULE_TICKS,
    }


@pytest.mark.parametrize(
    ("seed", "day", "horizon_seconds"),
    [
        (42, WINDOW[-1], 10.0),
        (3, WINDOW[-5], 10.0),
        (11, WINDOW[-12], 15.0),  # beyond 10.25 s: an action inside the horizon can turn stale
        (42, WINDOW[-2], 2.5),
        (7, WINDOW[-20], 30.0),
    ],
)
def test_recorded_stream_gives_the_oracle_of_the_resimulated_day(seed: int, day: date, horizon_seconds: float):
    simulation, users, interactions = simulated_day(seed, day)
    spec = WindowSpec.from_seconds(120.0, 10.0, horizon_seconds, 5)
    # Only what a later step has: the recorded actions, the users and the day's interactions.
    recorded = recorded_day(BehaviourSettings(), seed, draw_traits(seed, users), interactions, day)
    windows = recorded_windows(simulation.actions.copy(), recorded, spec)
    expected = reference_oracle(
        simulation, windows["Session_ID"].to_numpy(), windows["Window_End"].to_numpy(), spec.horizon_ms
    )
    oracle = windows["Oracle_Probability"].to_numpy(float)
    np.testing.assert_allclose(oracle, expected, rtol=1e-12, atol=0)
    assert (oracle[expected == 0] == 0).all()
    kinds = window_states(simulation, windows, spec.horizon_ms // TICK_MS)
    assert {kind: int(inside.sum()) for kind, inside in kinds.items() if not inside.any()} == {}
    assert len(windows) > 1_000


def test_every_window_end_of_every_session_matches():
    """Every second of a session is a window end here (step 1 s, one action enough), first to last."""
    seed, day = 5, WINDOW[-3]
    simulation, users, interactions = simulated_day(seed, day)
    spec = WindowSpec(window_ms=120_000, step_ms=4 * TICK_MS, horizon_ms=10_000, min_actions=1)
    recorded = recorded_day(BehaviourSettings(), seed, draw_traits(seed, users), interactions, day)
    windows = recorded_windows(simulation.actions, recorded, spec)
    expected = reference_oracle(
        simulation, windows["Session_ID"].to_numpy(), windows["Window_End"].to_numpy(), spec.horizon_ms
    )
    np.testing.assert_allclose(windows["Oracle_Probability"].to_numpy(float), expected, rtol=1e-12, atol=0)


def test_actions_of_another_seed_or_other_interactions_are_refused():
    seed, day = 42, WINDOW[-1]
    simulation, users, interactions = simulated_day(seed, day)
    for other_seed, other_interactions in ((7, interactions), (seed, interactions.iloc[: len(interactions) // 2])):
        recorded = recorded_day(
            BehaviourSettings(), other_seed, draw_traits(other_seed, users), other_interactions, day
        )
        with pytest.raises(StreamMismatch, match="sessions"):
            recorded_windows(simulation.actions, recorded, WindowSpec())


@pytest.mark.parametrize("size", [7, 1_000, 50_000])
def test_ranking_auc_is_sklearns_with_ties(size: int):
    rng = np.random.default_rng(size)
    scores = np.round(rng.random(size), 2)  # many ties
    labels = (rng.random(size) < scores).astype(np.int8)
    labels[:2] = (0, 1)
    assert ranking_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), rel=1e-12)


def test_one_thread_or_several_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch):
    """Window chunks and oracle batches run side by side on the cores: each computes what it would alone."""
    seed, day = 42, WINDOW[-1]
    simulation, users, interactions = simulated_day(seed, day)
    recorded = recorded_day(BehaviourSettings(), seed, draw_traits(seed, users), interactions, day)
    monkeypatch.setattr(windows_module, "CHUNK_ACTIONS", 500)  # many chunks and batches
    monkeypatch.setattr(oracle_module, "ORACLE_CHUNK", 300)
    monkeypatch.setattr(threads, "usable_cores", lambda: 1)
    alone = checked_windows(simulation.actions, WindowSpec(), recorded)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    side_by_side = checked_windows(simulation.actions, WindowSpec(), recorded)
    assert len(alone.frame) > 1_000 and alone.problems == side_by_side.problems
    assert not any(alone.problems.values())
    for name in alone.frame.columns:  # bit for bit, not within a tolerance
        np.testing.assert_array_equal(alone.frame[name].to_numpy(), side_by_side.frame[name].to_numpy())


@pytest.mark.slow
@pytest.mark.parametrize("horizon_seconds", [10.0, 30.0])  # 30 s: ages binned past the state rule
def test_a_window_batched_alone_gets_the_bits_it_gets_among_many(horizon_seconds: float, monkeypatch):
    """Days written part by part end many batches with a few windows, some with one."""
    seed, day = 42, WINDOW[-1]
    simulation, users, interactions = simulated_day(seed, day)
    recorded = recorded_day(BehaviourSettings(), seed, draw_traits(seed, users), interactions, day)
    spec = WindowSpec(window_ms=60_000, step_ms=5_000, horizon_ms=round(horizon_seconds * 1000), min_actions=3)
    arrays = windows_module.session_arrays(simulation.actions)
    windows = windows_module.compute_windows(arrays, spec)
    many = windows_module.windows_oracle(arrays, windows, recorded, spec)
    some = np.arange(0, len(windows.label), 7)  # a sample, each window in a batch of its own
    sample = windows_module.Windows(*(values[..., some] for values in dataclasses.astuple(windows)))
    monkeypatch.setattr(oracle_module, "ORACLE_CHUNK", 1)
    alone = windows_module.windows_oracle(arrays, sample, recorded, spec)
    assert len(many) > 1_000 and len(alone) > 500
    np.testing.assert_array_equal(alone, many[some])  # bit for bit
