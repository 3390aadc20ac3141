"""What a run published and how its checks went: `python -m poppy_pipeline.dagster_support.run_summary [--since T]`.

`make run` prints it after the run (`launch.py`): first every asset check of the run that failed,
did not apply or did not run (asset, check, measured value, bar) and the error of each failed
step; then what this run published into the outputs folder, read from its publication event (not
from file times), and, separately and marked, what is older; last, one line: for a failed run the
sentence naming what to change, for a good one what to do next. It exits non-zero when the run
failed or a blocking check failed. Without `--since` it lists the outputs folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from poppy_pipeline.common.paths import data_dir
from poppy_pipeline.common.publication import JOURNAL_FILE

if TYPE_CHECKING:
    from poppy_pipeline.dagster_support.run_report import RunOutcome

OLDER = "*"
WHOLE = 10**9  # a folder published as a whole: every file in it is this run's


def describe_outputs(base: Path, published: Sequence[str] | None = None) -> list[str]:
    """One line per artifact: files directly in `base`, and folders with their file count. With
    `published` (the paths a run's publication changed), what it wrote first, then the rest, marked."""
    if not base.is_dir():
        return [f"No outputs yet in {base}"]
    entries = [entry for entry in sorted(base.iterdir()) if not entry.name.startswith(".")]
    pending = [f"A publication stopped midway (killed?): the next run into {base.resolve()} finishes it."]
    pending = pending if (base / JOURNAL_FILE).exists() else []
    if published is None:
        return [f"Outputs in {base.resolve()}:", *(_line(entry) for entry in entries), *pending]
    written: dict[str, int] = {}
    elsewhere = []
    for path in published:
        if Path(path).is_absolute():
            elsewhere.append(f"  {path}")
        else:  # a whole folder (the browser bundle) counts as all its files
            parts = Path(path).parts
            written[parts[0]] = written.get(parts[0], 0) + (1 if len(parts) > 1 else WHOLE)
    older = [entry for entry in entries if entry.name not in written]
    if written or elsewhere:
        lines = [f"Published by this run in {base.resolve()}:"]
        lines += [_line(entry, written[entry.name]) for entry in entries if entry.name in written]
        lines += elsewhere
    else:
        lines = [f"Nothing of this run was published; {base.resolve()} keeps what it had."]
    if older:
        lines.append(f"Older, not written by this run (marked {OLDER}):")
        lines += [_line(entry, marked=True) for entry in older]
    return lines + pending


def _line(entry: Path, written: int | None = None, marked: bool = False) -> str:
    lead = f"  {OLDER} " if marked else "  "
    if entry.is_dir():
        files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
        span = f" ({files[0].name} .. {files[-1].name})" if files else ""
        if written is None or written >= len(files):
            count = f"{len(files)} files"
        else:
            count = f"{written} of its {len(files)} files written by this run"
        return f"{lead}{entry.name}/  {count}{span}"
    stat = entry.stat()
    when = f", {datetime.fromtimestamp(stat.st_mtime, UTC):%Y-%m-%d %H:%M} UTC" if marked else ""
    return f"{lead}{entry.name}  {stat.st_size:,} bytes{when}"


def summary_lines(outcome: RunOutcome | None, since: datetime | None, status: int) -> tuple[list[str], int]:
    """The closing lines of `make run` for `outcome` (the run launched at `since`), and the exit status."""
    if outcome is None:
        shown = since.isoformat() if since else "the launch"
        lines = [*describe_outputs(data_dir()), f"No run was recorded since {shown} (exit status {status})."]
        return lines, status or 1
    base = Path(outcome.outputs_dir) if outcome.outputs_dir else data_dir()
    lines = [*outcome.summary(), *describe_outputs(base, outcome.published), outcome.closing()]
    return lines, 0 if outcome.ok and status == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since", type=datetime.fromisoformat, help="summarize the run launched at or after this time")
    parser.add_argument("--status", type=int, default=0, help="exit status of the materialize command")
    args = parser.parse_args(argv)
    if args.since is None:
        print("\n".join(describe_outputs(data_dir())))
        return args.status
    import dagster as dg  # only for the run summary; listing outputs stays light

    from poppy_pipeline.dagster_support.run_report import latest_run_outcome

    with dg.DagsterInstance.get() as instance:
        outcome = latest_run_outcome(instance, args.since)
    lines, status = summary_lines(outcome, args.since, args.status)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
