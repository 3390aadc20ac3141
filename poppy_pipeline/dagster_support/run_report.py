"""What a finished run did, read from the Dagster instance's event log: its checks, its failures, what it published.

`make run` prints it after the run (`launch.py`, or `python -m poppy_pipeline.dagster_support.run_summary
--since …`): the checks come from the run's ASSET_CHECK_EVALUATION events, the failures from its
STEP_FAILURE and RUN_FAILURE events, what it published from the executor's publication event
(`run_publication.py`), not from its console log. `closing` is the summary's last line: for a
failed run one sentence naming what to change (a failed blocking check's setting, or the
failure's own sentence), for a good one what to do next.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dagster as dg

from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS
from poppy_pipeline.dagster_support.run_publication import KEPT_KEY, PUBLISHED_KEY

if TYPE_CHECKING:
    from dagster._core.events import JobFailureData
    from dagster._core.execution.plan.objects import StepFailureData
    from dagster_shared.error import SerializableErrorInfo

NOT_APPLICABLE = "Not applicable"
MAX_VALUE_CHARS = 60
MAX_ERROR_CHARS = 400
_EVENTS = {
    dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.ENGINE_EVENT,
}
NEXT_STEP = "Next: `make ui` to browse this run's assets, checks and figures (every check with its measures)."
# The setting that sets a blocking check's bar, by check name (`{source}`: the asset's source resource).
CHECK_SETTINGS = {
    "quarantine_share": "resources.{source}.config.max_quarantine_share",
    "held_out_auc": "ops.click_model.config.min_auc",
    "auc_vs_oracle": "ops.click_model.config.min_oracle_ratio",
    "calibration": "ops.click_model.config.max_calibration_error",
    "not_worse_than_shipped": "ops.click_model.config.challenge_shipped",
}


@dataclass
class CheckOutcome:
    """One asset check of a run: its verdict and metadata (plain values), or that it never ran."""

    asset: str
    check: str
    passed: bool = False
    blocking: bool = False
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
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


@dataclass(frozen=True)
class StepError:
    """A failed step's error (or the run's own, `step` None): its class and one-line message."""

    step: str | None
    cls_name: str
    message: str

    def sentence(self) -> str:
        if self.cls_name == "Failure":  # the project's own sentence (`dg.Failure`): as it is
            return self.message
        where = f"step {self.step}" if self.step else "the run"
        if self.cls_name == "DagsterExecutionInterruptedError":
            interrupted = f"The run was interrupted during {where} (Ctrl-C, or terminated)"
            return f"{interrupted}: nothing of it was published; run it again."
        if self.cls_name == "MemoryError":
            return (
                f"{where} ran out of memory ({self.message.rstrip('.')}): lower the sizes in"
                " resources.simulation.config (num_users, the objects, interactions_per_day) or the span of days."
            )
        return f"{where} failed with {self.cls_name}: {self.message.rstrip('.')} (VERBOSE=1 shows the stack)."


@dataclass
class RunOutcome:
    run_id: str
    status: str  # Dagster's run status: SUCCESS, FAILURE, ...
    checks: list[CheckOutcome]
    failures: list[str]  # one sentence per failed step (or the run's own failure)
    outputs_dir: str | None = None  # the run config's `outputs` base_dir, when it sets one
    published: list[str] | None = None  # what its publication changed (None: the run was not published per run)
    kept_rejected: str | None = None  # where a failed run's rejected rows are kept
    errors: list[StepError] = field(default_factory=list)

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

    def closing(self) -> str:
        """The last line: the one sentence naming what to change, or what to do next."""
        if self.ok:
            return NEXT_STEP
        blocking = [check for check in self.checks if check.failed and check.blocking]
        if blocking:
            return _check_sentence(blocking[0], self.kept_rejected)
        named = [error for error in self.errors if error.cls_name != "DagsterAssetCheckFailedError"]
        if named:
            return named[0].sentence()
        return f"The run ended {self.status}; `make ui` shows its events."


def _check_sentence(check: CheckOutcome, kept_rejected: str | None) -> str:
    """A failed blocking check as one sentence: what it measured, and the setting of its bar."""
    failed = f"{check.asset} / {check.check} failed ({measured_and_bar(check.metadata)})"
    setting = CHECK_SETTINGS.get(check.check)
    if setting is None:
        return f"{failed}: it guards against a broken input or a bug, not a setting; `make ui` shows its measures."
    source = "action_source" if check.asset == "session_actions" else "interaction_source"
    setting = setting.format(source=source)
    if check.check == "quarantine_share":
        where = f" (each with its reason, in {kept_rejected}/{check.asset}/)" if kept_rejected else ""
        return f"{failed}: fix the rejected rows{where}, or raise {setting}."
    if check.check == "not_worse_than_shipped":
        return f"{failed}: the shipped model is kept; set {setting}: false to replace it regardless."
    return f"{failed}: the shipped model is kept; {setting} sets this bar."


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


def _short(value: object) -> str:
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
    errors: list[StepError] = []
    publication: dict[str, Any] = {}
    for record in instance.get_records_for_run(run.run_id, of_type=_EVENTS).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            plan = event.asset_check_planned_data
            planned[(plan.asset_key.to_user_string(), plan.check_name)] = None
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.asset_check_evaluation_data
            key = (data.asset_key.to_user_string(), data.check_name)
            evaluated[key] = CheckOutcome(
                asset=key[0],
                check=key[1],
                passed=data.passed,
                blocking=bool(data.blocking),
                description=data.description or "",
                metadata={name: value.value for name, value in data.metadata.items()},
            )
        elif event.event_type == dg.DagsterEventType.ENGINE_EVENT:
            metadata = getattr(event.event_specific_data, "metadata", None) or {}
            if PUBLISHED_KEY in metadata:
                publication = {name: value.value for name, value in metadata.items()}
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            step_failure = event.step_failure_data
            failures.append(f"step {event.step_key} failed: {_error_sentence(step_failure, event.message)}")
            errors.append(_step_error(event.step_key, step_failure, event.message))
        elif not failures:  # RUN_FAILURE without a failed step: the run itself could not proceed
            run_failure = event.job_failure_data
            failures.append(_error_sentence(run_failure, event.message))
            errors.append(_step_error(None, run_failure, event.message))
    checks = [evaluated.get(key) or CheckOutcome(asset=key[0], check=key[1], evaluated=False) for key in planned]
    checks += [outcome for key, outcome in evaluated.items() if key not in planned]
    return RunOutcome(
        run_id=run.run_id,
        status=run.status.value,
        checks=checks,
        failures=failures,
        outputs_dir=_outputs_dir(run),
        published=json.loads(publication[PUBLISHED_KEY]) if publication else None,
        kept_rejected=publication.get(KEPT_KEY),
        errors=errors,
    )


def _outputs_dir(run: dg.DagsterRun) -> str | None:
    """The `outputs` folder the run's config set (`resources.outputs.config.base_dir`), if it set one."""
    run_config: Mapping[str, Any] = run.run_config  # the run's config as given: any YAML
    resource = (run_config.get("resources") or {}).get(OUTPUTS) or {}
    return (resource.get("config") or {}).get("base_dir")


