"""session_actions and sliding_window_features through `dagster.materialize`, into a temporary data folder."""

import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour.features import WINDOW_COLUMNS
from poppy_pipeline.behaviour.model import ACTION_COLUMNS, BehaviourSettings
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.behaviour.window_targets import positive_share, profiles_present
from poppy_pipeline.common import tables
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline.defs.celestial_objects import celestial_objects
from poppy_pipeline.defs.click_model import click_model
from poppy_pipeline.defs.session_actions import ACTION_CHECKS, session_actions
from poppy_pipeline.defs.simulated_interactions import simulated_interactions
from poppy_pipeline.defs.sliding_window_features import DAY_CHECKS, sliding_window_features
from poppy_pipeline.defs.users import users
from poppy_pipeline_tests.conftest import WINDOW

BEHAVIOUR = [session_actions, sliding_window_features]
ALL = [celestial_objects, users, simulated_interactions, *BEHAVIOUR]
DAYS = WINDOW[-7:]
RANGE = {"dagster/asset_partition_range_start": str(DAYS[0]), "dagster/asset_partition_range_end": str(DAYS[-1])}
IN_ASSET_CHECKS = {"quarantine_share", "features_finite", "windows_within_sessions"}


def materialize(assets, action_source: ActionSourceResource | None = None, **kwargs) -> dg.ExecuteInProcessResult:
    resources = {**defs.resources, "action_source": action_source or ActionSourceResource(path=None)}
    return dg.materialize(assets, resources=resources, **kwargs)


def checks_of(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def materialized_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.ExecuteInProcessResult, Path]:
    """One run for the module; each test gets its own copy of the files."""
    folder = tmp_path_factory.mktemp("week") / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POPPY_DATA_DIR", str(folder))
        patch.setenv("POPPY_OBJECTS_DIR", str(folder.parent / "no_objects"))
        result = materialize(ALL, tags=RANGE)
    assert result.success
    return result, folder


@pytest.fixture
def week_run(materialized_week, data_dir: Path) -> dg.ExecuteInProcessResult:
    result, folder = materialized_week
    shutil.copytree(folder, data_dir)
    return result


def read_days(data_dir: Path, asset: str) -> pd.DataFrame:
    return pd.concat([tables.read_csv(data_dir / asset / f"{day}.csv") for day in DAYS], ignore_index=True)


def test_a_week_in_one_run_with_every_check_passing(week_run, data_dir: Path):
    written = {
        asset: sorted(p.name for p in (data_dir / asset).iterdir())
        for asset in ("session_actions", "sliding_window_features")
    }
    assert written["session_actions"] == [f"{day}.csv" for day in DAYS]
    # Each day of windows with the settings it was made with beside it.
    assert written["sliding_window_features"] == sorted(
        name for day in DAYS for name in (f"{day}.csv", f"{day}.csv.attrs.json")
    )
    # Every check is about a day: one passed result per check and day.
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name, e.partition): e
        for e in week_run.get_asset_check_evaluations()
        if e.asset_key.path[0] in ("session_actions", "sliding_window_features")
    }
    names = {"session_actions": [*ACTION_CHECKS, "quarantine_share"]}
    names["sliding_window_features"] = [spec.name for spec in DAY_CHECKS]
    expected = {(asset, name, str(day)) for asset, checks in names.items() for name in checks for day in DAYS}
    assert set(evaluations) == expected
    assert not {key: e.metadata for key, e in evaluations.items() if not e.passed}
    actions, windows = read_days(data_dir, "session_actions"), read_days(data_dir, "sliding_window_features")
    assert actions.columns.tolist() == ACTION_COLUMNS and windows.columns.tolist() == WINDOW_COLUMNS
    interactions = read_days(data_dir, "simulated_interactions")
    assert set(actions["Session_ID"]) == set(interactions["Session_ID"])
    assert windows["Oracle_Probability"].between(0, 1).all()
    assert 0.03 <= windows["Label"].mean() <= 0.09  # a week at the defaults: seed 001's ~6%


def test_materializations_carry_the_figures(week_run):
    features = week_run.asset_materializations_for_node("sliding_window_features")
    assert len(features) == len(DAYS)
    metadata = features[0].metadata
    assert metadata["oracle_auc"].value > 0.8
    assert metadata["positive_share"].value == pytest.approx(metadata["mean_oracle_probability"].value, abs=0.02)
    assert (metadata["window_seconds"].value, metadata["step_seconds"].value) == (120.0, 10.0)
    assert "careful_reader" in metadata["by_profile"].value
    actions = week_run.asset_materializations_for_node("session_actions")[0].metadata
    assert actions["source"].value == "simulation" and actions["actions"].value > 10_000


def test_rerun_and_a_day_alone_give_identical_files(week_run, data_dir: Path, tmp_path: Path, monkeypatch):
    files = [
        data_dir / asset / f"{day}.csv" for asset in ("session_actions", "sliding_window_features") for day in DAYS
    ]
    before = {f: f.read_bytes() for f in files}
    assert materialize(ALL, tags=RANGE).success
    assert before == {f: f.read_bytes() for f in files}
    monkeypatch.setenv("POPPY_DATA_DIR", str(tmp_path / "alone"))
    day = str(DAYS[3])
    assert materialize(ALL, partition_key=day).success
    for asset in ("session_actions", "sliding_window_features"):
        alone = (tmp_path / "alone" / asset / f"{day}.csv").read_bytes()
        assert alone == (data_dir / asset / f"{day}.csv").read_bytes()


