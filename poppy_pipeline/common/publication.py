"""A run's outputs, staged while it runs and published together when it has succeeded.

Every file a run writes goes first to its *staging*: `<root>/.poppy_staging/<run id>/`, the same
relative path as its published place, on the same filesystem (so publishing is a rename). A root
is the outputs folder, or a folder the operator named through the environment for files other
systems read (`POPPY_ENGINE_EXPORT_DIR`); a run that stages under such a root records it in its
outputs staging (`.poppy_roots/`). Readers inside the run see the staged file first, then the
published one.

Publishing, once every step and every blocking check has passed, writes a journal
(`<outputs>/.poppy_publishing.json`: every rename, before any is made), makes the renames, then
removes the journal and the staging. A process killed in between leaves the journal, which the
next run into the folder rolls forward (every step is idempotent) before it starts. A failed run's
staging is removed, except the rows it rejected (`quarantine/`), kept for reading until the next run.

What is staged, beside plain files: a folder published as a whole (`whole_folder`: the previous
one is replaced, not merged into) and a published file to remove (`remove_when_published`), each
marked in the staging by an empty file `.<name>.poppy_whole` / `.<name>.poppy_removed`. Names that
start with a dot are never published themselves (writers' temporary files, markers). No Dagster here:
the executor (`dagster_support/run_lock_executor.py`) drives it under the folder's lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from poppy_pipeline.common.paths import fsync, replaced_atomically

STAGING_FOLDER = ".poppy_staging"
JOURNAL_FILE = ".poppy_publishing.json"
ROOTS_FOLDER = ".poppy_roots"
WHOLE_MARK = ".poppy_whole"
REMOVED_MARK = ".poppy_removed"
OLD_SUFFIX = ".poppy_old"
# Kept when a run fails: the rows it rejected, which say why it failed.
KEPT_WHEN_FAILED = "quarantine"


@dataclass(frozen=True)
class Move:
    """One step of a publication: `staged` renamed to `final` (a file or a whole folder), or `final` removed."""

    kind: str  # "file", "folder" or "remove"
    staged: str
    final: str

    def apply(self, run_id: str) -> bool:
        """Make this step (again): True when it changed something. Safe to repeat after a crash."""
        staged, final = Path(self.staged), Path(self.final)
        if self.kind == "remove":
            existed = final.is_file()
            final.unlink(missing_ok=True)
            return existed
        if self.kind == "file":
            if not staged.exists():
                return False  # done before the crash
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
            return True
        aside = final.with_name(f".{final.name}.{run_id}{OLD_SUFFIX}")
        moved = False
        if staged.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists() and not aside.exists():
                final.rename(aside)
            if final.exists():  # renamed aside before the crash, and another folder there since: replace it too
                shutil.rmtree(final)
            staged.rename(final)
            moved = True
        shutil.rmtree(aside, ignore_errors=True)
        return moved


class OutsideRoots(ValueError):
    """A path outside the outputs folder and every root the operator set: it cannot be staged."""


class RunStaging:
    """Where run `run_id` stages what it writes under `outputs` (and under the operator's `roots`)."""

    def __init__(self, outputs: Path, run_id: str, roots: Iterable[Path] = ()) -> None:
        self.outputs = Path(os.path.abspath(outputs))
        self.run_id = run_id
        self.roots = [self.outputs, *(Path(os.path.abspath(root)) for root in roots)]

    def folder(self, root: Path | None = None) -> Path:
        """The run's staging under `root` (default: the outputs folder)."""
        return (root or self.outputs) / STAGING_FOLDER / self.run_id

    @property
    def active(self) -> bool:
        """Whether this run stages (its publisher created the staging before the first step)."""
        return self.folder().is_dir()

    def begin(self) -> None:
        self.folder().mkdir(parents=True, exist_ok=True)

    def root_of(self, final: Path) -> Path:
        """The root `final` is published under: the outputs folder, else the innermost operator root."""
        final = Path(os.path.abspath(final))
        for root in sorted(self.roots, key=lambda r: (r != self.outputs, -len(r.parts))):
            if final == root or root in final.parents:
                return root
        shown = ", ".join(str(root) for root in self.roots)
        raise OutsideRoots(f"{final} is outside the outputs folder and the folders the environment names ({shown})")

    def staged(self, final: Path) -> Path:
        """Where this run writes what it publishes at `final` (a file or a folder)."""
        root = self.root_of(final)
        if root != self.outputs:
            self._register(root)
        return self.folder(root) / Path(os.path.abspath(final)).relative_to(root)

    def readable(self, final: Path) -> Path:
        """What a reader in this run reads for `final`: the staged version when there is one."""
        staged = self.staged(final)
        return staged if staged.exists() else Path(final)

    def published(self, path: Path) -> Path:
        """Where a staged `path` of this run will be published (a path elsewhere is returned as is)."""
        path = Path(os.path.abspath(path))
        for root in self.roots:
            folder = self.folder(root)
            if path == folder or folder in path.parents:
                return root / path.relative_to(folder)
        return path

    def whole_folder(self, final: Path) -> Path:
        """The staged folder to write in full: published as a whole, replacing the previous one."""
        staged = self.staged(final)
        staged.parent.mkdir(parents=True, exist_ok=True)
        (staged.parent / f".{staged.name}{WHOLE_MARK}").touch()
        return staged

    def remove_when_published(self, final: Path) -> None:
        """Remove the published file `final` when this run is published (say, rejected rows no longer rejected)."""
        staged = self.staged(final)
        staged.unlink(missing_ok=True)
        staged.parent.mkdir(parents=True, exist_ok=True)
        (staged.parent / f".{staged.name}{REMOVED_MARK}").touch()

    def _register(self, root: Path) -> None:
        record = self.folder() / ROOTS_FOLDER / hashlib.sha256(str(root).encode()).hexdigest()[:16]
        if not record.exists():
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(str(root))

    def staging_roots(self) -> list[Path]:
        """The roots this run staged under: the outputs folder and those it registered."""
        registered = self.folder() / ROOTS_FOLDER
        recorded = [Path(p.read_text()) for p in sorted(registered.iterdir())] if registered.is_dir() else []
        return [self.outputs, *recorded]

    def moves(self) -> list[Move]:
        """Every step of publishing this run, in a fixed order."""
        moves: list[Move] = []
        for root in self.staging_roots():
            folder = self.folder(root)
            if folder.is_dir():
                moves += _moves_in(folder, root)
        return moves

    def publish(self) -> list[Path]:
        """Publish the run (journal, renames, no journal) and remove its staging; returns the paths changed."""
        moves = self.moves()
        journal = self.outputs / JOURNAL_FILE
        if moves:
            record = {"run_id": self.run_id, "moves": [vars(move) for move in moves]}
            with replaced_atomically(journal) as temporary:
                temporary.write_text(json.dumps(record, indent=1) + "\n")
        changed = _apply(moves, self.run_id)
        if moves:
            journal.unlink()
            fsync(self.outputs)
        self.remove()
        return changed

    def discard(self, keep_rejected: bool = True) -> Path | None:
        """Remove what this run staged (it failed); the rows it rejected stay when `keep_rejected`.
        Returns the folder of those rows, when there are any."""
        kept = self.folder() / KEPT_WHEN_FAILED
        if not (keep_rejected and kept.is_dir()):
            self.remove()
            return None
        for root in self.staging_roots()[1:]:
            shutil.rmtree(self.folder(root), ignore_errors=True)
            _remove_if_empty(root / STAGING_FOLDER)
        for entry in self.folder().iterdir():
            if entry.name != KEPT_WHEN_FAILED:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        for marker in [*kept.rglob(f"*{REMOVED_MARK}"), *kept.rglob(f"*{WHOLE_MARK}")]:
            marker.unlink()  # only the rows are worth reading
        return kept

    def remove(self) -> None:
        """Remove every staging of this run, under every root."""
        for root in reversed(self.staging_roots()):
            shutil.rmtree(self.folder(root), ignore_errors=True)
            _remove_if_empty(root / STAGING_FOLDER)


def _moves_in(folder: Path, root: Path) -> list[Move]:
    moves: list[Move] = []
    for current, folders, files in os.walk(folder):
        here = Path(current)
        if here == folder:
            folders[:] = [name for name in folders if name != ROOTS_FOLDER]
        whole = {name[1 : -len(WHOLE_MARK)] for name in files if name.endswith(WHOLE_MARK)}
        for name in sorted(folders):
            if name in whole:
                moves.append(Move("folder", str(here / name), str(root / (here / name).relative_to(folder))))
        folders[:] = sorted(name for name in folders if name not in whole and not name.startswith("."))
        for name in sorted(files):
            final = root / (here / name).relative_to(folder)
            if name.endswith(REMOVED_MARK):
                removed = final.with_name(name[1 : -len(REMOVED_MARK)])
                moves.append(Move("remove", str(here / removed.name), str(removed)))
            elif not name.startswith("."):
                moves.append(Move("file", str(here / name), str(final)))
    return moves


def _apply(moves: list[Move], run_id: str) -> list[Path]:
    changed = [Path(move.final) for move in moves if move.apply(run_id)]
    for parent in sorted({Path(move.final).parent for move in moves if Path(move.final).parent.is_dir()}):
        fsync(parent)
    return changed


def roll_forward(outputs: Path) -> tuple[str, list[Path]] | None:
    """Finish a publication a killed process left half done (its journal): (its run id, the paths
    changed now), or None when there was none. Call it holding the folder's lock."""
    journal = Path(outputs) / JOURNAL_FILE
    try:
        record = json.loads(journal.read_text())
    except FileNotFoundError:
        return None
    moves = [Move(**move) for move in record["moves"]]
    changed = _apply(moves, record["run_id"])
    journal.unlink()
    fsync(Path(outputs))
    RunStaging(outputs, record["run_id"]).remove()
    return record["run_id"], changed


def clear_stale(outputs: Path, current_run: str | None = None) -> list[str]:
    """Remove the staging of every other run in `outputs` (dead, or failed with rejected rows kept):
    the run ids removed. Call it holding the folder's lock, after `roll_forward`."""
    staging = Path(outputs) / STAGING_FOLDER
    if not staging.is_dir():
        return []
    removed = []
    for folder in sorted(staging.iterdir()):
        if folder.name != current_run:
            RunStaging(outputs, folder.name).remove()
            shutil.rmtree(folder, ignore_errors=True)  # a stray file or a folder without roots
            removed.append(folder.name)
    _remove_if_empty(staging)
    return removed


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or already gone
        folder.rmdir()
