"""What a sliding window of browsing actions is, and what it measures: the spec and seed 001's features.

`WindowSpec` is the window's length, the step between window ends, the label's horizon and the
fewest actions a window needs; `FEATURE_NAMES` the 20 features in the seed's order, which the
click model, its ONNX file and the browser bundle all follow. `windows.py` computes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from poppy_pipeline.behaviour.model import BLUR, CLICK, CLOSE, FOCUS, HOVER, SCROLL_DOWN, SCROLL_UP, WAIT
from poppy_pipeline.common.columns import WINDOW_FEATURE_NAMES

FEATURE_NAMES = WINDOW_FEATURE_NAMES
WINDOW_COLUMNS: list[str] = ["Session_ID", "User_ID", "Window_End", *FEATURE_NAMES, "Label", "Oracle_Probability"]
# Features 4-11: the action counted by each rate, in the seed's order.
COUNTED_ACTIONS = (SCROLL_DOWN, SCROLL_UP, CLICK, HOVER, BLUR, FOCUS, WAIT, CLOSE)
HOVER_SMOOTHING = 0.001


@dataclass(frozen=True)
class WindowSpec:
    """Window length, step between window ends, label horizon (ms), and the minimum actions."""

    window_ms: int = 120_000
    step_ms: int = 10_000
    horizon_ms: int = 10_000
    min_actions: int = 5

    def __post_init__(self) -> None:
        for name in ("window_ms", "step_ms", "horizon_ms", "min_actions"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")

    @classmethod
    def from_seconds(cls, window: float, step: float, horizon: float, min_actions: int, prefix: str = "") -> WindowSpec:
        """From seconds (whole milliseconds), naming the offending setting `prefix + name`."""
        values = {}
        for name, seconds in (("window_seconds", window), ("step_seconds", step), ("horizon_seconds", horizon)):
            ms = round(seconds * 1000) if math.isfinite(seconds) else 0
            if ms < 1 or abs(ms - seconds * 1000) > 1e-6:
                raise ValueError(f"{prefix}{name} must be a positive whole number of milliseconds, got {seconds!r}")
            values[name] = ms
        if min_actions < 1:
            raise ValueError(f"{prefix}min_actions must be at least 1, got {min_actions!r}")
        return cls(values["window_seconds"], values["step_seconds"], values["horizon_seconds"], int(min_actions))

    @property
    def window_seconds(self) -> float:
        return self.window_ms / 1000

    def settings(self) -> dict[str, float | int]:
        """In seconds, as the asset's config and metadata name them."""
        return {
            "window_seconds": self.window_ms / 1000,
            "step_seconds": self.step_ms / 1000,
            "horizon_seconds": self.horizon_ms / 1000,
            "min_actions": self.min_actions,
        }
