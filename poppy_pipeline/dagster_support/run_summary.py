"""What the pipeline wrote and how its checks went: `python -m poppy_pipeline.dagster_support.run_summary [--since T]`.

`make run` calls it after the run with `--since` (the time the run was launched) and the
materialize command's exit status: it lists the outputs, then every asset check of that run that
failed, did not apply or did not run (asset, check, measured value, bar), and exits non-zero when
the run failed or a blocking check failed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from poppy_pipeline.common.paths import data_dir


def describe_outputs(base: Path) -> list[str]:
    """One line per artifact: files directly in `base`, and folders with their file count."""
    if not base.is_dir():
        return [f"No outputs yet in {base}"]
    lines = [f"Outputs in {base.resolve()}:"]
    for entry in sorted(base.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
            span = f" ({files[0].name} .. {files[-1].name})" if files else ""
            lines.append(f"  {entry.name}/  {len(files)} files{span}")
        else:
            lines.append(f"  {entry.name}  {entry.stat().st_size:,} bytes")
    return lines


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
    print("\n".join(describe_outputs(Path(outcome.outputs_dir) if outcome and outcome.outputs_dir else data_dir())))
    if outcome is None:
        print(f"No run was recorded since {args.since.isoformat()} (exit status {args.status}).")
        return args.status or 1
    print("\n".join(outcome.summary()))
    return 0 if outcome.ok and args.status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
