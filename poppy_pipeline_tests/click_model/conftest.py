"""The click-model tests' shared world: simulated and synthetic browsing, and a model exported from it.

`world` is computed once for the package: the browser parity tests (`test_browser_parity.py`) draw
their golden windows from it, the bundle builder's tests (`test_browser_bundle.py`) bundle its model.
"""

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour.features import WindowSpec
from poppy_pipeline.behaviour.model import BehaviourSettings
from poppy_pipeline.behaviour.sessions import simulate_sessions
from poppy_pipeline.behaviour.windows import extract_windows
from poppy_pipeline.click_model import onnx_export
from poppy_pipeline.click_model import training as core
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.behaviour.test_windows import random_sessions
from poppy_pipeline_tests.conftest import WINDOW, make_model


@pytest.fixture(scope="package")
def world() -> tuple[pd.DataFrame, pd.DataFrame, bytes]:
    """Three simulated days and synthetic sessions (zero and constant gaps, negative and missing
    scroll amounts); the simulated actions, all actions, and the default model as the pipeline exports it."""
    settings = SimulationSettings()
    model, _objects, users = make_model(settings)
    days = [
        simulate_sessions(BehaviourSettings(), settings.seed, users, simulate_day(model, day), day).actions
        for day in WINDOW[-3:]
    ]
    simulated = pd.concat(days, ignore_index=True).astype({"Action": str})
    synthetic = pd.concat([random_sessions(seed=7, sessions=60), boundary_session()], ignore_index=True)
    scroll_up = synthetic["Action"] == "scroll_up"
    amounts = synthetic["Scroll_Amount"].astype(float).where(scroll_up | (synthetic["Action"] == "scroll_down"))
    synthetic["Scroll_Amount"] = amounts.where(~scroll_up, -amounts)  # real logs: negative deltas, blanks
    actions = pd.concat([simulated, synthetic], ignore_index=True)
    return simulated, actions, trained_model(simulated, WindowSpec())


def trained_model(actions: pd.DataFrame, spec: WindowSpec) -> bytes:
    """The ONNX file of a model trained on `spec`'s windows of `actions`, exported as the pipeline does."""
    training = extract_windows(actions, spec)
    fitted = core.fit_calibrated(core.feature_matrix(training), training["Label"].to_numpy())
    return onnx_export.export_onnx(fitted, spec.settings(), "test")


def boundary_session() -> pd.DataFrame:
    """Actions on every 5 s mark and 1 ms after each 10 s mark: on window ends, starts and just after."""
    offsets = np.sort(np.r_[np.arange(0, 200_001, 5_000), np.arange(10_001, 200_001, 10_000)])
    kinds = np.resize(
        ["scroll_down", "hover", "click", "scroll_up", "wait", "blur_window", "focus_window"], len(offsets)
    )
    return pd.DataFrame(
        {
            "Session_ID": 999,
            "User_ID": 0,
            "Timestamp": np.datetime64("2026-11-21T12:00:00.000", "ms") + offsets.astype("timedelta64[ms]"),
            "Action": kinds,
            "Scroll_Amount": np.where(np.isin(kinds, ["scroll_down", "scroll_up"]), 240, 0),
        }
    )
