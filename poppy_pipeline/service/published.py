"""The published engine files, read once per version: a request stats the file, and only a new
version (another inode, size or modification time: the pipeline replaces files atomically) is read."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import anyio
import anyio.to_thread

from poppy_pipeline.service.layers import Layer
from poppy_pipeline.service.records import Records, read_records

_Version = tuple[int, int, int, int]  # device, inode, size, modification time (ns)


@dataclass(frozen=True)
class Published:
    """One version of a layer's file, as the back end's `data`."""

    path: Path
    records: Records
    modified: datetime

    @property
    def described(self) -> str:
        return f"{self.path.name}: {self.records.rows} rows, published {self.modified:%Y-%m-%d %H:%M:%S} UTC"

    @cached_property
    def cached_body(self) -> bytes:
        """The whole answer to `cached` (the same for every request until the file changes)."""
        return success_body(self, f"cached: {self.described}; nothing computed.")


def success_body(published: Published, output: str) -> bytes:
    """`{"status": "success", "total_rows", "output", "data"}`, the data spliced in as read."""
    head = json.dumps({"status": "success", "total_rows": published.records.rows, "output": output})
    return head[:-1].encode() + b', "data": ' + published.records.json + b"}"


class PublishedFiles:
    """Each layer's file in `folder`, cached by version."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict[Path, tuple[_Version, Published]] = {}
        self._reading: dict[Path, anyio.Lock] = {}

    def path(self, layer: Layer) -> Path:
        return self.folder / layer.file_name

    async def read(self, layer: Layer) -> Published:
        """The file's current version; `FileNotFoundError` when none is published."""
        path = self.path(layer)
        if current := self._current(path):
            return current
        async with self._reading.setdefault(path, anyio.Lock()):  # one reader per file at a time
            if current := self._current(path):  # read by the request this one waited for
                return current
            version, published = await anyio.to_thread.run_sync(_read, path, layer)
            self._cache[path] = (version, published)
            return published

    def _current(self, path: Path) -> Published | None:
        cached = self._cache.get(path)
        return cached[1] if cached and cached[0] == _version(os.stat(path)) else None


def _read(path: Path, layer: Layer) -> tuple[_Version, Published]:
    """The bytes and the version of the same open file (a replacement meanwhile does not mix them)."""
    with open(path, "rb") as handle:
        status = os.fstat(handle.fileno())
        content = handle.read()
    modified = datetime.fromtimestamp(status.st_mtime, UTC)
    return _version(status), Published(path, read_records(content, path, layer.columns), modified)


def _version(status: os.stat_result) -> _Version:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
