"""What refuses a run before anything is written, each as one sentence naming what to change.

Checked by `make run` (`launch.py`) before it launches, and by the executor
(`run_lock_executor.py`) before it takes the folder, so that runs from the UI, the schedules and
`dagster asset materialize` are refused the same way:

- the days: real dates (`2026-02-30` is not), in order, inside the daily partitions;
- the outputs folder: not a file, writable;
- every folder or file named in run config inside the folders where it belongs: the outputs
  folder itself inside `$POPPY_DATA_DIR` (default `data/outputs`), the project's `data/` or a
  folder of `$POPPY_OUTPUT_ROOTS`; the engine's folder inside the outputs folder or `$POPPY_ENGINE_EXPORT_DIR`;
  inputs inside `data/`, a folder of `$POPPY_INPUT_ROOTS`, or the folder of an input the
  environment names (`POPPY_SOURCE_PATH`, …). The UI has no login: its launchpad must not reach
  other files. (Values bound in code are the operator's, and are not run config.)
- the simulation's settings, validated as the steps would (a size whose arrays cannot fit
  is refused before anything is allocated).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import dagster as dg

from poppy_pipeline.common.paths import DEFAULT_DATA_DIR, DEFAULT_OBJECTS_DIR, data_dir
from poppy_pipeline.dagster_support.outputs_resource import operator_roots
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource

OUTPUT_ROOTS_ENV = "POPPY_OUTPUT_ROOTS"
INPUT_ROOTS_ENV = "POPPY_INPUT_ROOTS"
# Inputs the environment names: their folders are the operator's choice, so run config may name files there.
INPUT_ENV = ("POPPY_SOURCE_PATH", "POPPY_SOURCE_MAPPING", "POPPY_ACTIONS_PATH", "POPPY_OBJECTS_DIR")
OUTPUTS_FOLDER, ENGINE_FOLDER, INPUT = "outputs folder", "engine folder", "input"
# Every setting of run config that names a file or folder, and what kind of place it names.
CONFIG_PATHS: dict[tuple[str, ...], str] = {
    ("resources", "outputs", "config", "base_dir"): OUTPUTS_FOLDER,
    ("ops", "engine_exports", "config", "folder"): ENGINE_FOLDER,
    ("resources", "interaction_source", "config", "path"): INPUT,
    ("resources", "interaction_source", "config", "mapping"): INPUT,
    ("resources", "action_source", "config", "path"): INPUT,
    ("resources", "simulation", "config", "objects_dir"): INPUT,
}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def days_refusal(
    start: str, end: str, partitions: dg.PartitionsDefinition, names: tuple[str, str] = ("START", "END")
) -> str | None:
    """Why the days `start`..`end` cannot be a run's span, or None."""
    for name, text in zip(names, (start, end), strict=True):
        if not _DAY.fullmatch(text):
            return f"{name} {text!r} is not a date: write it as YYYY-MM-DD, e.g. {date.today():%Y-%m-%d}."
        try:
            date.fromisoformat(text)
        except ValueError as error:
            return f"{name} {text} is not a day of the calendar ({error}): give a day that exists."
    if start > end:
        return (
            f"{names[0]} {start} is after {names[1]} {end}: give {names[0]} on or before {names[1]}"
            " (both days are included)."
        )
    first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    if first is not None and start < first:
        return (
            f"{names[0]} {start} is before the first daily partition, {first}: give {names[0]} on or after it,"
            " or set POPPY_PARTITIONS_START earlier (for an older log)."
        )
    if last is None or end > last:
        return (
            f"{names[1]} {end} is after the last complete day, {last or 'none yet'}: a day is materialized once it"
            f" has ended (UTC); give {names[1]} on or before it."
        )
    return None


def outputs_folder_refusal(folder: Path) -> str | None:
    """Why no run can write under `folder`, or None: a file where the folder should be, or read-only."""
    existing = folder
    while not existing.exists():
        if existing.is_symlink() or existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        named = "" if existing == folder else f" ({existing} is a file)"
        return (
            f"The outputs folder {folder} names a file, not a folder{named}: set POPPY_DATA_DIR (or"
            " resources.outputs.config.base_dir) to a folder; it is made when missing."
        )
    if existing.exists() and not os.access(existing, os.W_OK):
        state = "on a read-only filesystem" if _read_only(existing) else "not writable"
        return (
            f"The outputs folder {folder} is {state}, so nothing was written and its outputs stay as they were:"
            " make it writable, or set POPPY_DATA_DIR to another folder."
        )
    return None


