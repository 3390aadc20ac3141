"""session_actions core: the sessions of the interactions, seed 001's rules, and an exact oracle."""

import io
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from poppy_pipeline.behaviour.features import FEATURE_NAMES, WindowSpec
from poppy_pipeline.behaviour.model import (
    ACTION_COLUMNS,
    ACTIONS,
    BLUR,
    CLICK_AD,
    CLOSE,
    CLOSED,
    FOCUS,
    MODE_AFTER,
    SCROLL_DOWN,
    SCROLL_UP,
    STATE_RULE_TICKS,
    TICK_MS,
    BehaviourSettings,
    log_receptiveness,
)
from poppy_pipeline.behaviour.oracle import RecordedDay, oracle_probabilities
from poppy_pipeline.behaviour.session_measures import session_shape_problems
from poppy_pipeline.behaviour.sessions import SessionSimulation, simulate_sessions
from poppy_pipeline.behaviour.windows import simulated_windows
from poppy_pipeline.common import tables
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.profiles import PROFILE_NAMES
from poppy_pipeline.simulation.setting_declarations import SettingsError
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW, make_model

BEHAVIOUR = BehaviourSettings()
# Twenty times the default population and traffic: a user split whose AUC moves by about ±0.015.
LARGE = SimulationSettings(num_users=2_000, interactions_per_day=20 * 10_000 / 30)


def simulate_world(settings: SimulationSettings, days: list[date]):
    model, _objects, users = make_model(settings)
    interactions, simulations, windows = [], [], []
    for day in days:
        day_interactions = simulate_day(model, day)
        simulation = simulate_sessions(BEHAVIOUR, settings.seed, users, day_interactions, day)
        interactions.append(day_interactions)
        simulations.append(simulation)
        windows.append(simulated_windows(simulation))
    profiles = users.set_index("User_ID")["Profile"]
    frame = pd.concat(windows, ignore_index=True)
    return pd.concat(interactions, ignore_index=True), simulations, frame.assign(Profile=frame["User_ID"].map(profiles))


@pytest.fixture(scope="module")
def default_world():
    """The defaults of `make run`: 100 users, 30 days."""
    return simulate_world(SimulationSettings(), WINDOW)


@pytest.fixture(scope="module")
def large_world():
    # Four days: with 78% of the users signed up by then, they make 78% of the full traffic.
    return simulate_world(LARGE, WINDOW[-4:])


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    tables.write_csv(frame, buffer)
    return buffer.getvalue()


def day_actions(seed: int, day: date) -> bytes:
    settings = SimulationSettings(seed=seed)
    model, _objects, users = make_model(settings)
    return csv_bytes(simulate_sessions(BEHAVIOUR, seed, users, simulate_day(model, day), day).actions)


def test_same_seed_and_day_give_identical_bytes_and_others_differ():
    day = WINDOW[-1]
    first = day_actions(42, day)
    assert first == day_actions(42, day)
    assert first != day_actions(42, WINDOW[-2])
    assert first != day_actions(43, day)
    assert first.splitlines()[0].decode() == ",".join(ACTION_COLUMNS)


def test_sessions_are_those_of_the_interactions_and_contain_them(default_world):
    interactions, simulations, _windows = default_world
    actions = pd.concat([s.actions for s in simulations], ignore_index=True)
    assert actions.columns.tolist() == ACTION_COLUMNS
    assert set(actions["Action"].astype(str)) == set(ACTIONS)
    sessions = actions.groupby("Session_ID").agg(
        user=("User_ID", "first"), users=("User_ID", "nunique"), start=("Timestamp", "min"), end=("Timestamp", "max")
    )
    expected = interactions.groupby("Session_ID").agg(user=("User_ID", "first"), first=("Timestamp", "min"))
    assert sessions.index.equals(expected.index)
    assert (sessions["user"] == expected["user"]).all() and (sessions["users"] == 1).all()
    joined = interactions.join(sessions, on="Session_ID")
    assert (joined["start"] <= joined["Timestamp"]).all() and (joined["Timestamp"] <= joined["end"]).all()
    length = (sessions["end"] - sessions["start"]).dt.total_seconds()
    assert length.between(10, 300).all()
    assert (sessions["start"].dt.date == sessions["end"].dt.date).all()
    assert (sessions["start"].dt.date == expected["first"].dt.date).all()


