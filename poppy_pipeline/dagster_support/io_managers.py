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
renamed over it). What the formats share, staging and partitions, is their base class
(`partitioned_io_manager.py`). A table's `DataFrame.attrs` (e.g. the settings it was made with)
travel with it, as JSON beside the CSV (`<file>.csv.attrs.json`). A pickle's SHA-256 is written
beside it (`<name>.pkl.sha256`) and checked before it is unpickled (`pickle_digests.py`), with an
allow-list of the classes the pipeline writes (`common/safe_pickle.py`): a damaged or forged pickle
is refused, never run.
"""

import hashlib
import json
import os
import pickle
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import pandas as pd
from upath import UPath

from poppy_pipeline.common import safe_pickle, tables
from poppy_pipeline.common.paths import fsync
from poppy_pipeline.common.schemas import COLUMN_TYPES_ATTR, SchemaError, attrs_to_store, schema_of
from poppy_pipeline.dagster_support.column_schemas import COLUMN_SCHEMA, column_schema
from poppy_pipeline.dagster_support.metadata import markdown_table
from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS
from poppy_pipeline.dagster_support.partitioned_io_manager import (
    PartitionedUPathIOManager,
    is_local,
    local_path,
    write_bytes,
)
from poppy_pipeline.dagster_support.pickle_digests import PickleIntegrityError, digest_path, verified
from poppy_pipeline.dagster_support.staged_days import PREVIEW_ROWS, DayStaging, StagedDay


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
        staging = self.outputs.staging if self.outputs is not None and is_local(path) else None
        if staging is not None and not attrs:
            published = local_path(_attrs_path(UPath(staging.published(local_path(path)))))
            if published.exists():
                staging.remove_when_published(published)
        write_table()
        if attrs:
            payload = (json.dumps(attrs, sort_keys=True) + "\n").encode()
            self.atomic_write(attrs_path, lambda sink: write_bytes(sink, payload))

    def table_of(self, path: UPath) -> str:
        """The asset a stored file (published, or in a run's staging) belongs to: `<base>/<asset>.csv`
        or `<base>/<asset>/<day>.csv`."""
        final = path
        if self.outputs is not None and is_local(path):
            final = UPath(self.outputs.published_path(local_path(path)))
        folder = os.path.abspath(local_path(final.parent)) if is_local(final) else str(final.parent)
        base = os.path.abspath(local_path(self._base_path)) if is_local(self._base_path) else str(self._base_path)
        return final.stem if folder == base else final.parent.name

    def load_from_path(self, context: dg.InputContext | None, path: UPath) -> pd.DataFrame:
        """The table with its declared column types (and those recorded beside it), and its `attrs`."""
        attrs_path = _attrs_path(path)
        attrs = json.loads(attrs_path.read_text()) if attrs_path.exists() else {}
        recorded = attrs.pop(COLUMN_TYPES_ATTR, {})
        schema = schema_of(self.table_of(path))
        try:
            if is_local(path):
                frame = tables.read_stored(os.fspath(local_path(path)), schema, recorded)
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
            return local_path(path).parent if is_local(path) else None

        folder = self._final_partition_path(asset_key, "day").parent
        return DayStaging(asset_key, local_folder, tables.write_csv, lambda error: self.write_failure(error, folder))

    def put_in_place(self, day: StagedDay, path: UPath) -> None:
        """As `dump_to_path` leaves it, by a rename (an upload, for object storage) instead of a write."""

        def move() -> None:
            if is_local(path):
                os.replace(day.staged, local_path(path))
                fsync(local_path(path).parent)
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


def _attrs_path(path: UPath) -> UPath:
    return path.with_name(path.name + ".attrs.json")


class _PickleFiles(PartitionedUPathIOManager):
    extension = ".pkl"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(payload).hexdigest()
        self.atomic_write(path, lambda sink: write_bytes(sink, payload))
        record = f"{digest}  {path.name}\n".encode()
        self.atomic_write(digest_path(path), lambda sink: write_bytes(sink, record))
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


class _OnnxFiles(PartitionedUPathIOManager):
    extension = ".onnx"

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        payload = _onnx_bytes(obj)
        self.atomic_write(path, lambda sink: write_bytes(sink, payload))

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
