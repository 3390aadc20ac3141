"""What the pipeline wrote and how its checks went: `python -m poppy_pipeline.outputs [--since T]`.

`make run` calls it after the run with `--since` (the time the run was launched) and the
materialize command's exit status: it lists the outputs, then every asset check of that run that
failed, did not apply or did not run (asset, check, measured value, bar), and exits non-zero when
the run failed or a blocking check failed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from poppy_pipeline.paths import data_dir

NOT_APPLICABLE = "Not applicable"
MAX_VALUE_CHARS = 60


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


@dataclass
class CheckOutcome:
    """One asset check of a run: its verdict and metadata (plain values), or that it never ran."""

    asset: str
    check: str
    passed: bool = False
    blocking: bool = False
    description: str = ""
    metadata: dict = field(default_factory=dict)
    evaluated: bool = True

    @property
    def not_applicable(self) -> bool:
        return self.description.startswith(NOT_APPLICABLE)

    @property
    def failed(self) -> bool:
        return self.evaluated and not self.passed

    def describe(self) -> str:
        name = f"{self.asset} / {self.check}" + (" (blocking)" if self.blocking else "")
        if self.not_applicable:
            return f"  N/A      {name}: {self.description.removeprefix(NOT_APPLICABLE).lstrip(': ')}"
        return f"  FAILED   {name}: {measured_and_bar(self.metadata)}"


@dataclass
class RunOutcome:
    run_id: str
    status: str  # Dagster's run status: SUCCESS, FAILURE, ...
    checks: list[CheckOutcome]
    failures: list[str]  # one sentence per failed step (or the run's own failure)
    outputs_dir: str | None = None  # the run config's `outputs` base_dir, when it sets one

    @property
    def blocking_failed(self) -> bool:
        return any(c.failed and c.blocking for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS" and not self.blocking_failed

    def summary(self) -> list[str]:
        failed = [c for c in self.checks if c.failed]
        not_applicable = [c for c in self.checks if c.passed and c.not_applicable]
        not_run = [c for c in self.checks if not c.evaluated]
        passed = len(self.checks) - len(failed) - len(not_applicable) - len(not_run)
        lines = [
            f"Run {self.run_id}: {self.status}. Asset checks: {passed} passed, {len(failed)} failed"
            f" ({sum(c.blocking for c in failed)} blocking), {len(not_applicable)} not applicable,"
            f" {len(not_run)} not run."
        ]
        lines += [c.describe() for c in failed + not_applicable]
        if len(not_run) < len(self.checks):  # else the run stopped before any check: the count says it all
            lines += _not_run_by_asset(not_run)
        lines += [f"  {failure}" for failure in self.failures]
        return lines


def _not_run_by_asset(checks: list[CheckOutcome]) -> list[str]:
    """One line per asset for the checks whose step never ran (an upstream step failed or was skipped)."""
    by_asset: dict[str, list[str]] = {}
    for check in checks:
        by_asset.setdefault(check.asset, []).append(check.check)
    return [f"  NOT RUN  {asset}: {', '.join(names)}" for asset, names in by_asset.items()]


def measured_and_bar(metadata: dict) -> str:
    """`measured …, target …` when the check says so, else its plain numeric and text metadata."""
    if "measured" in metadata:
        shown = {"measured": metadata["measured"], "target": metadata.get("target", "?")}
    else:
        shown = {k: v for k, v in metadata.items() if isinstance(v, int | float | str) and not isinstance(v, bool)}
    return ", ".join(f"{name} {_short(value)}" for name, value in shown.items()) or "(no metadata)"


def _short(value) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


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
