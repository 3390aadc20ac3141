"""Every run holds its outputs folder and is published as a whole: Dagster's default executor, wrapped.

Why the executor and not a resource: resources are set up in each step's own process (the
multiprocess executor starts one per step) and only for steps that use them, so no resource lives
as long as the run. The executor's `execute` runs in the run's orchestrating process from the
first step to the last, for `dagster asset materialize`, `make run`, UI launches and schedules
alike; it takes the lock before any step starts and drops it after the last one ends. Before it
takes the folder, it refuses a run that cannot succeed (`run_refusals.py`: days, folder, paths,
settings) with one sentence; while it holds the folder, the run is staged and then published or
discarded (`run_publication.py`). (`dagster.materialize` and `execute_in_process`, used by the
tests, run in process without it; `run_publication.materialize` adds the publication.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from poppy_pipeline.common.publication import JOURNAL_FILE
from poppy_pipeline.common.run_lock import FolderBusy, Holder, folder_lock
from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource, from_config, write_failure
from poppy_pipeline.dagster_support.partitions import daily_partitions
from poppy_pipeline.dagster_support.run_publication import published_events
from poppy_pipeline.dagster_support.run_refusals import refusal

if TYPE_CHECKING:  # Dagster's executor API, as its `Executor` base class names it
    from dagster._core.execution.context.system import PlanOrchestrationContext
    from dagster._core.execution.plan.plan import ExecutionPlan
    from dagster._core.execution.retries import RetryMode
    from dagster._core.execution.step_dependency_config import StepDependencyConfig

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

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self._inner.step_dependency_config

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[dg.DagsterEvent]:
        outputs = _outputs(plan_context)
        if not outputs.is_local:
            plan_context.log.info(f"Outputs on object storage ({outputs.base_dir}) are not locked.")
            yield from self._inner.execute(plan_context, execution_plan)
            return
        folder = outputs.path()
        simulation = _bound_config(plan_context, "simulation")
        refused = refusal(plan_context.run_config, folder, _span(plan_context), _partitions(plan_context), simulation)
        if refused:
            raise dg.Failure(description=refused, allow_retries=False)

        def stale(previous: Holder) -> None:
            plan_context.log.warning(
                f"Cleared a stale lock on {folder.resolve()}: {previous.describe()} ended without releasing it"
                f" (killed?). {_mark_failed(plan_context.instance, previous)}"
            )

        try:
            with folder_lock(folder, plan_context.run_id, _wait_seconds(), on_stale=stale):
                plan_context.log.info(f"This run holds the outputs folder {folder.resolve()}.")
                yield from published_events(plan_context, folder, self._inner.execute(plan_context, execution_plan))
        except FolderBusy as busy:
            raise dg.Failure(str(busy)) from None
        except OSError as error:  # the lock, the journal or a rename: no space, read-only
            if (folder / JOURNAL_FILE).exists():
                kept = f"publishing this run stopped midway, and the next run into {folder} finishes it"
            else:
                kept = f"nothing of this run was published, {folder} keeps its previous outputs"
            failure = write_failure(error, None, outputs, kept)
            if failure is None:
                raise
            raise failure from None


def _span(plan_context: PlanOrchestrationContext) -> tuple[str, str] | None:
    """The run's first and last day (its partition range or partition), or None for an unpartitioned run."""
    tags = plan_context.dagster_run.tags
    start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    end = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
    return (start, end) if start and end else None


def _partitions(plan_context: PlanOrchestrationContext) -> dg.PartitionsDefinition:
    """The run's daily partitions (the job's, when it has them)."""
    return plan_context.job.get_definition().partitions_def or daily_partitions


def _outputs(plan_context: PlanOrchestrationContext) -> OutputsResource:
    """The run's `outputs` resource: as its run config sets it, else as it is bound."""
    run_config: Mapping[str, Any] = plan_context.run_config  # the run's config as given: any YAML
    configured = (run_config.get("resources") or {}).get(OUTPUTS) or {}
    if "config" in configured:
        return from_config(configured["config"])
    return from_config(_bound_config(plan_context, OUTPUTS))


def _bound_config(plan_context: PlanOrchestrationContext, key: str) -> dict[str, Any] | None:
    """The config the definitions bind resource `key` with (a Pythonic resource's field values), if any."""
    resource = plan_context.job.get_definition().resource_defs.get(key)
    field = resource.config_field if resource is not None else None
    value = field.default_value if field is not None and field.default_provided else None
    return value if isinstance(value, dict) else None


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
    create = dg.multi_or_in_process_executor.executor_creation_fn
    assert create is not None  # Dagster's default executor is made by one
    return FolderLockedExecutor(create(init_context))


folder_locked_executor = dg.ExecutorDefinition(
    name="folder_locked_executor",
    # Dagster annotates the raw schemas it takes, and takes a definition's own schema too (it is kept as is).
    config_schema=dg.multi_or_in_process_executor.config_schema,  # type: ignore[arg-type]
    requirements=dg.multi_or_in_process_executor.get_requirements,
    executor_creation_fn=_locked,
    description="Dagster's default executor (multiprocess or in-process), holding the outputs folder for the run.",
)
