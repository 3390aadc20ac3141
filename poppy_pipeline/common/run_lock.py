"""One run at a time per outputs folder: a lock file in `$POPPY_DATA_DIR`.

The run's orchestrating process holds an exclusive `flock` on `<folder>/.poppy_run.lock` for
the whole run and writes its holder record (run id, pid, host, start time) into it. The kernel
drops a `flock` when its process dies, however it dies, so a killed run never blocks the folder;
its record stays behind, which is how the next run learns that the previous one died (stale) and
says so. A second run meanwhile waits up to `wait_seconds`, then fails with a sentence naming
the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

LOCK_NAME = ".poppy_run.lock"
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) an outputs folder."""

    run_id: str
    pid: int
    host: str
    started: str  # ISO 8601, UTC

    @classmethod
    def this_process(cls, run_id: str) -> Holder:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(run_id=run_id, pid=os.getpid(), host=socket.gethostname(), started=now)

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, started {self.started})"


class FolderBusy(RuntimeError):
    """Another run holds the outputs folder."""


def lock_path(folder: Path) -> Path:
    return folder / LOCK_NAME


def read_holder(folder: Path) -> Holder | None:
    """The holder record in `folder`'s lock file, or None when there is none (or it is unreadable)."""
    try:
        record = json.loads(lock_path(folder).read_text() or "null")
        return Holder(**record) if isinstance(record, dict) else None
    except (OSError, ValueError, TypeError):
        return None


@contextmanager
def folder_lock(
    folder: Path,
    run_id: str,
    wait_seconds: float = 0.0,
    on_stale: Callable[[Holder], None] | None = None,
) -> Iterator[Holder]:
    """Hold `folder` for `run_id` for the duration of the block.

    `on_stale` is called with the record of a previous holder that died without releasing the
    folder (after the new record is in place). Raises `FolderBusy` naming the holder when another
    live run keeps the folder for longer than `wait_seconds`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path(folder), "a+")  # noqa: SIM115 (held open for the whole block)
    try:
        _lock_or_wait(handle, folder, wait_seconds)
        previous = read_holder(folder)
        holder = Holder.this_process(run_id)
        _write_record(handle, holder)
        if previous is not None and previous.run_id != run_id and on_stale is not None:
            on_stale(previous)
        try:
            yield holder
        finally:
            handle.truncate(0)  # released cleanly: no record left to look stale
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _lock_or_wait(handle: TextIO, folder: Path, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise FolderBusy(busy_message(folder, read_holder(folder), wait_seconds)) from None
            time.sleep(POLL_SECONDS)


def busy_message(folder: Path, holder: Holder | None, wait_seconds: float) -> str:
    who = holder.describe() if holder else "another run (its record is not written yet)"
    waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
    return (
        f"The outputs folder {folder.resolve()} is in use by {who}{waited}: wait for it to finish,"
        f" or set POPPY_DATA_DIR to another folder."
    )


def _write_record(handle: TextIO, holder: Holder) -> None:
    handle.seek(0)
    handle.truncate(0)
    handle.write(json.dumps(asdict(holder)))
    handle.flush()
    os.fsync(handle.fileno())
