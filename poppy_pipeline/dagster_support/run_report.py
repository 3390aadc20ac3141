"""What a finished run's asset checks said, read from the Dagster instance's event log.

`make run` prints it after the run (`python -m poppy_pipeline.outputs --since …`): the checks
come from the run's ASSET_CHECK_EVALUATION events, not from its console log.
"""

from datetime import datetime

import dagster as dg

from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS
from poppy_pipeline.outputs import CheckOutcome, RunOutcome

MAX_ERROR_CHARS = 400
_EVENTS = {
    dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.RUN_FAILURE,
}


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