def test_window_config_and_its_validation(week_run, data_dir: Path):
    config = {"ops": {"sliding_window_features": {"config": {"horizon_seconds": 20.0, "min_actions": 8}}}}
    selection = dg.AssetSelection.assets(sliding_window_features)
    before = read_days(data_dir, "sliding_window_features")
    assert materialize(ALL, tags=RANGE, selection=selection, run_config=config).success
    after = read_days(data_dir, "sliding_window_features")
    assert (after["interaction_density"] * 120 >= 8 - 1e-9).all() and len(after) < len(before)
    assert after["Label"].mean() > before["Label"].mean()  # twice the horizon, more clicks in it
    assert after["Oracle_Probability"].mean() > before["Oracle_Probability"].mean()
    bad = {"ops": {"sliding_window_features": {"config": {"step_seconds": 10.1}}}}
    with pytest.raises(Exception, match=r"sliding_window_features\.step_seconds"):
        materialize(ALL, tags=RANGE, selection=selection, run_config=bad)


def test_actions_of_another_seed_are_refused(week_run):
    other = {
        **defs.resources,
        "simulation": SimulationResource(seed=7),
        "action_source": ActionSourceResource(path=None),
    }
    selection = dg.AssetSelection.assets(sliding_window_features)
    with pytest.raises(Exception, match="materialize session_actions again"):
        dg.materialize(ALL, resources=other, tags=RANGE, selection=selection)


def test_behaviour_settings_come_from_the_simulation_resource(data_dir: Path):
    assert SimulationResource().behaviour() == BehaviourSettings()
    assert SimulationResource().settings() is not None  # the appended fields stay out of settings()
    config = {"resources": {"simulation": {"config": {"ad_click_base_rate": -1.0}}}}
    with pytest.raises(Exception, match=r"simulation\.ad_click_base_rate"):
        materialize(ALL, partition_key=str(DAYS[0]), run_config=config)


def test_a_share_of_sessions_gets_actions_and_every_check_still_passes(week_run, data_dir: Path):
    """action_session_share thins the behaviour branch; the integrity check expects just those sessions."""
    days = {"dagster/asset_partition_range_start": str(DAYS[0]), "dagster/asset_partition_range_end": str(DAYS[1])}
    config = {"resources": {"simulation": {"config": {"action_session_share": 0.4}}}}
    result = materialize(ALL, selection=BEHAVIOUR, tags=days, run_config=config)
    assert result.success
    assert all(e.passed for e in checks_of(result).values()), {k: e.metadata for k, e in checks_of(result).items()}
    kept, every = (
        pd.concat([tables.read_csv(data_dir / asset / f"{day}.csv") for day in DAYS[:2]])["Session_ID"].unique()
        for asset in ("session_actions", "simulated_interactions")
    )
    assert set(kept) < set(every)
    assert 0.3 < len(kept) / len(every) < 0.5
    bad = {"resources": {"simulation": {"config": {"action_session_share": 0.0}}}}
    with pytest.raises(Exception, match=r"action_session_share"):
        materialize(ALL, selection=BEHAVIOUR, tags=days, run_config=bad)


