"""`make run`: refuse what cannot succeed, materialize, and end with one line saying what to do.

`python -m poppy_pipeline.dagster_support.launch --start S --end E [--config FILE]…` checks, before
anything is written: the days (`2026-02-30`, START after END, outside the partitions), the YAML of
every config file, the run config against the job's schema (with the setting, the file and the
value in the sentence), the outputs folder, the paths run config names and the simulation's
settings (`run_refusals.py`). Then it launches the materialization exactly as `dagster asset
materialize -m poppy_pipeline.definitions --select '*' --partition-range S...E -c config/run.yaml
-c FILE…` (and `dg launch`) do, in this process, with Dagster's stack traces left out of the
console unless `VERBOSE=1`, and prints the run's summary (`run_summary.py`): its checks, what it
published, and last the sentence naming what to change, or what to do next. Exits 1 when the run
was refused, failed or a blocking check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:  # dagster is imported where a run is checked (this module starts before it)
    from dagster._config.errors import EvaluationError

RUN_CONFIG = Path("config/run.yaml")
MODULE = "poppy_pipeline.definitions"
# A line of Dagster's console log: "2026-12-07 20:22:08 +0000 - dagster - ERROR - …".
_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4} - \S+ - (\w+) - ")
_NOT_EXECUTED = re.compile(r" - Dependencies for step \S+ (failed|were not executed): .*Not executing\.$")
_WARNING = re.compile(r"^\S+\.py:\d+: \w+Warning: ")


class Refused(Exception):
    """The run cannot succeed as asked: one sentence saying what to change."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last day, YYYY-MM-DD (included)")
    parser.add_argument("--config", action="append", default=[], help="a run-config YAML file (repeatable)")
    parser.add_argument("--select", default="*", help="the assets, as dagster asset materialize --select takes them")
    args = parser.parse_args(argv)
    verbose = os.environ.get("VERBOSE", "").strip() not in ("", "0")
    warnings.filterwarnings("ignore", message=".*(beta|preview|superseded).*", category=Warning)
    try:
        run_config = checked_run_config(args.start, args.end, [RUN_CONFIG, *map(Path, args.config)])
    except Refused as refused:
        print(f"Not run, nothing written: {refused}")
        return 1
    except Exception as error:  # loading the definitions failed: the project's bug, not the user's input
        return _unexpected(error, verbose)
    shown = " ".join(f"-c {path}" for path in [RUN_CONFIG, *args.config])
    print(
        f"Materializing {args.select} for {args.start}..{args.end}, as dagster asset materialize -m {MODULE}"
        f" --select '{args.select}' --partition-range {args.start}...{args.end} {shown}",
        flush=True,
    )
    since = datetime.now(UTC)
    try:
        with _console(verbose):
            status = _materialize(args.select, f"{args.start}...{args.end}", run_config)
        return _summary(since, status)
    except KeyboardInterrupt:  # the executor removed the run's staging: nothing of it was published
        print("Interrupted: nothing of this run was published; the outputs folder keeps its previous outputs.")
        return 130
    except Exception as error:
        return _unexpected(error, verbose)


def checked_run_config(start: str, end: str, files: list[Path]) -> dict:
    """The merged run config of `files`, once nothing refuses the run; else `Refused`."""
    from poppy_pipeline.dagster_support.partitions import daily_partitions
    from poppy_pipeline.dagster_support.run_refusals import days_refusal

    if refused := days_refusal(start, end, daily_partitions):
        raise Refused(refused)
    loaded = {path: _load_yaml(path) for path in files}
    run_config: dict = {}
    for config in loaded.values():
        run_config = _merged(run_config, config)
    _check_schema(run_config, loaded)
    from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY, from_config
    from poppy_pipeline.dagster_support.run_refusals import refusal

    outputs = from_config(((run_config.get("resources") or {}).get(RESOURCE_KEY) or {}).get("config"))
    if outputs.is_local and (refused := refusal(run_config, outputs.path(), None, daily_partitions)):
        raise Refused(refused)
    return run_config


def _load_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as error:
        raise Refused(f"The config file {path} cannot be read ({error.strerror}): check CONFIG.") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise Refused(f"The config file {path} is not valid YAML{where} ({problem}): fix it and run again.") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise Refused(f"The config file {path} holds a {type(loaded).__name__}, not run config (a mapping): fix it.")
    return loaded


