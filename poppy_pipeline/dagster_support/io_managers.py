"""IO managers, one per format: CSV (pyarrow), pickle, ONNX bytes.

Files land under the `outputs` resource's folder (`$POPPY_DATA_DIR`, default `data/outputs`):
`<asset key>/<YYYY-MM-DD>.csv` for a daily partition, `<asset key>.<csv|pkl|onnx>` otherwise. In a
run published as a whole (`common/publication.py`) every file goes to the run's staging and every
input is read from what the run staged before what is published (metadata names published paths).

Partitioned assets return `dict[partition key, value]` and receive their partitioned inputs as a
`DayFiles` mapping (each day read when asked for), whatever the number of partitions, so a single
run can backfill a whole window and still write one file per day. A daily table may be returned
as `StagedDay`s (`staged_days.py`: each day written as it was made), which are renamed into place
here. Writes are atomic (`paths.replaced_atomically`: a temp file beside the target, fsynced, then
renamed over it). A table's `DataFrame.attrs` (e.g. the settings it was made with) travel with it,
as JSON beside the CSV (`<file>.csv.attrs.json`). A pickle's SHA-256 is written beside it
(`<name>.pkl.sha256`) and checked before it is unpickled, with an allow-list of the classes the
pipeline writes (`common/safe_pickle.py`): a damaged or forged pickle is refused, never run.
"""

import hashlib
import json
import os
import pickle
import shutil
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import dagster as dg
import pandas as pd
from upath import UPath

from poppy_pipeline.common import safe_pickle, tables
from poppy_pipeline.common.paths import fsync, replaced_atomically
from poppy_pipeline.common.schemas import COLUMN_TYPES_ATTR, SchemaError, attrs_to_store, schema_of
from poppy_pipeline.dagster_support.column_schemas import COLUMN_SCHEMA, column_schema
from poppy_pipeline.dagster_support.metadata import markdown_table
from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource, write_failure
from poppy_pipeline.dagster_support.staged_days import PREVIEW_ROWS, DayFiles, DayStaging, StagedDay, discard_staged


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
        if self.outputs is None or self.outputs.staging is None or not _is_local(final):
            return final
        return UPath(where(self.outputs, _local_path(final)))

    def write_failure(self, error: OSError, final: UPath) -> Exception | None:
        """The sentence for a failed write of `final` the user can fix (no space, read-only), if it is one."""
        if self.outputs is None or not _is_local(final):
            return None
        return write_failure(error, _local_path(final), self.outputs)

    def _writing(self, final: UPath) -> AbstractContextManager:
        """A failed write (no space, read-only) as one sentence naming `final`."""
        if self.outputs is None or not _is_local(final):
            return nullcontext()
        return self.outputs.writing(_local_path(final))

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
        if not _is_local(path):
            with path.open("wb") as handle:
                write(handle)
            return
        with replaced_atomically(_local_path(path)) as temporary:
            write(os.fspath(temporary))


def _require_partition_dict(context: dg.OutputContext, obj: Any, keys: list[str]) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping) or set(obj) != set(keys):
        got = sorted(obj)[:5] if isinstance(obj, Mapping) else type(obj).__name__
        raise dg.DagsterInvariantViolationError(
            f"{context.asset_key.to_user_string()}: a partitioned asset must return a dict with "
            f"one value per partition of the run ({len(keys)} keys, e.g. {keys[:3]}), got {got}"
        )
    return obj


