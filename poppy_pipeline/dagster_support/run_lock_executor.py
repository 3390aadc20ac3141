"""Every run holds its outputs folder: Dagster's default executor, wrapped in `folder_lock`.

Why the executor and not a resource: resources are set up in each step's own process (the
multiprocess executor starts one per step) and only for steps that use them, so no resource lives
as long as the run. The executor's `execute` runs in the run's orchestrating process from the
first step to the last, for `dagster asset materialize`, `make run`, UI launches and schedules
alike; it takes the lock before any step starts and drops it after the last one ends.
(`dagster.materialize` and `execute_in_process`, used by the tests, run in process without it.)
"""

import os
from collections.abc import Iterator

import dagster as dg

from poppy_pipeline.common.run_lock import FolderBusy, Holder, folder_lock
from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource, from_config

WAIT_ENV = "POPPY_LOCK_WAIT_SECONDS"
# Statuses of a run whose process should be alive; a dead holder in one of them was killed.
_ALIVE_STATUSES = {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING}


def _wait_seconds() -> float:
    raw = os.environ.get(WAIT_ENV, "").strip()
    try:
        return float(raw) if raw else 0.0
    except ValueError:
        raise dg.Failure(f"environment variable {WAIT_ENV} must be a number of seconds, got {raw!r}") from None


class FolderLockedExecutor(dg.Executor):
    """Runs `inner` while holding the run's outputs folder (the `outputs` resource's base_dir)."""

    def __init__(self, inner: dg.Executor):
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        outputs = _outputs(plan_context)
        if not outputs.is_local:
            plan_context.log.info(f"Outputs on object storage ({outputs.base_dir}) are not locked.")
            yield from self._inner.execute(plan_context, execution_plan)
            return
        folder = outputs.path()

        def stale(previous: Holder) -> None:
            plan_context.log.warning(
                f"Cleared a stale lock on {folder.resolve()}: {previous.describe()} ended without releasing it"
                f" (killed?). {_mark_failed(plan_context.instance, previous)}"
            )

        try:
            with folder_lock(folder, plan_context.run_id, _wait_seconds(), on_stale=stale):
                plan_context.log.info(f"This run holds the outputs folder {folder.resolve()}.")
                yield from self._inner.execute(plan_context, execution_plan)
        except FolderBusy as busy:
            raise dg.Failure(str(busy)) from None


def _outputs(plan_context) -> OutputsResource:
    """The run's `outputs` resource: as its run config sets it, else as it is bound."""
    configured = (plan_context.run_config.get("resources") or {}).get(OUTPUTS) or {}
    if "config" in configured:
        return from_config(configured["config"])
    resource = plan_context.job.get_definition().resource_defs.get(OUTPUTS)
    field = resource.config_field if resource is not None else None
    return from_config(field.default_value if field is not None and field.default_provided else None)


def _mark_failed(instance: dg.DagsterInstance, previous: Holder) -> str:
    """Mark the dead holder's run failed, so that the UI does not show it in progress forever."""
    run = instance.get_run_by_id(previous.run_id)
    if run is None:
        return "That run is not in this instance."
    if run.status not in _ALIVE_STATUSES:
        return f"That run's status is {run.status.value}."
    instance.report_run_failed(run, message=f"The run's process (pid {previous.pid} on {previous.host}) died.")
    return "Marked that run as failed."


def _locked(init_context: dg.InitExecutorContext) -> dg.Executor:
    inner = dg.multi_or_in_process_executor.executor_creation_fn(init_context)
    return FolderLockedExecutor(inner)


folder_locked_executor = dg.ExecutorDefinition(
    name="folder_locked_executor",
    config_schema=dg.multi_or_in_process_executor.config_schema,
    requirements=dg.multi_or_in_process_executor.get_requirements,
    executor_creation_fn=_locked,
    description="Dagster's default executor (multiprocess or in-process), holding the outputs folder for the run.",
)
