"""The `outputs` resource: the one folder every output goes under, and where this run stages it.

Tables and models (the IO managers), reports and figures, rejected rows (`quarantine/`), the
browser bundle and, by default, the engine's files all go under its `base_dir`; so does the
run's lock. Set it in run config (`resources.outputs.config.base_dir`) or with `$POPPY_DATA_DIR`
(default `data/outputs`, read when a run uses it).

A run launched through the project's executor publishes per run (`common/publication.py`): its
steps write into the run's staging (`write_root`, `write_path`, `write_folder`), read what the run
staged before what is published (`read_path`), and nothing is published unless the whole run
succeeds. Without a publisher (`dagster.materialize`, `execute_in_process`) the same calls write
in place, one atomic file at a time. A write that fails for want of space or permission fails
the step with one sentence naming the path and what was kept (`writing`).
"""

import errno
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr
from upath import UPath

from poppy_pipeline.common.paths import data_dir
from poppy_pipeline.common.publication import RunStaging

RESOURCE_KEY = "outputs"
# Folders outside the outputs folder that the operator may name for files other systems read.
OPERATOR_ROOTS = ("POPPY_ENGINE_EXPORT_DIR",)


def operator_roots() -> list[Path]:
    """The folders the environment names as places outputs may also go (`OPERATOR_ROOTS`)."""
    return [Path(os.environ[name]) for name in OPERATOR_ROOTS if os.environ.get(name)]


class OutputsResource(dg.ConfigurableResource):
    """Where every output of a run goes."""

    base_dir: str | None = Field(
        default=None, description="Folder of every output; default $POPPY_DATA_DIR, else data/outputs."
    )
    _staging: RunStaging | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.is_local and context.run is not None:
            staging = RunStaging(self.path(), context.run.run_id, operator_roots())
            self._staging = staging if staging.active else None

    @property
    def is_local(self) -> bool:
        """A folder on this machine (or a shared filesystem), not object storage."""
        return not (self.base_dir and "://" in self.base_dir)

    def path(self) -> Path:
        """The published folder on this machine (reports, figures, quarantine and the bundle are local files)."""
        if not self.is_local:
            raise dg.Failure(
                f"outputs.base_dir {self.base_dir!r} is not a local folder: reports, figures, quarantined rows and"
                " the browser bundle are written to local files; set it to a folder on this machine."
            )
        return Path(self.base_dir) if self.base_dir else data_dir()

    def upath(self) -> UPath:
        """The base folder as a UPath (a local folder, or object storage such as `s3://…` for the IO managers)."""
        return UPath(self.base_dir) if self.base_dir else UPath(data_dir())

    @property
    def staging(self) -> RunStaging | None:
        """This run's staging, when the run is published as a whole (else None: files are written in place)."""
        return self._staging

    def write_root(self) -> Path:
        """The folder this run writes its outputs under: its staging, or the outputs folder itself."""
        return self._staging.folder() if self._staging else self.path()

    def write_path(self, final: Path) -> Path:
        """Where this run writes what is published at `final` (under the outputs folder or an operator root)."""
        return self._staging.staged(final) if self._staging else final

    def write_folder(self, final: Path) -> Path:
        """Where this run writes a folder published as a whole at `final` (it replaces the previous one)."""
        return self._staging.whole_folder(final) if self._staging else final

    def read_path(self, final: Path) -> Path:
        """What this run reads for `final`: what it staged there, else the published file."""
        return self._staging.readable(final) if self._staging else final

    def published_path(self, path: Path) -> Path:
        """Where a file this run wrote is (or will be) published: for metadata and messages."""
        return self._staging.published(path) if self._staging else path

    def remove_when_published(self, final: Path) -> None:
        """Remove the published file `final` with this run's publication (at once without a publisher)."""
        if self._staging:
            self._staging.remove_when_published(final)
        else:
            final.unlink(missing_ok=True)

    @contextmanager
    def writing(self, path: Path | None = None) -> Iterator[None]:
        """Turn a failed write (no space, read-only, no permission) into one sentence naming the path."""
        try:
            yield
        except OSError as error:
            failure = write_failure(error, path, self)
            if failure is None:
                raise
            raise failure from None


def _reason(error: OSError) -> tuple[str, str] | None:
    """(what happened, what to do) for the write errors a user causes and can fix; None for others."""
    code = error.errno
    if code is None and "No space left" in str(error):  # pyarrow's errors carry the code in the text only
        code = errno.ENOSPC
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device", "free space there (or set POPPY_DATA_DIR to another disk) and run again"
    if code == errno.EROFS:
        return "the filesystem is read-only", "make it writable (or set POPPY_DATA_DIR to another folder) and run again"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied", "make it writable (or set POPPY_DATA_DIR to another folder) and run again"
    return None


def write_failure(
    error: OSError, path: Path | None, outputs: OutputsResource, kept: str | None = None
) -> dg.Failure | None:
    """The step's failure for a write the user can make possible (space, permissions): what, where,
    what was kept (`kept`, else as the run stages), what to do; None for any other error."""
    reason = _reason(error)
    if reason is None:
        return None
    happened, remedy = reason
    written = _target(Path(error.filename)) if isinstance(error.filename, str) else path
    where = outputs.published_path(written) if written is not None else outputs.path()
    if kept is None and outputs.staging:
        kept = f"nothing of this run was published, {outputs.path()} keeps its previous outputs"
    elif kept is None:
        kept = f"the previous {where.name} is kept"
    return dg.Failure(description=f"Could not write {where}: {happened}; {kept}; {remedy}.", allow_retries=False)


def _target(path: Path) -> Path:
    """The file a writer's temporary file stands for (`.users.csv.<hex>.tmp`), or its folder (a staged day)."""
    if match := re.fullmatch(r"\.(.+)\.[0-9a-f]{32}\.tmp", path.name):
        return path.with_name(match.group(1))
    return path.parent if path.name.startswith(".") else path


def from_config(resource_config: Mapping[str, Any] | None) -> OutputsResource:
    """The resource as its config describes it (for the executor, which is not a step)."""
    base_dir: Any = (resource_config or {}).get("base_dir")  # as run config has it: any YAML value
    if isinstance(base_dir, dict) and "env" in base_dir:  # run config's `{"env": "NAME"}`
        base_dir = os.environ.get(base_dir["env"])
    return OutputsResource(base_dir=base_dir)
