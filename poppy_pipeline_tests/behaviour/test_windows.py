"""The vectorised window extractor against a plain per-window reference written from the formulas."""

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour import windows as windows_module
from poppy_pipeline.behaviour.features import FEATURE_NAMES, WINDOW_COLUMNS, WindowSpec
from poppy_pipeline.behaviour.model import ACTIONS
from poppy_pipeline.behaviour.window_membership import membership_problems
from poppy_pipeline.behaviour.windows import extract_windows

DAY = np.datetime64("2026-11-21T00:00:00.000", "ms")


def reference_windows(actions: pd.DataFrame, spec: WindowSpec) -> pd.DataFrame:
    """One window at a time, straight from DESIGN.md's formulas (the spec of the extractor)."""
    rows = []
    seconds = spec.window_ms / 1000
    for session_id, session in actions.groupby("Session_ID", sort=True):
        session = session.sort_values("Timestamp", kind="stable")
        times = session["Timestamp"].to_numpy().astype("datetime64[ms]").astype(np.int64)
        kinds = session["Action"].astype(str).to_numpy()
        amounts = session["Scroll_Amount"].to_numpy(dtype=float)
        end = times[0] + spec.step_ms
        while end <= times[-1]:
            inside = (times >= end - spec.window_ms) & (times <= end)
            if inside.sum() >= spec.min_actions:
                rows.append(
                    {
                        "Session_ID": session_id,
                        "Window_End": end,
                        **reference_features(times[inside], kinds[inside], amounts[inside], end, times[0], seconds),
                        "Label": int(((kinds == "click_ad") & (times > end) & (times <= end + spec.horizon_ms)).any()),
                    }
                )
            end += spec.step_ms
    return pd.DataFrame(rows)


def reference_features(times, kinds, amounts, end, session_start, seconds) -> dict[str, float]:
    n = len(times)
    gaps = np.diff(times).astype(float)  # ms; the ratios below do not depend on the unit

    def rate(kind: str) -> float:
        return float((kinds == kind).sum()) / seconds

    down = amounts[kinds == "scroll_down"].sum()
    up = amounts[kinds == "scroll_up"].sum()
    scrolls = amounts[(kinds == "scroll_down") | (kinds == "scroll_up")]
    density = n / seconds
    shares = np.array([(kinds == kind).sum() for kind in ACTIONS if (kinds == kind).any()]) / n
    if n > 3:
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = np.corrcoef(gaps[:-1], gaps[1:])[0, 1]
        rhythm = max(0.0, correlation) if np.isfinite(correlation) else 0.0
    else:
        rhythm = 0.0
    return {
        "time_since_last_action": (end - times.max()) / 1000,
        "avg_time_between_actions": gaps.mean() / 1000 if n > 1 else 0.0,
        "session_duration": (end - session_start) / 1000,
        "scroll_down_count": rate("scroll_down"),
        "scroll_up_count": rate("scroll_up"),
        "click_count": rate("click"),
        "hover_count": rate("hover"),
        "blur_count": rate("blur_window"),
        "focus_count": rate("focus_window"),
        "wait_count": rate("wait"),
        "close_tab_count": rate("close_tab"),
        "scroll_depth_max": max(0.0, down - up),
        "interaction_density": density,
        "attention_score": min(1.0, max(0.0, 0.5 + 10 * (rate("focus_window") - rate("blur_window")) + 0.1 * density)),
        "scroll_velocity_avg": scrolls.mean() if len(scrolls) else 0.0,
        "click_to_hover_ratio": rate("click") / (rate("hover") + 0.001),
        "blur_frequency": rate("blur_window"),
        "action_entropy": float(-(shares * np.log(shares)).sum()),
        "burstiness_score": gaps.std() / gaps.mean() if n > 2 and gaps.mean() > 0 else 0.0,
        "engagement_rhythm": rhythm,
    }