def test_sessions_open_with_focus_end_with_their_only_close_and_have_milliseconds(default_world):
    _interactions, simulations, _windows = default_world
    actions = pd.concat([s.actions for s in simulations], ignore_index=True).sort_values(
        ["Session_ID", "Timestamp"], kind="stable"
    )
    grouped = actions.groupby("Session_ID")["Action"]
    assert (grouped.first() == "focus_window").all() and (grouped.last() == "close_tab").all()
    assert ((actions["Action"] == "close_tab").groupby(actions["Session_ID"]).sum() == 1).all()
    stamps = actions["Timestamp"].to_numpy().astype("datetime64[ms]").astype(np.int64)
    same_session = actions["Session_ID"].to_numpy()[1:] == actions["Session_ID"].to_numpy()[:-1]
    assert (np.diff(stamps)[same_session] > 0).all()  # one action per tick: strictly increasing
    assert (stamps % 1000 != 0).mean() > 0.9  # millisecond precision, not whole seconds
    scrolls = actions["Action"].isin(["scroll_down", "scroll_up"])
    assert (actions.loc[scrolls, "Scroll_Amount"] > 0).all() and (actions.loc[~scrolls, "Scroll_Amount"] == 0).all()


def test_state_rule_in_the_outcome_table():
    _model, _objects, users = make_model(SimulationSettings())
    simulation = simulate_sessions(BEHAVIOUR, 42, users, simulate_day(_model, WINDOW[-1]), WINDOW[-1])
    table = simulation.model.actions[:, :CLOSED, :, 1, 1:]  # (user, open mode, stale, action)
    rule = np.ones(len(ACTIONS))
    rule[[BLUR, CLOSE, SCROLL_DOWN, SCROLL_UP]] = (2, 3, 0.5, 0.5)
    fresh, stale = table[:, :, 0], table[:, :, 1]
    reweighted = fresh * rule
    expected = reweighted / reweighted.sum(axis=-1, keepdims=True) * fresh.sum(axis=-1, keepdims=True)
    assert np.allclose(stale, expected, rtol=1e-12, atol=0)
    assert (simulation.model.actions[..., 1 + CLICK_AD] == 0).all()  # ad clicks have their own hazard


def test_state_rule_in_the_generated_stream(default_world):
    """Actions after more than 10 s without one follow the rule: blur ×2, close ×3, scrolling ×0.5."""
    _interactions, simulations, _windows = default_world
    observed, predicted, without_rule = np.zeros(len(ACTIONS)), np.zeros(len(ACTIONS)), np.zeros(len(ACTIONS))
    rule = np.ones(len(ACTIONS))
    rule[[BLUR, CLOSE, SCROLL_DOWN, SCROLL_UP]] = (2, 3, 0.5, 0.5)
    for simulation in simulations:
        stale = _stale_draws(simulation)
        fresh_rows = simulation.model.actions[stale["user"], stale["mode"], 0, stale["allowed"], 1:]
        fresh_rows = fresh_rows / fresh_rows.sum(axis=1, keepdims=True)
        ruled = fresh_rows * rule
        predicted += (ruled / ruled.sum(axis=1, keepdims=True)).sum(axis=0)
        without_rule += fresh_rows.sum(axis=0)
        observed += np.bincount(stale["code"], minlength=len(ACTIONS))
    for code in (BLUR, CLOSE, SCROLL_DOWN):
        assert abs(observed[code] - predicted[code]) <= 4 * np.sqrt(predicted[code]), ACTIONS[code]
    # ... and measurably not the weights without the rule (blur doubles, scrolling halves).
    assert observed[BLUR] - without_rule[BLUR] > 4 * np.sqrt(without_rule[BLUR])
    assert without_rule[SCROLL_DOWN] - observed[SCROLL_DOWN] > 4 * np.sqrt(without_rule[SCROLL_DOWN])


def _stale_draws(simulation: SessionSimulation) -> dict[str, np.ndarray]:
    """The drawn (non-ad, non-forced) actions that came more than 10 s after the previous one."""
    session, tick, code = simulation.action_session, simulation.action_tick, simulation.action_code
    plan = simulation.plan
    previous = np.r_[-1, np.arange(len(code) - 1)]
    drawn = (tick >= 0) & (tick < plan.end_ticks[session] - 1) & (code != CLICK_AD)
    idle = tick - tick[previous] - 1
    chosen = np.flatnonzero(drawn & (idle >= STATE_RULE_TICKS))
    return {
        "user": plan.user_rows[session[chosen]],
        "mode": MODE_AFTER[code[previous[chosen]]],
        "allowed": (tick[chosen] >= plan.close_from_ticks[session[chosen]]).astype(np.int64),
        "code": code[chosen],
    }


