"""Seed 001's targets and `session_actions`' summary, added up day by day, equal what the whole
window gives at once (`target_reference.py`: the measures as they were before issue 14)."""

import dataclasses
import io
import random

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour import window_targets
from poppy_pipeline.behaviour.model import ACTIONS, BehaviourSettings, draw_traits
from poppy_pipeline.behaviour.oracle import ranking_auc, recorded_day
from poppy_pipeline.behaviour.session_measures import ActionTotals
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.behaviour.window_targets import WindowSummary, WindowTargets
from poppy_pipeline.behaviour.windows import recorded_windows
from poppy_pipeline.common import tables, user_bootstrap
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW, make_model
from poppy_pipeline_tests.support import target_reference as reference


def simulated_days(seed: int, days: int) -> tuple[list[pd.DataFrame], list[pd.DataFrame], pd.DataFrame]:
    """Each day's actions and windows, with the oracle."""
    model, _objects, users = make_model(SimulationSettings(seed=seed))
    behaviour, traits = BehaviourSettings(), draw_traits(seed, users)
    actions, windows = [], []
    for day in WINDOW[-days:]:
        interactions = simulate_day(model, day)
        made = simulate_sessions(behaviour, seed, users, interactions, day).actions
        actions.append(made)
        windows.append(recorded_windows(made, recorded_day(behaviour, seed, traits, interactions, day)))
    return actions, windows, users


@pytest.fixture(scope="module", params=[1, 2, 3])
def days(request):
    return simulated_days(request.param, 8)


def by_day(windows: list[pd.DataFrame]) -> WindowTargets:
    targets = WindowTargets()
    for day in windows:
        targets.add_day(day)
    return targets


def concatenated(frames: list[pd.DataFrame]) -> pd.DataFrame:
    kept = [frame for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else frames[0]


def assert_targets_equal(windows: list[pd.DataFrame], users: pd.DataFrame) -> None:
    window = concatenated(windows)
    expected = [reference.positive_share(window), reference.profiles_present(window, users)]
    shuffled = list(windows)
    random.Random(3).shuffle(shuffled)
    for targets in (by_day(windows), by_day(shuffled)):
        got = [targets.positive_share(), targets.profiles_present(users)]
        assert [dataclasses.asdict(g) for g in got] == [dataclasses.asdict(e) for e in expected]
    one_frame = [window_targets.positive_share(window), window_targets.profiles_present(window, users)]
    assert [dataclasses.asdict(g) for g in one_frame] == [dataclasses.asdict(e) for e in expected]


def test_targets_add_up_day_by_day(days):
    _, windows, users = days
    assert_targets_equal(windows, users)


def test_empty_days_and_an_empty_window(days):
    _, windows, users = days
    empty = windows[0].iloc[:0]
    assert_targets_equal([empty, *windows[:3], empty, *windows[3:]], users)
    assert_targets_equal([empty], users)


def test_missing_profiles_and_windows_read_back(days):
    _, windows, users = days
    read = [tables.read_csv(io.BytesIO(day.to_csv(index=False).encode())) for day in windows]
    some = [day[day["User_ID"] % 3 > 0] for day in read]  # a third of the users have no window
    assert_targets_equal(some, users)


def test_many_users_are_grouped_the_same_way(days, monkeypatch: pytest.MonkeyPatch):
    _, windows, users = days
    monkeypatch.setattr(user_bootstrap, "MAX_GROUPS", 7)
    assert_targets_equal(windows, users)
    assert by_day(windows).positive_share().details["interval"] != []


def test_the_interval_of_user_counts_is_the_interval_of_the_windows():
    rng = np.random.default_rng(7)
    user_ids = rng.choice(np.array(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]), size=5_000)
    labels = (rng.random(5_000) < 0.07).astype(float)
    assert user_bootstrap.positive_share_interval(labels, user_ids) == reference.positive_share_interval(
        labels, user_ids
    )
    empty = np.array([])  # NaN share and bounds: compared as text
    assert repr(user_bootstrap.positive_share_interval(empty, empty)) == repr(
        reference.positive_share_interval(empty, empty)
    )


def session_summary_at_once(actions: pd.DataFrame) -> dict:
    """What `session_actions` put in its metadata from the concatenated window."""
    mix = actions["Action"].astype(str).value_counts(normalize=True).reindex(list(ACTIONS), fill_value=0.0)
    return {
        "sessions": int(actions["Session_ID"].nunique()),
        "actions": len(actions),
        "action_mix": {k: round(float(v), 4) for k, v in mix.items()},
    }