def random_sessions(seed: int, sessions: int) -> pd.DataFrame:
    """Sessions of every awkward shape: few actions, equal timestamps, constant gaps, one kind only."""
    rng = np.random.default_rng(seed)
    frames = []
    for session in range(sessions):
        shape = session % 6
        n = int(rng.integers(1, 6)) if shape == 0 else int(rng.integers(2, 150))
        if shape == 1:  # zero gaps: bursts on the same millisecond
            gaps = rng.choice([0, 0, 0, 250, 4000], size=n)
        elif shape == 2:  # constant gaps
            gaps = np.full(n, int(rng.integers(1, 5000)))
        else:
            gaps = rng.exponential(rng.uniform(300, 8000), size=n).astype(np.int64)
        times = DAY + np.int64(rng.integers(0, 80_000_000)) + np.cumsum(gaps).astype("timedelta64[ms]")
        if shape == 3:  # no scrolls, no hovers
            kinds = rng.choice(["click", "wait", "focus_window", "blur_window", "click_ad"], size=n)
        elif shape == 4:  # a single kind
            kinds = np.full(n, "scroll_down")
        else:
            kinds = rng.choice(ACTIONS, size=n)
        is_scroll = np.isin(kinds, ["scroll_down", "scroll_up"])
        amounts = np.where(is_scroll, rng.integers(1, 2000, size=n), 0)
        frames.append(
            pd.DataFrame(
                {
                    "Session_ID": 1000 + session,
                    "User_ID": session % 7,
                    "Timestamp": times,
                    "Action": kinds,
                    "Scroll_Amount": amounts,
                }
            )
        )
    # The extractor must not rely on the input order: shuffle whole rows (ties keep their order).
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values("Timestamp", kind="stable").reset_index(drop=True)


def relative_difference(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(actual), np.abs(expected))
    return np.where(scale > 0, np.abs(actual - expected) / np.where(scale > 0, scale, 1), 0.0)


@pytest.mark.parametrize(
    "spec",
    [
        WindowSpec(min_actions=1),  # every window, down to one action
        WindowSpec(),  # the defaults: at least 5 actions
        WindowSpec(window_ms=30_000, step_ms=7_000, horizon_ms=15_000, min_actions=2),
    ],
)
def test_vectorised_features_equal_the_per_window_reference(spec: WindowSpec):
    actions = random_sessions(seed=spec.step_ms + spec.min_actions, sessions=240)
    fast = extract_windows(actions, spec)
    slow = reference_windows(actions, spec)
    assert len(slow) > 500
    assert fast["Session_ID"].tolist() == slow["Session_ID"].tolist()
    assert (fast["Window_End"].to_numpy().astype("datetime64[ms]").astype(np.int64) == slow["Window_End"]).all()
    worst = {name: relative_difference(fast[name].to_numpy(), slow[name].to_numpy()).max() for name in FEATURE_NAMES}
    assert max(worst.values()) <= 1e-9, worst
    assert (fast["Label"].to_numpy() == slow["Label"].to_numpy()).all()
    # The edge cases were really exercised.
    actions_per_window = fast["interaction_density"] * spec.window_ms / 1000
    if spec.min_actions == 1:
        assert {1, 2, 3} <= set(np.rint(actions_per_window).astype(int))
    assert (fast["burstiness_score"] == 0).any() and (fast["engagement_rhythm"] == 0).any()
    assert (fast["scroll_velocity_avg"] == 0).any() and (fast["hover_count"] == 0).any()


def test_columns_and_window_ends():
    actions = random_sessions(seed=3, sessions=30)
    windows = extract_windows(actions, WindowSpec(min_actions=1))
    assert windows.columns.tolist() == WINDOW_COLUMNS
    assert len(FEATURE_NAMES) == 20
    bounds = actions.groupby("Session_ID")["Timestamp"].agg(["min", "max"])
    joined = windows.join(bounds, on="Session_ID")
    since_first = (joined["Window_End"] - joined["min"]).dt.total_seconds()
    assert (since_first >= 10).all() and np.allclose(since_first % 10, 0)
    assert (joined["Window_End"] <= joined["max"]).all()
    assert windows["Oracle_Probability"].isna().all()  # only the generator knows it


def session(times_ms: list[int], kinds: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Session_ID": "a",
            "User_ID": "u",
            "Timestamp": DAY + np.array(times_ms).astype("timedelta64[ms]"),
            "Action": kinds,
            "Scroll_Amount": 0,
        }
    )


@pytest.mark.parametrize(("click_at", "label"), [(20_000, 0), (20_001, 1), (30_000, 1), (30_001, 0)])
def test_label_is_a_click_strictly_after_the_window_end_within_the_horizon(click_at: int, label: int):
    times = [0, 2_000, 4_000, 6_000, 8_000, 19_000, click_at, 40_000]
    kinds = ["focus_window", "scroll_down", "click", "hover", "wait", "click", "click_ad", "close_tab"]
    windows = extract_windows(session(times, kinds), WindowSpec(min_actions=5))
    at_20 = windows[windows["Window_End"] == DAY + np.timedelta64(20_000, "ms")].iloc[0]
    assert at_20["Label"] == label
    # A click at the very end belongs to the window, never to its own label.
    assert (at_20["interaction_density"] * 120 == 7) == (click_at == 20_000)


