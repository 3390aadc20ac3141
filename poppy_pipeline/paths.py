"""Where the project reads inputs and writes outputs (resolved when used, not at import)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_DATA_DIR = "data/outputs"
DEFAULT_OBJECTS_DIR = "data/objects"


def data_dir() -> Path:
    """Base folder of every output: `$POPPY_DATA_DIR`, default `data/outputs`."""
    return Path(os.environ.get("POPPY_DATA_DIR") or DEFAULT_DATA_DIR)


def quarantine_dir(base: Path, asset_name: str) -> Path:
    """Where an asset's rejected input rows go under the outputs folder `base`, each with a `reason` column."""
    return base / "quarantine" / asset_name


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """Yields a temporary sibling to write; it replaces `path` only if the block succeeds.

    A crash or an error never leaves a half-written file, and the previous good file survives:
    the temporary file is flushed to disk (fsync) before the rename, and the folder after it, so
    a power cut cannot leave the new name pointing at data that never reached the disk. Each
    writer has its own temporary name, so two writers of one file do not collide.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield temporary
        fsync(temporary)
        os.replace(temporary, path)
        fsync(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


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
