"""The `interaction_source` resource: simulate, or read a real interaction log instead.

`POPPY_SOURCE_PATH` (a file for `poppy`, a folder for `pings`) and `POPPY_SOURCE_FORMAT`
(`poppy` or `pings`), or the same as run config (`resources.interaction_source.config.path` and
`.format`). With no path, the pipeline simulates. The assets downstream of the three source
assets do not change either way.
"""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from poppy_pipeline.sources import FORMATS, POPPY, SIMULATION, SourceError, SourceFormat

DEFAULT_MAX_QUARANTINE_SHARE = 0.01


class InteractionSourceResource(dg.ConfigurableResource):
    """Where interactions come from, and how many bad rows are tolerated."""

    path: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_PATH", ""),
        description="A real log: a seed-000 CSV (poppy) or a seed-002 folder (pings);"
        " empty = simulate ($POPPY_SOURCE_PATH).",
    )
    format: str = Field(
        default_factory=lambda: os.environ.get("POPPY_SOURCE_FORMAT", "") or POPPY.name,
        description="poppy or pings ($POPPY_SOURCE_FORMAT).",
    )
    max_quarantine_share: float = Field(
        default=DEFAULT_MAX_QUARANTINE_SHARE,
        description="The quarantine checks fail when a larger share of an input's rows is rejected.",
    )

    @property
    def kind(self) -> str:
        """`simulation`, `poppy` or `pings`."""
        return SIMULATION if not self.path else self.spec().name

    @property
    def is_real(self) -> bool:
        return bool(self.path)

    def location(self) -> Path:
        return Path(self.path)

    def spec(self) -> SourceFormat:
        """The vocabulary of the data: the simulation speaks the poppy one."""
        if not self.path:
            return POPPY
        if self.format not in FORMATS:
            raise SourceError(
                f"interaction_source.format (POPPY_SOURCE_FORMAT) must be one of {sorted(FORMATS)}, got {self.format!r}"
            )
        return FORMATS[self.format]