class _CsvFiles(PartitionedUPathIOManager):
    extension = ".csv"

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()}: the CSV IO manager stores DataFrames, got {type(obj).__name__}"
            )
        attrs = attrs_to_store(schema_of(self.table_of(path)), obj)
        self._store(path, attrs, lambda: self.atomic_write(path, lambda sink: tables.write_csv(obj, sink)))

    def _store(self, path: UPath, attrs: dict, write_table: Callable[[], None]) -> None:
        """`write_table()` puts the table at `path`; its attributes go beside it."""
        # The old attributes go first: a crash before the new ones are written leaves the table with
        # none rather than with another version's. (In a run's staging: they go with its publication.)
        attrs_path = _attrs_path(path)
        if attrs_path.exists():
            attrs_path.unlink()
        staging = self.outputs.staging if self.outputs is not None and _is_local(path) else None
        if staging is not None and not attrs:
            published = _local_path(_attrs_path(UPath(staging.published(_local_path(path)))))
            if published.exists():
                staging.remove_when_published(published)
        write_table()
        if attrs:
            payload = (json.dumps(attrs, sort_keys=True) + "\n").encode()
            self.atomic_write(attrs_path, lambda sink: _write_bytes(sink, payload))

    def table_of(self, path: UPath) -> str:
        """The asset a stored file (published, or in a run's staging) belongs to: `<base>/<asset>.csv`
        or `<base>/<asset>/<day>.csv`."""
        final = path
        if self.outputs is not None and _is_local(path):
            final = UPath(self.outputs.published_path(_local_path(path)))
        folder = os.path.abspath(_local_path(final.parent)) if _is_local(final) else str(final.parent)
        base = os.path.abspath(_local_path(self._base_path)) if _is_local(self._base_path) else str(self._base_path)
        return final.stem if folder == base else final.parent.name

    def load_from_path(self, context: dg.InputContext | None, path: UPath) -> pd.DataFrame:
        """The table with its declared column types (and those recorded beside it), and its `attrs`."""
        attrs_path = _attrs_path(path)
        attrs = json.loads(attrs_path.read_text()) if attrs_path.exists() else {}
        recorded = attrs.pop(COLUMN_TYPES_ATTR, {})
        schema = schema_of(self.table_of(path))
        try:
            if _is_local(path):
                frame = tables.read_stored(os.fspath(_local_path(path)), schema, recorded)
            else:
                with path.open("rb") as handle:
                    frame = tables.read_stored(handle, schema, recorded)
        except SchemaError as error:
            raise dg.Failure(f"{path}: {error}") from None
        frame.attrs = attrs
        return frame

    def load_batches(self, asset_key: str, columns: list[str]) -> Iterator[pd.DataFrame]:
        """`columns` of an unpartitioned table, a block of rows at a time, with their declared types."""
        path = self.stored_path(asset_key)
        attrs_path = _attrs_path(path)
        recorded = json.loads(attrs_path.read_text()).get(COLUMN_TYPES_ATTR, {}) if attrs_path.exists() else {}
        with path.open("rb") as handle:
            yield from tables.read_stored_batches(handle, schema_of(asset_key), columns, recorded)

    def get_metadata(self, context: dg.OutputContext, obj: pd.DataFrame) -> dict[str, Any]:
        table = context.asset_key.path[-1]
        return {
            "dagster/row_count": len(obj),
            "columns": ", ".join(map(str, obj.columns)),
            COLUMN_SCHEMA: column_schema(table, attrs_to_store(schema_of(table), obj).get(COLUMN_TYPES_ATTR, {})),
            "preview": dg.MetadataValue.md(markdown_table(obj, PREVIEW_ROWS)),
        }

    def staging(self, asset_key: str) -> DayStaging:
        """Days of `asset_key` staged beside their final files (or locally, for object storage)."""

        def local_folder(key: str) -> Path | None:
            path = self.write_path(self._final_partition_path(asset_key, key))
            return _local_path(path).parent if _is_local(path) else None

        folder = self._final_partition_path(asset_key, "day").parent
        return DayStaging(asset_key, local_folder, tables.write_csv, lambda error: self.write_failure(error, folder))

    def put_in_place(self, day: StagedDay, path: UPath) -> None:
        """As `dump_to_path` leaves it, by a rename (an upload, for object storage) instead of a write."""

        def move() -> None:
            if _is_local(path):
                os.replace(day.staged, _local_path(path))
                fsync(_local_path(path).parent)
            else:
                with day.staged.open("rb") as staged, path.open("wb") as handle:
                    shutil.copyfileobj(staged, handle)

        self._store(path, day.attrs, move)

    def get_partitions_metadata(self, values: Mapping[str, Any], paths: Mapping[str, UPath]) -> dict[str, Any]:
        first = next(iter(values.values()))
        table = self.table_of(next(iter(paths.values())))
        if isinstance(first, StagedDay):
            rows = {key: day.rows for key, day in values.items()}
            columns, preview, attrs = first.columns, first.preview, first.attrs
        else:
            rows = {key: len(frame) for key, frame in values.items()}
            columns, preview = tuple(map(str, first.columns)), markdown_table(first, PREVIEW_ROWS)
            attrs = attrs_to_store(schema_of(table), first)
        return {
            "dagster/row_count": sum(rows.values()),
            "partitions_written": len(rows),
            "rows_per_partition": dg.MetadataValue.json(rows),
            "columns": ", ".join(columns),
            COLUMN_SCHEMA: column_schema(table, attrs.get(COLUMN_TYPES_ATTR, {})),
            "preview": dg.MetadataValue.md(preview),
        }