def test_broken_actions_fail_the_step_before_writing_and_block_the_features(
    week_run, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """The checks measure the days in hand; a broken day (a generator bug) is never written."""
    day_file = data_dir / "session_actions" / f"{DAYS[-1]}.csv"
    good = day_file.read_bytes()

    def broken_sessions(*args):
        simulation = simulate_sessions(*args)
        simulation.actions.loc[5, "User_ID"] = 99_999  # a session with two users
        return simulation

    monkeypatch.setattr("poppy_pipeline.defs.session_actions.simulate_sessions", broken_sessions)
    result = materialize(ALL, tags=RANGE, raise_on_error=False)
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "session_actions"
    assert "'sessions_with_several_users': 7" in failure.step_failure_data.error.message  # one per day
    assert day_file.read_bytes() == good
    assert not result.asset_materializations_for_node("sliding_window_features")


def write_log(path: Path, rows: list[str]) -> Path:
    path.write_text("Session_ID,User_ID,Timestamp,Action,Scroll_Amount\n" + "\n".join(rows) + "\n")
    return path


def test_a_real_action_log_replaces_the_simulation(week_run, data_dir: Path, tmp_path: Path):
    day = DAYS[-1]
    rows = [
        f"s1,u1,{day}T10:00:{second:02d}.{second * 37 % 1000:03d}Z,scroll_down,{100 + second}" for second in range(40)
    ]
    rows += [f"s1,u1,{day}T10:00:41.500,click_ad,", f"s1,u1,{day}T10:00:45,close_tab,"]
    rows += [f"s2,u2,{day}T11:00:00,teleport,", "s2,u2,yesterday-ish,click,"]  # quarantined
    log = write_log(tmp_path / "actions.csv", rows)
    source = ActionSourceResource(path=str(log), max_quarantine_share=0.1)
    result = materialize(ALL, action_source=source, partition_key=str(day))
    assert result.success
    evaluations = checks_of(result)
    assert evaluations[("session_actions", "quarantine_share")].passed
    assert evaluations[("session_actions", "session_shape")].description.startswith("Not applicable")
    assert evaluations[("sliding_window_features", "windows_within_sessions")].passed
    rejected = tables.read_csv(data_dir / "quarantine" / "session_actions" / "actions.csv")
    assert rejected["reason"].tolist() == [
        "line 44: Action 'teleport' is not one of scroll_down, scroll_up, click, hover, wait, focus_window,"
        " blur_window, close_tab, click_ad",
        "line 45: Timestamp 'yesterday-ish' is not an ISO 8601 date-time",
    ]
    windows = tables.read_csv(data_dir / "sliding_window_features" / f"{day}.csv")
    assert len(windows) == 4 and windows["Oracle_Probability"].isna().all()
    assert windows["Label"].tolist() == [0, 0, 0, 1]  # the ad click at 41.5 s follows the end at 40 s
    strict = ActionSourceResource(path=str(log), max_quarantine_share=0.01)
    failed = materialize(ALL, action_source=strict, partition_key=str(day), raise_on_error=False)
    assert checks_of(failed)[("session_actions", "quarantine_share")].passed is False


def test_a_missing_action_log_fails_naming_it(week_run, tmp_path: Path):
    missing = ActionSourceResource(path=str(tmp_path / "nowhere.csv"))
    with pytest.raises(Exception, match=r"nowhere\.csv"):
        materialize(ALL, action_source=missing, partition_key=str(DAYS[0]))


def test_every_asset_is_daily_and_single_run():
    for asset in (session_actions, sliding_window_features):
        assert asset.partitions_def == simulated_interactions.partitions_def
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()
    assert np.isin(["behaviour"], [session_actions.group_names_by_key[k] for k in session_actions.keys]).all()


def test_a_real_interaction_log_skips_the_behaviour_branch_quietly(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """`make run` on a real interaction log without actions: the branch is skipped, not failed, and
    without Dagster's line per skipped blocking check and downstream step."""
    day = DAYS[-1]
    log = tmp_path / "interactions.csv"
    log.write_text(
        "Interaction_ID,User_ID,Object_Type,Object_ID,Interaction_Type,Interaction_Rating,Timestamp\n"
        + "".join(f"{i},{i % 3 + 1},Star,{i},View,,{day} 10:00:{i:02d}\n" for i in range(1, 20))
    )
    resources = {
        **defs.resources,
        "interaction_source": InteractionSourceResource(path=str(log), format="poppy"),
        "action_source": ActionSourceResource(path=None),
    }
    result = dg.materialize([*ALL, click_model], resources=resources, partition_key=str(day))
    assert result.success
    assert result.asset_materializations_for_node("simulated_interactions")
    assert not result.asset_materializations_for_node("session_actions")
    assert not result.asset_materializations_for_node("sliding_window_features")
    assert not (data_dir / "session_actions").exists()
    skipped = [e for e in result.all_events if e.event_type_value == "STEP_SKIPPED"]
    assert {e.step_key for e in skipped} >= {"sliding_window_features", "click_model"}
    assert "emitted no result" not in caplog.text
    checks = [e for e in result.get_asset_check_evaluations() if e.asset_key.path == ["session_actions"]]
    assert {e.partition for e in checks} == {str(day)} and all(
        e.description.startswith("Not applicable") for e in checks
    )


@pytest.mark.parametrize(
    ("users", "share", "passed"),
    [(1_000, 0.06, True), (1_000, 0.035, False), (1_000, 0.085, False), (1_000, 0.20, False), (3, 0.10, True)],
)
def test_positive_share_fails_only_when_its_interval_over_users_misses_the_band(users: int, share: float, passed: bool):
    """Users' shares spread around `share` (0.5× to 1.5×), 100 windows each: a thousand users pin the
    share down, three cannot tell 10% from 8%."""
    user_shares = share * np.linspace(0.5, 1.5, users)
    positives = np.rint(user_shares * 100).astype(int)
    labels = np.concatenate([np.r_[np.ones(p), np.zeros(100 - p)] for p in positives])
    windows = pd.DataFrame({"User_ID": np.repeat(np.arange(users), 100), "Label": labels})
    result = positive_share(windows)
    assert result.passed is passed
    low, high = result.details["interval"]
    assert low <= result.value <= high
    assert "1000 bootstrap resamples" in result.details["interval_method"]


def test_profiles_present_names_the_missing_ones():
    people = pd.DataFrame({"User_ID": [1, 2], "Profile": ["rushed_reader", "click_happy"]})
    result = profiles_present(pd.DataFrame({"User_ID": [2, 2]}), people)
    assert not result.passed and result.details["missing"] == ["rushed_reader"]
    assert result.value == 1.0