def _read_only(folder: Path) -> bool:
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)


def config_path_refusal(run_config: Mapping, outputs: Path) -> str | None:
    """Why a file or folder that run config names is out of bounds, or None."""
    for keys, kind in CONFIG_PATHS.items():
        value = setting_at(run_config, keys)
        if not isinstance(value, str) or not value.strip() or "://" in value:  # object storage is not a path here
            continue
        path = Path(value).expanduser()
        if kind == ENGINE_FOLDER and not path.is_absolute():
            path = outputs / path
        roots = _roots(kind, outputs)
        if not any(_inside(path, root) for root in roots):
            setting = ".".join(keys)
            shown = ", ".join(str(root) for root in roots)
            return (
                f"{setting} {value!r} is outside the folders run config may name for the {kind} ({shown}), so the"
                f" run was refused: give a path inside one of them, or set {_widen(kind)} to let it in."
            )
    return None


def setting_at(run_config: Mapping, keys: tuple[str, ...]) -> object:
    """The value at `keys` in `run_config`, or None."""
    value: object = run_config
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _roots(kind: str, outputs: Path) -> list[Path]:
    if kind == OUTPUTS_FOLDER:  # the default folder's own, and the project's data/ (e.g. data/my_outputs)
        return list(dict.fromkeys([data_dir(), Path(DEFAULT_DATA_DIR).parent, *_listed(OUTPUT_ROOTS_ENV)]))
    if kind == ENGINE_FOLDER:
        return [outputs, *operator_roots()]
    named = [Path(os.environ[name]) for name in INPUT_ENV if os.environ.get(name)]
    folders = [path if path.is_dir() else path.parent for path in named]
    return [Path(DEFAULT_OBJECTS_DIR).parent, *folders, *_listed(INPUT_ROOTS_ENV)]


def _listed(variable: str) -> list[Path]:
    return [Path(part) for part in os.environ.get(variable, "").split(os.pathsep) if part.strip()]


def _widen(kind: str) -> str:
    if kind == OUTPUTS_FOLDER:
        return f"POPPY_DATA_DIR (or {OUTPUT_ROOTS_ENV})"
    return "POPPY_ENGINE_EXPORT_DIR" if kind == ENGINE_FOLDER else INPUT_ROOTS_ENV


def _inside(path: Path, root: Path) -> bool:
    """`path` is `root` or under it, once `..` and symbolic links are resolved."""
    resolved, base = path.resolve(), root.resolve()
    return resolved == base or base in resolved.parents


def settings_refusal(run_config: Mapping, bound: Mapping | None = None) -> str | None:
    """Why the simulation's settings are invalid, or None, as the steps would check them: the values
    `bound` in the definitions (default: the resource's defaults and environment), then run config's."""
    configured = setting_at(run_config, ("resources", "simulation", "config"))
    values = {**(bound or {}), **(configured if isinstance(configured, Mapping) else {})}
    values = {k: v for k, v in values.items() if not (isinstance(v, Mapping) and set(v) == {"env"})}  # Dagster's
    try:
        resource = SimulationResource(**values)
        resource.settings()
        resource.behaviour()
    except (ValueError, TypeError) as error:  # SettingsError (a ValueError), pydantic's, the memory estimate
        return _one_line(error)
    return None


def _one_line(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):  # pydantic: the first problem, by setting
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"resources.simulation.config.{where}: {first.get('msg')} (got {first.get('input')!r})."
    text = " ".join(str(error).split())
    if text.startswith("simulation."):  # the core's name of the setting, as run config spells it
        text = "resources.simulation.config." + text.removeprefix("simulation.")
    return text if text.endswith(".") else text + "."


def refusal(
    run_config: Mapping,
    outputs: Path,
    days: tuple[str, str] | None,
    partitions: dg.PartitionsDefinition,
    bound_simulation: Mapping | None = None,
    names: tuple[str, str] = ("the partition range's first day", "its last day"),
) -> str | None:
    """The first reason to refuse this run (the days, the folder, the paths, the settings), or None."""
    if days is not None and (refused := days_refusal(*days, partitions, names)):
        return refused[0].upper() + refused[1:]
    return (
        outputs_folder_refusal(outputs)
        or config_path_refusal(run_config, outputs)
        or settings_refusal(run_config, bound_simulation)
    )
