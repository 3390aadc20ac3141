"""The `outputs` resource: the one folder every output goes under.

Tables and models (the IO managers), reports and figures, rejected rows (`quarantine/`), the
browser bundle and, by default, the engine's files all go under its `base_dir`; so does the
run's lock. Set it in run config (`resources.outputs.config.base_dir`) or with `$POPPY_DATA_DIR`
(default `data/outputs`, read when a run uses it).
"""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field
from upath import UPath

from poppy_pipeline.common.paths import data_dir

RESOURCE_KEY = "outputs"


class OutputsResource(dg.ConfigurableResource):
    """Where every output of a run goes."""

    base_dir: str | None = Field(
        default=None, description="Folder of every output; default $POPPY_DATA_DIR, else data/outputs."
    )

    @property
    def is_local(self) -> bool:
        """A folder on this machine (or a shared filesystem), not object storage."""
        return not (self.base_dir and "://" in self.base_dir)

    def path(self) -> Path:
        """The base folder on this machine (reports, figures, quarantine and the bundle are local files)."""
        if not self.is_local:
            raise dg.Failure(
                f"outputs.base_dir {self.base_dir!r} is not a local folder: reports, figures, quarantined rows and"
                " the browser bundle are written to local files; set it to a folder on this machine."
            )
        return Path(self.base_dir) if self.base_dir else data_dir()

    def upath(self) -> UPath:
        """The base folder as a UPath (a local folder, or object storage such as `s3://…` for the IO managers)."""
        return UPath(self.base_dir) if self.base_dir else UPath(data_dir())


def from_config(resource_config: dict | None) -> OutputsResource:
    """The resource as its config describes it (for the executor, which is not a step)."""
    base_dir = (resource_config or {}).get("base_dir")
    if isinstance(base_dir, dict) and "env" in base_dir:  # run config's `{"env": "NAME"}`
        base_dir = os.environ.get(base_dir["env"])
    return OutputsResource(base_dir=base_dir)
