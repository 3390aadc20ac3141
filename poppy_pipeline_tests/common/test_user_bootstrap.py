"""The positive share's bootstrap over users, and the share the generator makes at the defaults (seeds 1-10)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour.model import BehaviourSettings
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.behaviour.windows import extract_windows
from poppy_pipeline.common import user_bootstrap
from poppy_pipeline.common.user_bootstrap import positive_share_interval
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW, make_model

BAND = (0.04, 0.08)
SEEDS = range(1, 11)
DEFAULTS = BehaviourSettings()


def clustered(shares: np.ndarray, windows_per_user: int) -> pd.DataFrame:
    """Each user's windows, with exactly `share × windows_per_user` of them positive."""
    positives = np.rint(shares * windows_per_user).astype(int)
    labels = np.concatenate([np.r_[np.ones(p), np.zeros(windows_per_user - p)] for p in positives])
    return pd.DataFrame({"User_ID": np.repeat(np.arange(len(shares)), windows_per_user), "Label": labels})


def test_interval_matches_the_spread_of_the_users_shares():
    """Equal-sized users: a resample's share is the mean of the drawn users' shares, so the 90%
    interval is about ± 1.645 · sd(user shares) / √users around the share."""
    shares = np.random.default_rng(1).beta(1, 12, size=400)
    frame = clustered(shares, 500)
    interval = positive_share_interval(frame["Label"], frame["User_ID"])
    user_shares = frame.groupby("User_ID")["Label"].mean()
    half_width = 1.645 * user_shares.std(ddof=0) / np.sqrt(len(user_shares))
    assert interval.share == pytest.approx(frame["Label"].mean())
    assert interval.share - interval.low == pytest.approx(half_width, rel=0.15)
    assert interval.high - interval.share == pytest.approx(half_width, rel=0.15)
    assert (interval.windows, interval.users, interval.resamples, interval.level) == (200_000, 400, 1000, 0.9)


def test_few_heavy_users_cannot_rule_out_the_band_but_as_many_independent_windows_can():
    few = clustered(np.array([0.0, 0.01, 0.02, 0.05, 0.06, 0.08, 0.10, 0.12, 0.16, 0.30]), 1_000)
    independent = few.assign(User_ID=np.arange(len(few)))  # the same 10,000 labels, one window per user
    assert few["Label"].mean() == independent["Label"].mean() == pytest.approx(0.09)
    assert positive_share_interval(few["Label"], few["User_ID"]).overlaps(*BAND)
    assert not positive_share_interval(independent["Label"], independent["User_ID"]).overlaps(*BAND)


def test_interval_is_the_same_in_any_row_order_and_empty_input_never_overlaps():
    frame = clustered(np.random.default_rng(2).beta(1, 12, size=50), 40)
    shuffled = frame.sample(frac=1, random_state=3)
    assert positive_share_interval(frame["Label"], frame["User_ID"]) == positive_share_interval(
        shuffled["Label"], shuffled["User_ID"]
    )
    assert not positive_share_interval(np.array([]), np.array([])).overlaps(*BAND)


def default_windows(seed: int, behaviour: BehaviourSettings = DEFAULTS) -> pd.DataFrame:
    """Labels of `make run`'s defaults (100 users, 30 days) for `seed`; the oracle is not needed here."""
    model, _objects, users = make_model(SimulationSettings(seed=seed))
    days = []
    for day in WINDOW:
        actions = simulate_sessions(behaviour, seed, users, simulate_day(model, day), day).actions
        days.append(extract_windows(actions)[["User_ID", "Label"]])
    return pd.concat(days, ignore_index=True).assign(Seed=seed)


@pytest.fixture(scope="module")
def seeds_at_the_defaults() -> pd.DataFrame:
    return pd.concat([default_windows(seed) for seed in SEEDS], ignore_index=True)


@pytest.mark.slow
def test_positive_share_at_the_defaults_is_centred_in_the_band_for_seeds_1_to_10(seeds_at_the_defaults):
    """Every seed's run may hold 4-8% (its interval over users overlaps it), and over the ten seeds'
    ~700 users together the share is pinned down: its interval lies inside the band."""
    for seed, windows in seeds_at_the_defaults.groupby("Seed"):
        interval = positive_share_interval(windows["Label"], windows["User_ID"])
        assert interval.overlaps(*BAND), (seed, interval)
    everyone = seeds_at_the_defaults["Seed"].astype(str) + ":" + seeds_at_the_defaults["User_ID"].astype(str)
    pooled = positive_share_interval(seeds_at_the_defaults["Label"], everyone)
    assert BAND[0] < pooled.low < pooled.share < pooled.high < BAND[1], pooled


def test_a_broken_share_fails_the_check():
    """Four times the ad-click rate at the default seed: seed 001's ~6% becomes well over 8%."""
    boosted = default_windows(42, replace(DEFAULTS, ad_click_base_rate=4 * DEFAULTS.ad_click_base_rate))
    interval = positive_share_interval(boosted["Label"], boosted["User_ID"])
    assert not interval.overlaps(*BAND), interval


@pytest.mark.slow
def test_labels_forced_to_20_percent_fail_on_every_seed(seeds_at_the_defaults):
    forced = np.random.default_rng(4).random(len(seeds_at_the_defaults)) < 0.2
    for seed, windows in seeds_at_the_defaults.assign(Label=forced).groupby("Seed"):
        assert not positive_share_interval(windows["Label"], windows["User_ID"]).overlaps(*BAND), seed


def test_many_users_are_resampled_in_fixed_groups_with_the_same_share(monkeypatch: pytest.MonkeyPatch):
    frame = clustered(np.random.default_rng(5).beta(1, 12, size=300), 50)
    whole = positive_share_interval(frame["Label"], frame["User_ID"])
    monkeypatch.setattr(user_bootstrap, "MAX_GROUPS", 30)
    grouped = positive_share_interval(frame["Label"], frame["User_ID"])
    assert grouped.share == whole.share and grouped.users == whole.users == 300
    assert grouped.low < grouped.share < grouped.high
    # Groups of ten users: the interval still measures the spread of the users' shares.
    assert grouped.high - grouped.low == pytest.approx(whole.high - whole.low, rel=0.3)