def _error_sentence(data: StepFailureData | JobFailureData, fallback: str | None) -> str:
    """The innermost error's message on one line (the user's own exception, not Dagster's wrapper)."""
    error = _innermost(data)
    text = (error.message if error is not None else fallback) or ""
    sentence = " ".join(line.strip() for line in text.splitlines() if line.strip()) or "(no message)"
    prefix, _, rest = sentence.partition(": ")
    if error is not None and error.cls_name and rest and prefix.endswith(error.cls_name):
        sentence = rest if error.cls_name == "Failure" else f"{error.cls_name}: {rest}"  # a Failure is a sentence
    return _cut(sentence)


def _innermost(data: StepFailureData | JobFailureData | None) -> SerializableErrorInfo | None:
    error = data.error if data is not None else None
    while error is not None and error.cause is not None:
        error = error.cause
    return error


def _step_error(step: str | None, data: StepFailureData | JobFailureData, fallback: str | None) -> StepError:
    """The innermost error as a `StepError` (its class, its message without the class's name)."""
    error = _innermost(data)
    if error is None:
        return StepError(step, "Error", _cut(" ".join((fallback or "(no message)").split())))
    message, kind = " ".join(error.message.split()), error.cls_name or "Error"
    prefix, _, rest = message.partition(": ")
    if rest and prefix.endswith(kind):
        message = rest
    if kind == "Failure":  # the project's own sentence: whole, whatever its length
        return StepError(step, kind, message.removeprefix("Failure: "))
    return StepError(step, kind, _cut(message))


def _cut(sentence: str) -> str:
    return sentence if len(sentence) <= MAX_ERROR_CHARS else sentence[: MAX_ERROR_CHARS - 1] + "…"
