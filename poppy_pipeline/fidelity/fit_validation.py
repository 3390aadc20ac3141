"""A fit is written only when the simulation can run it: every fitted value passes the validation of a
hand-written config (the simulation's memory budget included), plus plausibility bounds the log
itself sets (an active share of 0 would make billions of users of the few thousand seen)."""

from __future__ import annotations

from typing import Any

from poppy_pipeline.fidelity.fit import settings_from_fit
from poppy_pipeline.simulation.setting_declarations import SettingsError

# Below this estimated share of users active in the window, the log cannot tell how many users never
# act: the users it saw would stand for more than a hundred times as many.
MIN_ACTIVE_SHARE = 0.01
# Users a fitted simulation may have (after `scale_users`), unless the fit's config allows more.
DEFAULT_MAX_SIMULATED_USERS = 10_000_000


class FitError(ValueError):
    """A fit the simulation cannot run; the message names the parameter and why. Nothing is written."""


def checked_fit(
    fit: dict[str, Any], seed: int = 42, scale_users: float = 1.0, max_users: int = DEFAULT_MAX_SIMULATED_USERS
) -> dict[str, Any]:
    """`fit`, when the simulation can run it: every value passes the validation of a hand-written
    config (the memory budget included), the active share is plausible (at least `MIN_ACTIVE_SHARE`)
    and the users stay within `max_users`. Otherwise a `FitError` naming the parameter and why."""
    share = fit["measured"]["active_share"]
    seen = fit["log"]["active_users"]
    num_users = fit["parameters"]["num_users"]["value"]
    if not share >= MIN_ACTIVE_SHARE:
        raise FitError(
            f"num_users: the estimated share of users active in the window is {share:.4f} (below {MIN_ACTIVE_SHARE}),"
            f" so the {seen:,} users seen would stand for {num_users:,}: this log's activity (e.g. many users with"
            " one event) cannot tell how many users never act; fit a longer window or a log with a users file"
        )
    scaled = max(1, round(num_users * scale_users))
    if scaled > max_users:
        raise FitError(
            f"num_users: the fit makes {scaled:,} users (of {seen:,} seen, scale_users {scale_users}), more than"
            f" max_simulated_users {max_users:,}; raise max_simulated_users or lower scale_users"
        )
    try:
        settings_from_fit(fit, seed, scale_users)
    except SettingsError as error:
        raise FitError(f"the fitted settings are not a simulation the pipeline can run: {error}") from None
    return fit