def _merged(base: Mapping, extra: Mapping) -> dict:
    """`extra` over `base`, mapping by mapping (as Dagster merges `-c` files)."""
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        merged[key] = _merged(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return merged


def _check_schema(run_config: dict, loaded: Mapping[Path, dict]) -> None:
    """Refuse run config the job would refuse, naming the setting, its file and what is wrong."""
    import dagster as dg

    from poppy_pipeline.definitions import defs

    unknown = sorted(set(run_config.get("resources") or {}) - set(defs.resources or {}))
    if unknown:
        where = _files_setting(loaded, ("resources", unknown[0]))
        known = ", ".join(sorted(defs.resources or {}))
        raise Refused(f"resources.{unknown[0]}{where} is not a resource of the pipeline ({known}): check its spelling.")
    try:
        dg.validate_run_config(defs.resolve_implicit_global_asset_job_def(), run_config)
    except dg.DagsterInvalidConfigError as invalid:
        raise Refused(_config_sentence(invalid.errors[0], loaded, len(invalid.errors))) from None


def _config_sentence(error: EvaluationError, loaded: Mapping[Path, dict], count: int) -> str:
    keys = _stack_keys(error.stack)
    setting = ".".join(keys) or "the run config"
    more = f" ({count - 1} more problem{'s' if count > 2 else ''} after it)" if count > 1 else ""
    mismatch = re.search(r'Value (.+) of type .+ is not valid for expected type "(.+)"', error.message)
    unexpected = re.search(r"unexpected config entr(?:y|ies) (.+?) at path", error.message)
    if mismatch:
        what = f"is {mismatch.group(1)}, not a valid {mismatch.group(2)}"
        return f"{setting}{_files_setting(loaded, keys)} {what}{more}: fix it and run again."
    if unexpected:
        expected = re.sub(r"\{ env: \w+ \}", "", error.message.split("Expected:", 1)[-1])
        names = list(dict.fromkeys(re.findall(r"(\w+)\??:", expected)))
        listed = f" (its settings: {', '.join(names)})" if names else ""
        return f"{setting} has no setting {unexpected.group(1)}{listed}{more}: check its spelling."
    text = re.sub(r"root(:\w+)+", lambda m: ".".join(m.group(0).split(":")[1:]), " ".join(error.message.split()))
    return f"The run config is not valid: {text}{more}"


def _stack_keys(stack: object) -> tuple[str, ...]:
    """The setting's keys, from Dagster's evaluation stack (each entry knows its parent)."""
    keys = []
    while stack is not None:
        name = getattr(stack, "field_name", None)
        if name is not None:
            keys.append(str(name))
        stack = getattr(stack, "parent", None)
    return tuple(reversed(keys))


def _files_setting(loaded: Mapping[Path, dict], keys: tuple[str, ...]) -> str:
    """` (in FILE)` for the last file that sets `keys`, else ``."""
    from poppy_pipeline.dagster_support.run_refusals import setting_at

    found = [str(path) for path, config in loaded.items() if setting_at(config, keys) is not None]
    return f" (in {found[-1]})" if found else ""


def _materialize(select: str, partition_range: str, run_config: dict) -> int:
    """The materialization `dagster asset materialize` and `dg launch` run: 0 when it succeeded."""
    import click
    from dagster._cli.asset import asset_materialize_command_impl

    try:
        asset_materialize_command_impl(
            select=select,
            partition=None,
            partition_range=partition_range,
            config=(),
            config_json=json.dumps(run_config),
            module_name=MODULE,
        )
    except click.ClickException:  # "Materialization failed.": the summary says why
        return 1
    return 0


def _summary(since: datetime, status: int) -> int:
    import dagster as dg

    from poppy_pipeline.dagster_support.run_report import latest_run_outcome
    from poppy_pipeline.dagster_support.run_summary import summary_lines

    with dg.DagsterInstance.get() as instance:
        outcome = latest_run_outcome(instance, since)
    lines, status = summary_lines(outcome, since, status)
    print("\n".join(lines), flush=True)
    return status


def _unexpected(error: Exception, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"The run could not be launched: {type(error).__name__}: {message} (VERBOSE=1 shows the stack).")
    return 1


@contextmanager
def _console(verbose: bool) -> Iterator[None]:
    """Dagster's console (this process's and its step processes' stderr) without stack traces:
    an ERROR record keeps its first line, its error and stack lines are left out."""
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    reading, writing = os.pipe()
    os.dup2(writing, 2)
    os.close(writing)
    pump = threading.Thread(target=_filter, args=(reading, saved), daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer gone: the pump reads to its end
        pump.join()
        os.close(saved)


def _filter(reading: int, out: int) -> None:
    """Copy the console, leaving out what follows an ERROR record's first line (its error and stack)
    and Python's warnings from step processes (`file.py:12: SomeWarning: …` and its source line)."""
    skipping = False
    with os.fdopen(reading, "rb") as source:
        for raw in source:
            line = raw.decode(errors="replace")
            record = _LOG_LINE.match(line)
            if record and _NOT_EXECUTED.search(line):  # the summary lists the steps that did not run
                continue
            if record:
                skipping = record.group(1) == "ERROR"
            elif _WARNING.match(line):
                skipping = True
            if skipping and not record:
                continue
            os.write(out, line.encode())


if __name__ == "__main__":
    sys.exit(main())
