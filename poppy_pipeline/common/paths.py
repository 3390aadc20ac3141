"""Where the project reads inputs and writes outputs (resolved when used, not at import)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_DATA_DIR = "data/outputs"
DEFAULT_OBJECTS_DIR = "data/objects"


def data_dir() -> Path:
    """The default outputs folder (the `outputs` resource sets no base_dir): `$POPPY_DATA_DIR`, else `data/outputs`."""
    return Path(os.environ.get("POPPY_DATA_DIR") or DEFAULT_DATA_DIR)


def quarantine_dir(base: Path, asset_name: str) -> Path:
    """Where an asset's rejected input rows go under the outputs folder `base`, each with a `reason` column."""
    return base / "quarantine" / asset_name


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """Yields a temporary sibling to write (a file, or a folder the block creates); it replaces
    `path` only if the block succeeds. The project's one atomic writer: every output goes through it.

    A crash or an error never leaves a half-written file or folder, and the previous good one
    survives: the new data is flushed to disk (fsync) before the rename, and the parent folder
    after it, so a power cut cannot leave the new name pointing at data that never reached the
    disk. Each writer has its own temporary name, so two writers of one path do not collide: the
    last rename wins, and the path holds one writer's complete version.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield temporary
        if temporary.is_dir():
            for written in sorted(temporary.rglob("*")):
                fsync(written)
            _swap_folder_in(temporary, path)
        else:
            fsync(temporary)
            os.replace(temporary, path)
        fsync(path.parent)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)


def _swap_folder_in(staging: Path, destination: Path) -> None:
    """Rename a finished folder into place, the previous one moved aside first and dropped after.

    A folder cannot be renamed over a non-empty one, so it takes two renames: the destination is
    briefly absent, but never half-written. When another writer's folder lands in between, it is
    moved aside too and the rename retried; on any other failure the previous folder is put back.
    """
    retired: list[Path] = []
    while True:
        aside = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.old")
        try:
            destination.rename(aside)
            retired.append(aside)
        except FileNotFoundError:
            pass
        try:
            staging.rename(destination)
            break
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue  # a concurrent writer got there first: retire theirs as well
            if retired and not destination.exists():
                retired.pop().rename(destination)
            raise
    for folder in retired:
        shutil.rmtree(folder, ignore_errors=True)


def fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_json(value: object, path: Path) -> Path:
    """`value` as indented JSON at `path`, atomically."""
    with replaced_atomically(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2) + "\n")
    return path
