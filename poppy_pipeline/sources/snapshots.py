"""One version of each source file per run: a file that changes while a run reads it fails the run.

Several assets read the same log (the users, the catalog and the interactions are made from it, in
steps that may run in different processes). Each read goes through a `SourceSnapshot`, which keeps
the fingerprint (size, modification time, SHA-256 of the bytes read) of the first read of each file
and refuses a later read that finds other bytes. The fingerprints travel with the tables made from
the file (`attrs`, stored beside them), so a step downstream holds its read to the upstream's: a log
rewritten between `users` and `simulated_interactions` is named in one sentence, instead of its new
rows being quarantined as unknown users.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from poppy_pipeline.sources.raw_csv import SourceError

# The key of a table's `attrs` that holds the fingerprints of the source files it was made from.
SOURCE_FILES_ATTR = "source_files"


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int
    sha256: str

    def describe(self) -> str:
        modified = datetime.fromtimestamp(self.mtime_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"{self.size:,} bytes modified {modified} UTC (SHA-256 {self.sha256[:12]}…)"


class SourceSnapshot:
    """The fingerprints of the source files read so far in a run (or held by the tables made from them)."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[Fingerprint, str]] = {}  # path -> (fingerprint, who read it first)

    def read(self, path: Path) -> bytes:
        """The file's bytes; a `SourceError` if they differ from those of the run's first read."""
        status = path.stat()
        data = path.read_bytes()
        found = Fingerprint(len(data), status.st_mtime_ns, hashlib.sha256(data).hexdigest())
        self._hold(str(path), found, "this step first read", "this step now reads")
        return data

    def expect(self, recorded: Mapping[str, Mapping[str, Any]], made: str) -> None:
        """Hold later reads to the fingerprints a table (`made`, e.g. `users`) was made from."""
        for path, fields in recorded.items():
            label = f"{made} was made from"
            self._hold(path, Fingerprint(**fields), label, label)

    def _hold(self, path: str, found: Fingerprint, first_label: str, later_label: str) -> None:
        first, label = self._first.setdefault(path, (found, first_label))
        if first.sha256 != found.sha256:
            raise SourceError(
                path,
                f"changed during the run: {label} {first.describe()}, {later_label} {found.describe()};"
                " materialize what is made from it again once nothing writes to it (or from a copy of it)",
            )

    def recorded(self) -> dict[str, dict[str, Any]]:
        """The fingerprints, as a table's `attrs` keep them (JSON)."""
        return {path: asdict(fingerprint) for path, (fingerprint, _) in sorted(self._first.items())}