def _is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def _local_path(path: UPath) -> Path:
    """A local `path` (`_is_local`) as a pathlib Path: only those have one on this machine."""
    if not isinstance(path, os.PathLike):
        raise TypeError(f"{path} is not a path on this machine's file system")
    return Path(os.fspath(path))


def _attrs_path(path: UPath) -> UPath:
    return path.with_name(path.name + ".attrs.json")


class PickleIntegrityError(dg.Failure):
    """A pickle whose bytes are not the ones recorded when it was written: refused, not unpickled."""


class _PickleFiles(PartitionedUPathIOManager):
    extension = ".pkl"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(payload).hexdigest()
        self.atomic_write(path, lambda sink: _write_bytes(sink, payload))
        record = f"{digest}  {path.name}\n".encode()
        self.atomic_write(_digest_path(path), lambda sink: _write_bytes(sink, record))
        context.add_output_metadata({"sha256": digest, "size_bytes": len(payload)})

    def load_from_path(self, context: dg.InputContext | None, path: UPath) -> Any:
        with path.open("rb") as handle:
            payload = handle.read()
        asset = path.name.removesuffix(self.extension)
        try:
            return safe_pickle.loads(verified(payload, path), str(path), asset)
        except safe_pickle.RefusedPickle as refused:
            raise PickleIntegrityError(str(refused)) from None

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, Any]:
        return {"type": type(obj).__name__, "preview": dg.MetadataValue.text(repr(obj)[:1000])}


def _digest_path(path: UPath) -> UPath:
    return path.with_name(path.name + ".sha256")


def verified(payload: bytes, path: UPath) -> bytes:
    """`payload` if its SHA-256 is the one recorded beside `path` when it was written; else refused."""
    record = _digest_path(path)
    if not record.exists():
        raise PickleIntegrityError(
            f"{path}: no recorded SHA-256 ({record.name} is missing), so it is not unpickled;"
            " materialize its asset again."
        )
    expected = (record.read_text().split() or [""])[0]
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise PickleIntegrityError(
            f"{path}: its SHA-256 {actual[:16]}… differs from {expected[:16] or 'nothing'}… recorded in"
            f" {record.name} when it was written: the file was changed or damaged since, so it is not"
            " unpickled; materialize its asset again."
        )
    return payload


class _OnnxFiles(PartitionedUPathIOManager):
    extension = ".onnx"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        payload = _onnx_bytes(obj)
        self.atomic_write(path, lambda sink: _write_bytes(sink, payload))

    def load_from_path(self, context: dg.InputContext | None, path: UPath) -> bytes:
        with path.open("rb") as handle:
            return handle.read()

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, Any]:
        payload = _onnx_bytes(obj)
        return {"size_bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def _onnx_bytes(obj: Any) -> bytes:
    if isinstance(obj, bytes | bytearray):
        return bytes(obj)
    if hasattr(obj, "SerializeToString"):  # onnx.ModelProto
        return obj.SerializeToString()
    raise TypeError(f"the ONNX IO manager stores bytes or an onnx.ModelProto, got {type(obj).__name__}")


def _write_bytes(sink: BinaryIO | str, payload: bytes) -> None:
    if isinstance(sink, str):
        with open(sink, "wb") as handle:
            handle.write(payload)
    else:
        sink.write(payload)


_Manager = TypeVar("_Manager", bound=PartitionedUPathIOManager)


# Function-style, so that they take the base folder from the run's `outputs` resource by key: one
# setting (run config or a bound instance) moves every file, theirs and the reports' alike.
@dg.io_manager(
    required_resource_keys={OUTPUTS}, description="Tables as CSV, written with pyarrow; one file per daily partition."
)
def csv_io_manager(context: dg.InitResourceContext) -> _CsvFiles:
    return _with_outputs(_CsvFiles(base_path=context.resources.outputs.upath()), context)


@dg.io_manager(required_resource_keys={OUTPUTS}, description="Python objects (fitted models) as verified pickles.")
def pickle_io_manager(context: dg.InitResourceContext) -> _PickleFiles:
    return _with_outputs(_PickleFiles(base_path=context.resources.outputs.upath()), context)


@dg.io_manager(required_resource_keys={OUTPUTS}, description="ONNX models as raw bytes.")
def onnx_io_manager(context: dg.InitResourceContext) -> _OnnxFiles:
    return _with_outputs(_OnnxFiles(base_path=context.resources.outputs.upath()), context)


def _with_outputs(manager: _Manager, context: dg.InitResourceContext) -> _Manager:
    """The manager, writing where the run's `outputs` resource says (its staging, when it has one)."""
    manager.outputs = context.resources.outputs
    return manager