def monte_carlo(simulation: SessionSimulation, session: int, end_tick: int, horizon_ticks: int, runs: int) -> float:
    """P(click_ad in the horizon) by simulating the continuation from the state at the end, many times."""
    rng = np.random.default_rng(session * 7919 + end_tick)
    plan, model = simulation.plan, simulation.model
    mine = np.flatnonzero((simulation.action_session == session) & (simulation.action_tick < end_tick))
    last = mine[-1]
    user = plan.user_rows[session]
    mode = np.full(runs, MODE_AFTER[simulation.action_code[last]])
    idle = np.full(runs, end_tick - 1 - simulation.action_tick[last])
    clicked = np.zeros(runs, dtype=bool)
    for tick in range(end_tick, min(end_tick + horizon_ticks, plan.end_ticks[session] - 1)):
        running = ~clicked & (mode != CLOSED)
        ad = running & (rng.random(runs) < model.ad_click_probability(user, mode, tick))
        clicked |= ad
        running &= ~ad
        cells = model.actions[
            user, mode, (idle >= STATE_RULE_TICKS).astype(int), int(tick >= plan.close_from_ticks[session])
        ]
        outcome = (np.cumsum(cells, axis=1)[:, :-1] <= rng.random(runs)[:, None]).sum(axis=1)
        acted = running & (outcome > 0)
        mode = np.where(acted, MODE_AFTER[np.maximum(outcome - 1, 0)], mode)
        idle = np.where(acted, 0, idle + 1)
    return float(clicked.mean())


@pytest.mark.slow
@pytest.mark.parametrize("horizon_ms", [10_000, 15_000])
def test_oracle_equals_a_monte_carlo_of_the_generator(default_world, horizon_ms: int):
    _interactions, simulations, _windows = default_world
    simulation = simulations[-1]
    day_windows = simulated_windows(simulation, WindowSpec(horizon_ms=horizon_ms))
    # Windows of every kind: likely and unlikely clicks, idle and away states, late in sessions.
    ranked = day_windows.sort_values(["Oracle_Probability", "time_since_last_action"])
    picks = ranked.iloc[np.linspace(0, len(ranked) - 1, 24).astype(int)]
    sessions = np.searchsorted(simulation.plan.session_ids, picks["Session_ID"].to_numpy())
    exact = picks["Oracle_Probability"].to_numpy(float)
    runs = 20_000
    for session, end, probability in zip(sessions, picks["Window_End"], exact, strict=True):
        offset_ms = (end - pd.Timestamp(simulation.day)) // pd.Timedelta(milliseconds=1)
        end_tick = (offset_ms - simulation.plan.start_ms[session]) // TICK_MS
        estimate = monte_carlo(simulation, session, end_tick, horizon_ms // TICK_MS, runs)
        error = 4.5 * np.sqrt(max(probability * (1 - probability), 1 / runs) / runs)
        assert abs(estimate - probability) <= error, (session, end, estimate, probability)
    assert (exact > 0.2).any() and (exact < 0.01).any()


def test_oracle_is_calibrated_against_the_labels(default_world):
    _interactions, _simulations, windows = default_world
    oracle, label = windows["Oracle_Probability"].to_numpy(float), windows["Label"].to_numpy()
    decile = np.minimum((pd.Series(oracle).rank(method="first").to_numpy() - 1) * 10 // len(oracle), 9)
    for group in range(10):
        inside = decile == group
        expected = oracle[inside].sum()
        spread = np.sqrt((oracle[inside] * (1 - oracle[inside])).sum())
        assert abs(label[inside].sum() - expected) <= 4 * spread + 2, group


def test_positive_share_and_oracle_auc_at_the_defaults(default_world):
    _interactions, _simulations, windows = default_world
    assert 0.04 <= windows["Label"].mean() <= 0.08
    assert roc_auc_score(windows["Label"], windows["Oracle_Probability"]) >= 0.85
    assert set(windows["Profile"]) == set(PROFILE_NAMES)
    assert np.isfinite(windows[list(FEATURE_NAMES)].to_numpy()).all()


def test_logistic_regression_on_the_features_split_by_user_beats_075(large_world):
    _interactions, _simulations, windows = large_world
    users = np.random.default_rng(0).permutation(windows["User_ID"].unique())
    held_out = windows["User_ID"].isin(users[: len(users) // 3]).to_numpy()
    features, label = windows[list(FEATURE_NAMES)].to_numpy(), windows["Label"].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2_000))
    model.fit(features[~held_out], label[~held_out])
    learned = roc_auc_score(label[held_out], model.predict_proba(features[held_out])[:, 1])
    ceiling = roc_auc_score(label[held_out], windows["Oracle_Probability"].to_numpy()[held_out])
    assert len(windows) > 100_000 and label[held_out].sum() > 2_000
    assert learned > 0.75
    assert learned < ceiling  # the oracle knows the latent state: no model of the features beats it


def test_scroll_step_reveals_the_users_ad_receptiveness(default_world):
    """Careful readers (receptive to ads) scroll in small steps: the step ranks the users' receptiveness."""
    _interactions, simulations, _windows = default_world
    actions = pd.concat([s.actions for s in simulations], ignore_index=True)
    scrolls = actions[actions["Action"].isin(["scroll_down", "scroll_up"])]
    median_step = scrolls.groupby("User_ID")["Scroll_Amount"].median()
    model = simulations[0].model
    receptiveness = pd.Series(log_receptiveness(BEHAVIOUR, model.traits), index=model.traits.user_ids)
    rank_correlation = median_step.corr(receptiveness.reindex(median_step.index), method="spearman")
    assert rank_correlation < -0.95
    assert BEHAVIOUR.scroll_px_min * 0.8 <= median_step.min() and median_step.max() <= BEHAVIOUR.scroll_px_max * 1.2


def test_window_ends_off_the_tick_grid_are_refused(default_world):
    _interactions, simulations, windows = default_world
    row = windows[windows["Window_End"].dt.date == simulations[0].day].iloc[:1]
    session = row["Session_ID"].to_numpy()
    end_ms = row["Window_End"].to_numpy().astype("datetime64[ms]").astype(np.int64)
    last_ms = end_ms - np.rint(row["time_since_last_action"].to_numpy() * 1000).astype(np.int64)
    recorded, scroll = RecordedDay.of(simulations[0]), np.array([SCROLL_DOWN])
    assert oracle_probabilities(recorded, session, end_ms, last_ms, scroll, 10_000)[0] >= 0
    with pytest.raises(ValueError, match="grid"):
        oracle_probabilities(recorded, session, end_ms + 1, last_ms, scroll, 10_000)
    with pytest.raises(ValueError, match="horizon"):
        oracle_probabilities(recorded, session, end_ms, last_ms, scroll, 10_100)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"ad_click_base_rate": -0.1}, "ad_click_base_rate"),
        ({"action_rate_min": 0.0}, "action_rate_min"),
        ({"pause_sec_max": 1.0}, "pause_sec_max"),
        ({"ad_warmup_sec": float("nan")}, "ad_warmup_sec"),
    ],
)
def test_invalid_behaviour_setting_is_named(changes, named):
    with pytest.raises(SettingsError, match=rf"simulation\.{named}"):
        BehaviourSettings(**changes)


