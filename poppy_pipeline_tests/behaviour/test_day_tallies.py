"""The per-day tally behind sliding_window_features' blocking `features_finite` check."""

import numpy as np
import pandas as pd

from poppy_pipeline.behaviour.day_tallies import FiniteTally


def _day(first: list[float], label: list[int], oracle: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"a": first, "b": [1.0] * len(first), "Label": label, "Oracle_Probability": oracle})


def test_non_finite_values_bad_labels_and_oracle_values_add_up_over_days():
    tally = FiniteTally(["a", "b"])
    tally.add_day(_day([1.0, 2.0], [0, 1], [0.2, 0.9]))
    assert tally.passed and tally.not_finite_by_feature() == {}
    tally.add_day(_day([np.nan, np.inf, -np.inf, 0.5], [0, 1, 2, 1], [0.5, 1.5, 0.1, -0.1]))
    tally.add_day(_day([np.nan], [1], [0.3]))
    assert not tally.passed
    assert tally.windows == 7
    assert tally.not_finite_by_feature() == {"a": 4}
    assert (tally.bad_labels, tally.bad_oracle) == (1, 2)
