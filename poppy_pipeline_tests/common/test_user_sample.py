"""The click model's bounded, user-stratified training sample."""

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common.user_sample import UserStratifiedSample, per_user_quota, stratified_sample


def windows_of_days(seed: int, days: int = 6) -> list[pd.DataFrame]:
    """Windows of heavy-tailed users, a few sessions each, one frame per day."""
    rng = np.random.default_rng(seed)
    frames = []
    for day in range(days):
        n = int(rng.integers(50, 400))
        users = rng.zipf(1.6, n) % 40
        frames.append(
            pd.DataFrame(
                {
                    "Session_ID": [f"{day}-{u}-{s}" for u, s in zip(users, rng.integers(0, 3, n), strict=True)],
                    "User_ID": users,
                    "Window_End": np.arange(n) * 10.0,
                    "Label": rng.integers(0, 2, n),
                }
            )
        )
    return frames


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("cap", [1, 37, 300, 900])
def test_day_by_day_equals_the_sample_of_all_rows_at_once(seed, cap):
    days = windows_of_days(seed)
    sample = UserStratifiedSample(cap, seed=7)
    for day in days:
        sample.add(day)
    everything = pd.concat(days, ignore_index=True)
    pd.testing.assert_frame_equal(sample.rows(), stratified_sample(everything, cap, seed=7))


@pytest.mark.parametrize("seed", range(5))
def test_each_user_keeps_min_of_its_windows_and_the_quota(seed):
    everything = pd.concat(windows_of_days(seed), ignore_index=True)
    cap = len(everything) // 3
    sample = UserStratifiedSample(cap, seed=1)
    sample.add(everything)
    kept = sample.rows()["User_ID"].value_counts()
    counts = everything["User_ID"].value_counts()
    assert len(sample.rows()) <= cap
    assert (kept.reindex(counts.index, fill_value=0) == np.minimum(counts, sample.quota)).all()
    # k + 1 would not fit: the quota is the largest.
    assert np.minimum(counts, sample.quota + 1).sum() > cap
    assert sample.summary() == {
        "max_windows": cap,
        "windows_in_window": len(everything),
        "windows_sampled": len(sample.rows()),
        "per_user_cap": sample.quota,
    }


def test_below_the_cap_every_row_stays_in_order():
    everything = pd.concat(windows_of_days(3), ignore_index=True)
    pd.testing.assert_frame_equal(stratified_sample(everything, len(everything), seed=5), everything)


def test_another_seed_draws_other_windows():
    everything = pd.concat(windows_of_days(2), ignore_index=True)
    first, second = (stratified_sample(everything, 200, seed=s) for s in (1, 2))
    assert len(first) == len(second)
    assert not first.equals(second)


@pytest.mark.parametrize(("counts", "cap", "quota"), [([5, 1, 9], 7, 3), ([5, 1, 9], 14, 8), ([4, 4], 3, 1)])
def test_quota_by_hand(counts, cap, quota):
    assert per_user_quota(np.array(counts), cap) == quota
