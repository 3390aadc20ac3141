"""The memory budget: settings whose arrays would not fit are refused before anything is allocated.

`memory_estimate` gives the bytes the simulation would hold at once for each setting that sizes its
arrays (users, catalog objects, a day's events); `memory_budget` is this machine's memory, or
`$POPPY_MEMORY_BUDGET_GB`; `check_memory` (run by `SimulationSettings`' validation) raises
`SettingsError` naming the setting that needs the most, so a run stops with a sentence, not a
`MemoryError` after allocating.
"""

from __future__ import annotations

import os
from typing import Protocol

from poppy_pipeline.simulation.setting_declarations import SettingsError

# What the simulation holds per user (the users table, the per-user tables, the draws that make
# them), per catalog object and per event of a day (a day's frame and its temporaries), in bytes:
# generous, so that the estimate errs towards refusing settings that would not fit.
BYTES_PER_USER = 640
BYTES_PER_FAVOURITE = 3 * 4  # one int32 row index per object type
BYTES_PER_OBJECT = 256
BYTES_PER_DAILY_EVENT = 512
MEMORY_BUDGET_ENV = "POPPY_MEMORY_BUDGET_GB"


class SimulationSizes(Protocol):
    """The settings that size the simulation's arrays (`SimulationSettings` has them)."""

    @property
    def num_users(self) -> int: ...
    @property
    def favourites_per_type(self) -> int: ...
    @property
    def num_stars(self) -> int: ...
    @property
    def num_planets(self) -> int: ...
    @property
    def num_moons(self) -> int: ...
    @property
    def interactions_per_day(self) -> float: ...


def memory_estimate(settings: SimulationSizes) -> dict[str, float]:
    """Bytes the simulation would hold at once for each setting that sizes its arrays."""
    s = settings
    objects = s.num_stars + s.num_planets + s.num_moons
    return {
        "num_users": s.num_users * (BYTES_PER_USER + BYTES_PER_FAVOURITE * s.favourites_per_type),
        "num_stars, num_planets, num_moons": objects * BYTES_PER_OBJECT,
        "interactions_per_day": s.interactions_per_day * BYTES_PER_DAILY_EVENT,
    }


def memory_budget() -> tuple[float, str]:
    """The most memory a simulation may plan to use, and where that figure comes from."""
    configured = os.environ.get(MEMORY_BUDGET_ENV, "").strip()
    if configured:
        try:
            return float(configured) * 2**30, f"${MEMORY_BUDGET_ENV}"
        except ValueError:
            raise SettingsError(f"{MEMORY_BUDGET_ENV} must be a number of GiB, got {configured!r}") from None
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")), "this machine's memory"
    except (ValueError, OSError, AttributeError):
        return 16.0 * 2**30, "16 GiB, as this machine's memory is unknown"


def check_memory(settings: SimulationSizes) -> None:
    """Refuse, before anything is allocated, settings whose arrays would not fit the memory budget."""
    needs = memory_estimate(settings)
    total = sum(needs.values())
    budget, source = memory_budget()
    if total > budget:
        largest = max(needs, key=lambda name: needs[name])
        value = ", ".join(f"{getattr(settings, name.strip()):,}" for name in largest.split(","))
        raise SettingsError(
            f"simulation.{largest} {value} would need about {_bytes(needs[largest])} of memory (the whole simulation"
            f" {_bytes(total)}), more than the memory budget of {_bytes(budget)} ({source}; {MEMORY_BUDGET_ENV}"
            f" sets another); lower {largest}"
        )


def _bytes(count: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count:,.0f} bytes"