def test_constant_or_zero_gaps_give_exact_zeros():
    constant = extract_windows(session(list(range(0, 10_001, 500)), ["click"] * 21))
    assert constant.loc[0, "burstiness_score"] == 0.0 and constant.loc[0, "engagement_rhythm"] == 0.0
    assert constant.loc[0, "avg_time_between_actions"] == 0.5
    bursts = extract_windows(session([0] + [10_000] * 6, ["hover"] * 7), WindowSpec(window_ms=5_000))
    assert bursts.loc[0, "burstiness_score"] == 0.0 and bursts.loc[0, "avg_time_between_actions"] == 0.0


def test_unknown_action_is_refused_naming_it():
    with pytest.raises(ValueError, match="jump"):
        extract_windows(session([0, 1, 2, 3, 4, 10_000], ["click", "jump", "click", "click", "click", "click"]))


def test_no_actions_give_no_windows():
    empty = extract_windows(session([0, 1], ["click", "click"]).iloc[0:0])
    assert empty.empty and empty.columns.tolist() == WINDOW_COLUMNS


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"window": 0.0}, "window_seconds"), ({"step": 0.0005}, "step_seconds"), ({"min_actions": 0}, "min_actions")],
)
def test_invalid_window_settings_are_named(changes, named):
    values = {"window": 120.0, "step": 10.0, "horizon": 10.0, "min_actions": 5, **changes}
    with pytest.raises(ValueError, match=rf"sliding_window_features\.{named}"):
        WindowSpec.from_seconds(**values, prefix="sliding_window_features.")


def test_membership_problems_are_zero_for_extracted_windows_and_catch_tampering():
    actions = random_sessions(seed=5, sessions=60)
    spec = WindowSpec()
    windows = extract_windows(actions, spec)
    assert not any(membership_problems(actions, windows, spec).values())
    tampered = windows.copy()
    tampered.loc[0, "User_ID"] = -1
    last_action = actions.loc[actions["Session_ID"] == windows.loc[1, "Session_ID"], "Timestamp"].max()
    tampered.loc[1, "Window_End"] = last_action + pd.Timedelta(milliseconds=1)
    tampered.loc[2, "Session_ID"] = -5
    tampered.loc[3, "interaction_density"] += 1 / 120
    problems = membership_problems(actions, tampered, spec)
    assert problems["another_user"] == 1 and problems["unknown_session"] == 1
    assert problems["end_outside_session"] == 1 and problems["actions_miscounted"] >= 1


def test_chunks_of_sessions_give_the_same_windows(monkeypatch: pytest.MonkeyPatch):
    actions = random_sessions(seed=11, sessions=120)
    whole = extract_windows(actions, WindowSpec(min_actions=1))
    monkeypatch.setattr(windows_module, "CHUNK_ACTIONS", 50)  # many chunks, some of a single session
    chunked = extract_windows(actions, WindowSpec(min_actions=1))
    pd.testing.assert_frame_equal(whole, chunked)


@pytest.mark.parametrize(("rows", "sessions"), [(1_000, 40), (200_000, 70_000), (50_000, 3)])
def test_the_session_order_is_lexsorts_in_or_out_of_time_order(rows: int, sessions: int):
    rng = np.random.default_rng(rows)
    session = rng.integers(0, sessions, rows)
    in_order = np.sort(rng.integers(0, 10_000, rows))  # ties too
    shuffled = rng.integers(0, 10_000, rows)
    for time_ms in (in_order, shuffled):
        expected = np.lexsort((time_ms, session))
        np.testing.assert_array_equal(windows_module._session_time_order(session, time_ms), expected)


def test_action_codes_are_the_same_for_text_objects_and_categories():
    kinds = ["click", None, "jump", "close_tab", "click_ad", "click"]
    text = pd.Series(kinds, dtype="str")  # as read from a CSV: looked up in Arrow
    codes = windows_module._action_codes(text)
    assert codes.tolist() == [ACTIONS.index(kind) if kind in ACTIONS else -1 for kind in kinds]
    for other in (pd.Series(kinds, dtype=object), text.astype("category")):
        assert windows_module._action_codes(other).tolist() == codes.tolist()
