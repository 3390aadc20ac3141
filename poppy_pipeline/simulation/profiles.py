"""The six browsing profiles of the interaction-modelling seed (001).

Each trait is a Beta(α, β) distribution; a user's trait values are draws from it. Session length
maps a Beta draw onto 10-300 s. The ad-click multiplier scales the base ad-click rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SESSION_MIN_SEC = 10.0
SESSION_MAX_SEC = 300.0


@dataclass(frozen=True)
class Profile:
    name: str
    session_length: tuple[float, float]
    action_frequency: tuple[float, float]
    pause: tuple[float, float]
    click: tuple[float, float]
    ad_click_multiplier: float
    blur: tuple[float, float] | None = None


PROFILES: tuple[Profile, ...] = (
    Profile("rushed_reader", (1, 3), (2, 1), (1, 4), (1, 3), 0.1),
    Profile("careful_reader", (3, 1), (1, 2), (2, 1), (2, 2), 5.0),
    Profile("distracted_user", (2, 2), (1, 1), (3, 1), (1, 2), 0.2, blur=(2, 1)),
    Profile("focused_reader", (4, 1), (1.5, 1.5), (1.5, 2), (2.5, 1.5), 8.0),
    Profile("click_happy", (2, 2), (3, 1), (1, 3), (4, 1), 3.0),
    Profile("mobile_user", (1.5, 2), (2, 1), (1.5, 2), (2, 1.5), 2.0),
)
PROFILE_NAMES: tuple[str, ...] = tuple(p.name for p in PROFILES)
PROFILE_BY_NAME: dict[str, Profile] = {p.name: p for p in PROFILES}


def session_length_seconds(beta_draws: np.ndarray) -> np.ndarray:
    """Map Beta(0..1) draws of the session-length trait onto 10-300 s."""
    return SESSION_MIN_SEC + (SESSION_MAX_SEC - SESSION_MIN_SEC) * beta_draws