def test_spec_of_the_default_windows():
    assert WindowSpec() == WindowSpec.from_seconds(120, 10, 10, 5)
    assert ACTIONS.index("focus_window") == FOCUS


def test_each_action_lies_in_its_tick(default_world):
    """The convention the oracle relies on: tick k's action is in (start + k·250 ms, start + (k+1)·250 ms]."""
    _interactions, simulations, _windows = default_world
    for simulation in simulations[:3]:
        ordered = simulation.actions.sort_values(["Session_ID", "Timestamp"], kind="stable")
        offset = (ordered["Timestamp"] - pd.Timestamp(simulation.day)) // pd.Timedelta(milliseconds=1)
        since_start = offset.to_numpy() - simulation.plan.start_ms[simulation.action_session]
        tick = simulation.action_tick
        assert ((since_start > tick * TICK_MS) & (since_start <= (tick + 1) * TICK_MS)).all()


def test_a_day_without_interactions_has_no_actions():
    model, _objects, users = make_model(SimulationSettings())
    empty = simulate_day(model, WINDOW[-1]).iloc[0:0]
    simulation = simulate_sessions(BEHAVIOUR, 42, users, empty, WINDOW[-1])
    assert simulation.actions.empty and simulation.actions.columns.tolist() == ACTION_COLUMNS
    assert simulated_windows(simulation).empty


def test_session_shape_problems_counts_each_broken_rule():
    day = "2026-11-21 10:00:"
    rows = [  # (session, second, action), in no particular order; ties keep file order
        (1, 0, "focus_window"), (1, 30, "close_tab"), (1, 5, "scroll_down"),  # fine
        (2, 0, "scroll_down"), (2, 0, "focus_window"), (2, 40, "close_tab"),  # opens with a scroll (tie)
        (3, 0, "focus_window"), (3, 20, "close_tab"), (3, 20, "hover"),  # ends with a hover (tie)
        (4, 0, "focus_window"), (4, 5, "close_tab"),  # 5 s long
        (5, 0, "focus_window"), (5, 15, "close_tab"), (5, 25, "close_tab"),  # two closes
    ]  # fmt: skip
    actions = pd.DataFrame(
        {
            "Session_ID": [r[0] for r in rows],
            "Timestamp": pd.to_datetime([f"{day}{r[1]:02d}" for r in rows]),
            "Action": [r[2] for r in rows],
        }
    )
    assert session_shape_problems(actions) == {
        "length_outside_10_300_s": 1,
        "not_opened_by_focus_window": 1,
        "not_ended_by_close_tab": 1,
        "several_close_tabs": 1,
    }
