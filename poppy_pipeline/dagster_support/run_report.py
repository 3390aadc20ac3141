"""What a finished run's asset checks said, read from the Dagster instance's event log.

`make run` prints it after the run (`python -m poppy_pipeline.dagster_support.run_summary --since …`): the checks
come from the run's ASSET_CHECK_EVALUATION events, not from its console log.
"""

from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg

from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS

NOT_APPLICABLE = "Not applicable"
MAX_VALUE_CHARS = 60
MAX_ERROR_CHARS = 400
_EVENTS = {
    dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.RUN_FAILURE,
}


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


def latest_run_outcome(instance: dg.DagsterInstance, since: datetime) -> RunOutcome | None:
    """The newest run created at or after `since`, with its checks; None if there is none."""
    runs = instance.get_runs(filters=dg.RunsFilter(created_after=since), limit=1)
    return run_outcome(instance, runs[0]) if runs else None


def run_outcome(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunOutcome:
    planned: dict[tuple[str, str], None] = {}
    evaluated: dict[tuple[str, str], CheckOutcome] = {}
    failures: list[str] = []
    for record in instance.get_records_for_run(run.run_id, of_type=_EVENTS).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            planned[(data.asset_key.to_user_string(), data.check_name)] = None
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            key = (data.asset_key.to_user_string(), data.check_name)
            evaluated[key] = CheckOutcome(
                asset=key[0],
                check=key[1],
                passed=data.passed,
                blocking=bool(data.blocking),
                description=data.description or "",
                metadata={name: value.value for name, value in data.metadata.items()},
            )
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            failures.append(f"step {event.step_key} failed: {_error_sentence(data, event.message)}")
        elif not failures:  # RUN_FAILURE without a failed step: the run itself could not proceed
            failures.append(_error_sentence(data, event.message))
    checks = [evaluated.get(key) or CheckOutcome(asset=key[0], check=key[1], evaluated=False) for key in planned]
    checks += [outcome for key, outcome in evaluated.items() if key not in planned]
    return RunOutcome(
        run_id=run.run_id, status=run.status.value, checks=checks, failures=failures, outputs_dir=_outputs_dir(run)
    )


def _outputs_dir(run: dg.DagsterRun) -> str | None:
    """The `outputs` folder the run's config set (`resources.outputs.config.base_dir`), if it set one."""
    resource = (run.run_config.get("resources") or {}).get(OUTPUTS) or {}
    return (resource.get("config") or {}).get("base_dir")


def _error_sentence(data, fallback: str | None) -> str:
    """The innermost error's message on one line (the user's own exception, not Dagster's wrapper)."""
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    text = (error.message if error is not None else fallback) or ""
    sentence = " ".join(line.strip() for line in text.splitlines() if line.strip()) or "(no message)"
    prefix, _, rest = sentence.partition(": ")
    if error is not None and rest and prefix.endswith(error.cls_name):
        sentence = f"{error.cls_name}: {rest}"
    return sentence if len(sentence) <= MAX_ERROR_CHARS else sentence[: MAX_ERROR_CHARS - 1] + "…"
