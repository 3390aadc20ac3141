"""The IO managers' shared base: one file per partition, written into the run's staging.

`PartitionedUPathIOManager` is Dagster's `UPathIOManager` that writes a multi-partition output as
one file per partition (a partitioned asset returns `dict[partition key, value]`, or `StagedDay`s
that are renamed into place, `staged_days.py`), maps every file to the run's staging when the run
is published as a whole (`outputs`: `write_path`, `read_path`), reads partitioned inputs as
`DayFiles`, turns a missing upstream file into one sentence, and writes atomically
(`paths.replaced_atomically`). The formats (CSV, pickle, ONNX) are in `io_managers.py`.
"""

import os
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO

import dagster as dg
import pandas as pd
from upath import UPath

from poppy_pipeline.common.paths import replaced_atomically
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource, write_failure
from poppy_pipeline.dagster_support.pickle_digests import PickleIntegrityError
from poppy_pipeline.dagster_support.staged_days import DayFiles, DayStaging, StagedDay, discard_staged


class PartitionedUPathIOManager(dg.UPathIOManager):
    """`UPathIOManager` that writes one file per partition of a multi-partition output, into the
    run's staging when the run is published as a whole (`outputs`)."""

    outputs: OutputsResource | None = None  # set by the factories below; None: write in place

    @abstractmethod
    def load_from_path(self, context: dg.InputContext | None, path: UPath) -> Any:
        """The value stored at `path`; `context` None when read outside an input (`load_path`)."""

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not context.has_asset_partitions:
            final = self._get_path(context)
            with self._writing(final):
                self.make_directory(self.write_path(final).parent)
                context.log.debug(self.get_writing_output_log_message(final))
                self.dump_to_path(context, obj, self.write_path(final))
            where = {"path": dg.MetadataValue.path(str(final))} if obj is not None else {}
            context.add_output_metadata({**where, **self.get_metadata(context, obj)})
            return
        paths = self._get_paths_for_partitions(context)
        values = _require_partition_dict(context, obj, list(paths))
        staged = {key: value for key, value in values.items() if isinstance(value, StagedDay)}
        with self._writing(next(iter(paths.values())).parent):
            if staged:
                self._put_staged_in_place(context, staged, paths)
            else:
                for key, path in paths.items():
                    self.make_directory(self.write_path(path).parent)
                    context.log.debug(self.get_writing_output_log_message(path))
                    self.dump_to_path(context, values[key], self.write_path(path))
        metadata: dict[str, Any] = {"path": dg.MetadataValue.path(str(next(iter(paths.values())).parent))}
        metadata.update(self.get_partitions_metadata(values, paths))
        context.add_output_metadata(metadata)

    def write_path(self, final: UPath) -> UPath:
        """Where this run writes the file published at `final`."""
        return self._staged(final, lambda outputs, path: outputs.write_path(path))

    def read_path(self, final: UPath) -> UPath:
        """What this run reads for `final`: what it staged there, else the published file."""
        return self._staged(final, lambda outputs, path: outputs.read_path(path))

    def _staged(self, final: UPath, where: Callable[[OutputsResource, Path], Path]) -> UPath:
        if self.outputs is None or self.outputs.staging is None or not is_local(final):
            return final
        return UPath(where(self.outputs, local_path(final)))

    def write_failure(self, error: OSError, final: UPath) -> Exception | None:
        """The sentence for a failed write of `final` the user can fix (no space, read-only), if it is one."""
        if self.outputs is None or not is_local(final):
            return None
        return write_failure(error, local_path(final), self.outputs)

    def _writing(self, final: UPath) -> AbstractContextManager:
        """A failed write (no space, read-only) as one sentence naming `final`."""
        if self.outputs is None or not is_local(final):
            return nullcontext()
        return self.outputs.writing(local_path(final))

    def _put_staged_in_place(
        self, context: dg.OutputContext, staged: dict[str, StagedDay], paths: Mapping[str, UPath]
    ) -> None:
        """Every staged day renamed into place; whatever could not be is removed, not left behind."""
        try:
            if len(staged) != len(paths):
                raise dg.DagsterInvariantViolationError(
                    f"{context.asset_key.to_user_string()}: a partitioned asset returns staged days for every"
                    f" partition or for none ({len(staged)} of {len(paths)} staged)"
                )
            for day in staged.values():  # every day on disk before any is put in place
                day.wait_until_flushed()
            for key, path in paths.items():
                self.make_directory(self.write_path(path).parent)
                context.log.debug(self.get_writing_output_log_message(path))
                self.put_in_place(staged[key], self.write_path(path))
        finally:
            discard_staged(staged)

    def put_in_place(self, day: StagedDay, path: UPath) -> None:
        """Put a staged day's file at `path` (formats that stage days implement it)."""
        raise NotImplementedError(f"{type(self).__name__} does not stage days")

    def staging(self, asset_key: str) -> DayStaging:
        """Stage the days of `asset_key` one at a time (see `staged_days.py`); formats that stage days."""
        raise NotImplementedError(f"{type(self).__name__} does not stage days")

    def load_batches(self, asset_key: str, columns: list[str]) -> Iterator[pd.DataFrame]:
        """`columns` of a stored table, a block of rows at a time (formats that store tables implement it)."""
        raise NotImplementedError(f"{type(self).__name__} does not store tables")

    def load_input(self, context: dg.InputContext) -> Any:
        """As `UPathIOManager` (what the run staged first), but a missing upstream file fails the step
        with one sentence."""
        try:
            if not context.has_asset_key or not context.has_asset_partitions:
                return self._load_single_input(self.read_path(self._get_path(context)), context)
            return super().load_input(context)
        except FileNotFoundError:
            raise dg.Failure(self._missing_upstream(context)) from None
        except PickleIntegrityError as refused:  # shown as the step's own sentence, like every Failure
            raise dg.Failure(description=refused.description, allow_retries=False) from None

    def _missing_upstream(self, context: dg.InputContext) -> str:
        asset = context.asset_key.to_user_string()
        if not context.has_asset_partitions:
            path = self._get_path(context)
            return f"{asset} is not materialized ({path} does not exist): materialize {asset} first."
        paths = self._get_paths_for_partitions(context)
        missing = [key for key, path in paths.items() if not self.path_exists(self.read_path(path))]
        days = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        return f"{asset} is not materialized for {days}: materialize {asset} for {days} first."

    def load_partitions(self, context: dg.InputContext) -> DayFiles:
        """Every partition of the input, even a single one, as a `DayFiles`: each read when asked for."""
        paths = {key: self.read_path(path) for key, path in self._get_paths_for_partitions(context).items()}
        if not all(self.path_exists(path) for path in paths.values()):
            raise FileNotFoundError(self._missing_upstream(context))
        return DayFiles(paths, lambda path: self.load_from_path(context, path))

    def get_partitions_metadata(self, values: Mapping[str, Any], paths: Mapping[str, UPath]) -> dict[str, Any]:
        return {"partitions_written": len(values)}

    def stored_path(self, asset_key: str) -> UPath:
        """Where this run reads an unpartitioned asset (what it staged, else the published file; it may not exist)."""
        return self.read_path(self._with_extension(self._base_path / asset_key))

    def partition_path(self, asset_key: str, partition_key: str) -> UPath:
        """Where this run reads one partition of `asset_key` (staged, else published; it may not exist)."""
        return self.read_path(self._final_partition_path(asset_key, partition_key))

    def _final_partition_path(self, asset_key: str, partition_key: str) -> UPath:
        return self._with_extension(self.make_safe_partition_path(self._base_path / asset_key, partition_key))

    def load_path(self, path: UPath) -> Any:
        """The value stored at `path` (one partition read at a time, see `day_span.py`)."""
        return self.load_from_path(None, path)

    def load_if_present(self, asset_key: str) -> Any | None:
        """The stored value of an unpartitioned asset, or None when it was never written."""
        path = self.stored_path(asset_key)
        return self.load_from_path(None, path) if self.path_exists(path) else None

    def atomic_write(self, path: UPath, write: Callable[[BinaryIO | str], None]) -> None:
        """Write via a temp file renamed into place (local), or in one put (object stores)."""
        if not is_local(path):
            with path.open("wb") as handle:
                write(handle)
            return
        with replaced_atomically(local_path(path)) as temporary:
            write(os.fspath(temporary))


def _require_partition_dict(context: dg.OutputContext, obj: Any, keys: list[str]) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping) or set(obj) != set(keys):
        got = sorted(obj)[:5] if isinstance(obj, Mapping) else type(obj).__name__
        raise dg.DagsterInvariantViolationError(
            f"{context.asset_key.to_user_string()}: a partitioned asset must return a dict with "
            f"one value per partition of the run ({len(keys)} keys, e.g. {keys[:3]}), got {got}"
        )
    return obj


def is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def local_path(path: UPath) -> Path:
    """A local `path` (`_is_local`) as a pathlib Path: only those have one on this machine."""
    if not isinstance(path, os.PathLike):
        raise TypeError(f"{path} is not a path on this machine's file system")
    return Path(os.fspath(path))


def write_bytes(sink: BinaryIO | str, payload: bytes) -> None:
    if isinstance(sink, str):
        with open(sink, "wb") as handle:
            handle.write(payload)
    else:
        sink.write(payload)