def session_summary_by_day(days: list[pd.DataFrame]) -> dict:
    totals = ActionTotals()
    for day in days:
        totals.add_day(day)
    return {"sessions": totals.session_count(), "actions": totals.actions, "action_mix": totals.action_mix()}


def test_session_totals_add_up_day_by_day(days):
    actions, _, _ = days
    read = [tables.read_csv(io.BytesIO(day.to_csv(index=False).encode())) for day in actions]
    spanning = [day.copy() for day in read]
    spanning[2].loc[:40, "Session_ID"] = read[1]["Session_ID"].iloc[-1]  # one session over midnight
    spanning[3].loc[:5, "Session_ID"] = np.nan
    spanning[4].loc[:5, "Action"] = "teleport"  # an unknown action counts in the total
    for window in (actions, read, spanning, [actions[0].iloc[:0], *actions[:2]]):
        assert session_summary_by_day(window) == session_summary_at_once(concatenated(window))


def test_the_session_summary_of_nothing():
    empty = simulated_days(1, 1)[0][0].iloc[:0]
    assert session_summary_by_day([empty]) == session_summary_at_once(empty)
    assert session_summary_by_day([empty])["action_mix"] == dict.fromkeys(ACTIONS, 0.0)


def test_a_day_spanning_session_counts_once():
    first = pd.DataFrame({"Session_ID": [7, 7, 8], "Action": ["focus_window"] * 3})
    second = pd.DataFrame({"Session_ID": [8, 9], "Action": ["close_tab"] * 2})
    assert session_summary_by_day([first, second])["sessions"] == 3


def summary_at_once(windows: pd.DataFrame, users: pd.DataFrame, simulated: bool) -> dict:
    """What `sliding_window_features` put in its metadata from the concatenated window."""
    labels = windows["Label"].to_numpy()
    found = {"windows": len(windows), "positive_share": float(labels.mean()) if len(labels) else 0.0}
    if simulated and len(labels) and 0 < labels.sum() < len(labels):
        oracle = windows["Oracle_Probability"].to_numpy(float)
        found["mean_oracle_probability"] = float(oracle.mean())
        found["oracle_auc"] = ranking_auc(labels, oracle)
        profiles = windows["User_ID"].map(users.set_index("User_ID")["Profile"]).rename("Profile")
        by_profile = windows.groupby(profiles).agg(
            windows=("Label", "size"), positive_share=("Label", "mean"), mean_oracle=("Oracle_Probability", "mean")
        )
        found["by_profile"] = by_profile.round(4).reset_index()
    return found


def summary_by_day(days: list[pd.DataFrame], users: pd.DataFrame, simulated: bool) -> dict:
    summary = WindowSummary(users, simulated)
    for day in days:
        summary.add_day(day)
    return summary.metadata()


def assert_summaries_agree(days: list[pd.DataFrame], users: pd.DataFrame, simulated: bool = True) -> None:
    expected = summary_at_once(concatenated(days), users, simulated)
    got = summary_by_day(days, users, simulated)
    assert got.keys() == expected.keys()
    for name in ("windows", "positive_share", "oracle_auc"):  # counts and ranks: exactly
        assert got.get(name) == expected.get(name), name
    if "by_profile" in expected:
        assert got["mean_oracle_probability"] == pytest.approx(expected["mean_oracle_probability"], rel=1e-12)
        pd.testing.assert_frame_equal(got["by_profile"], expected["by_profile"])


def test_the_windows_summary_adds_up_day_by_day(days):
    _, windows, users = days
    assert_summaries_agree(windows, users)
    assert_summaries_agree(windows[::-1], users)
    assert_summaries_agree(windows, users, simulated=False)
    assert "oracle_auc" in summary_by_day(windows, users, True)


def test_the_summary_with_tied_scores_unknown_users_and_empty_days(days):
    _, windows, users = days
    tied = [day.assign(Oracle_Probability=day["Oracle_Probability"].round(2)) for day in windows]
    tied[1].loc[:20, "User_ID"] = 99_999  # no profile: left out of the table, counted in the totals
    assert_summaries_agree([tied[0].iloc[:0], *tied, tied[0].iloc[:0]], users)
    one_label = [day.assign(Label=0) for day in windows]
    assert_summaries_agree(one_label, users)
    assert "oracle_auc" not in summary_by_day(one_label, users, True)
