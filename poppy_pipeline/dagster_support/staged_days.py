"""Daily tables made and read one day at a time, so a step over a window holds one day.

Output: a daily asset that makes many days in one step (a single-run backfill) stages each day as
soon as it is made (`DayStaging.stage`, or `stage_written` for a day written part by part: a
temporary file beside the day's final file, flushed to disk in the background while the step
goes on, and waited for before the rename) and keeps only a light `StagedDay` (where, how many
rows, a preview). It returns those, and the CSV IO manager renames every staged day into its
place: in a run published as a whole, its place in the run's staging (`common/publication.py`),
published with the rest of the run; without a publisher, its published place. So the previous
good files survive until the whole window has passed its blocking checks, and a step that fails
before (an integrity check, an error) removes what it staged: `DayStaging` is a context manager
that discards its staged files on an error (a failed write becomes the IO manager's sentence),
and the IO manager discards the ones it could not put in place.

Input: `DayFiles` maps each day of a partitioned input to its file and reads a day when asked for
it (`days[key]`), keeping nothing, so `for key in keys: frame = days[key]` holds one day.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from poppy_pipeline.common.paths import fsync
from poppy_pipeline.common.schemas import attrs_to_store, schema_of
from poppy_pipeline.dagster_support.metadata import markdown_table

PREVIEW_ROWS = 5
STAGED_SUFFIX = ".staged"
# Staged files are named `.<day>.<host>.<pid>.<random>.staged`: who staged them, to tell orphans.
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


@dataclass(frozen=True)
class StagedDay:
    """A day's table written to a temporary file, waiting to be put in place by the IO manager."""

    staged: Path
    rows: int
    columns: tuple[str, ...]
    preview: str  # markdown, the table's first rows
    attrs: dict = field(default_factory=dict)
    private_folder: bool = False  # staged in a folder of its own (object storage), removed with it
    flushed: Future | None = field(default=None, compare=False)  # the file's fsync, done in the background

    def wait_until_flushed(self) -> None:
        """Return once the staged file is on disk (raising what its fsync raised): before it is put in place."""
        if self.flushed is not None:
            self.flushed.result()


@dataclass(frozen=True)
class WrittenTable:
    """What a writer of a staged day wrote: its rows, columns, first rows (at least the preview's) and attributes."""

    rows: int
    columns: tuple[str, ...]
    head: pd.DataFrame
    attrs: dict = field(default_factory=dict)


class DayStaging:
    """Stages a daily asset's days; on an error (or `discard`) removes every staged file.

    `local_folder(key)` gives the folder of a day's final file when it is on this machine (the
    staged file goes beside it, so putting it in place is a rename), or None for object storage
    (staged in a private local folder, uploaded when put in place).
    """

    def __init__(
        self,
        asset: str,
        local_folder: Callable[[str], Path | None],
        write: Callable[[pd.DataFrame, str], None],
        failure: Callable[[OSError], Exception | None] = lambda error: None,
    ) -> None:
        self.asset = asset
        self._local_folder = local_folder
        self._write = write
        self._failure = failure  # the sentence for a write that failed (no space, read-only), if it has one
        self._staged: list[Path] = []
        self._scratch: Path | None = None
        # Each staged file is flushed to disk on this thread while the step goes on (the next day, the
        # checks); the IO manager waits for a day's flush before renaming it into place.
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"poppy_flush_{asset}")

    def stage(self, key: str, frame: pd.DataFrame, meanwhile: Callable[[], object] | None = None) -> StagedDay:
        """Write `frame` (the day `key`) to a staged file, flushed to disk in the background; the frame
        may be dropped after.

        `meanwhile` (say, counting the day into the window's checks) runs in this thread while another
        writes and flushes the file: pyarrow, numpy and the disk release the GIL, so the two overlap.
        """

        def write(path: str) -> WrittenTable:
            if meanwhile is None:
                self._write(frame, path)
            else:
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"poppy_stage_{self.asset}") as writer:
                    written = writer.submit(self._write, frame, path)
                    meanwhile()  # on an error, the pool waits for the write; __exit__ then removes the file
                    written.result()
            return WrittenTable(len(frame), tuple(map(str, frame.columns)), frame, dict(frame.attrs))

        return self.stage_written(key, write)

    def stage_written(self, key: str, write: Callable[[str], WrittenTable]) -> StagedDay:
        """Stage the day `key` that `write` writes to the file it is given (e.g. part by part, never
        held whole), flushed to disk in the background."""
        local = self._local_folder(key)
        folder = local or self._scratch_folder()
        folder.mkdir(parents=True, exist_ok=True)
        remove_orphans(folder, key)
        staged = folder / f".{key}.{_HOST}.{os.getpid()}.{uuid.uuid4().hex}{STAGED_SUFFIX}"
        self._staged.append(staged)
        written = write(os.fspath(staged))
        return StagedDay(
            staged=staged,
            rows=written.rows,
            columns=written.columns,
            preview=markdown_table(written.head, PREVIEW_ROWS),
            # With the concrete types of its columns (a log's text IDs), which the readers parse it with.
            attrs=attrs_to_store(schema_of(self.asset), written.head, written.attrs),
            private_folder=local is None,
            flushed=self._flusher.submit(fsync, staged),
        )

    def discard(self) -> None:
        """Remove every staged file not yet put in place (a no-op for those that were)."""
        for staged in self._staged:
            staged.unlink(missing_ok=True)
        self._staged.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _scratch_folder(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix=f"poppy-{self.asset}-staged-"))
        return self._scratch

    def __enter__(self) -> DayStaging:
        return self

    def __exit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._flusher.shutdown(wait=error_type is not None)  # the flushes queued go on; their days wait
        if error_type is not None:
            self.discard()
        if isinstance(error, OSError) and (failure := self._failure(error)) is not None:
            raise failure from None


def remove_orphans(folder: Path, key: str) -> list[Path]:
    """Remove what was staged for the day `key` in `folder` by a process of this machine that is gone
    (a step killed with `kill -9`, a Celery worker lost mid-step): it cannot clean up after itself.
    Files of live processes, and of other machines (whose processes cannot be asked), stay."""
    removed = []
    for staged in folder.glob(f".{glob.escape(key)}.*{STAGED_SUFFIX}"):
        parts = staged.name[len(key) + 2 : -len(STAGED_SUFFIX)].split(".")
        if len(parts) == 3 and parts[0] == _HOST and parts[1].isdigit() and not _alive(int(parts[1])):
            staged.unlink(missing_ok=True)
            removed.append(staged)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:  # a killed process its parent has not reaped yet (a zombie) is gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def discard_staged(days: Mapping[str, StagedDay]) -> None:
    """Remove the staged files of `days` that are still there (after a failed commit)."""
    for day in days.values():
        day.staged.unlink(missing_ok=True)
        if day.private_folder:
            shutil.rmtree(day.staged.parent, ignore_errors=True)


class DayFiles(Mapping[str, Any]):
    """The days of a partitioned input, each read from its file when asked for (`days[key]`), none kept.

    Iterating gives the keys in day order; `.values()` would read every day, one after another.
    """

    def __init__(self, paths: Mapping[str, Any], load: Callable[[Any], Any]) -> None:
        self._paths = dict(paths)
        self._load = load

    def __getitem__(self, key: str) -> Any:
        return self._load(self._paths[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        keys = list(self._paths)
        return f"DayFiles({len(keys)} days: {keys[0]}..{keys[-1]})" if keys else "DayFiles(no days)"
