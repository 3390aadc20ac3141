"""A run published as a whole, in Dagster's terms: staged from its first step, published after its last.

Why the executor and not a publishing asset: an asset runs only when it is selected and its
upstream steps succeeded, so a run that selects part of the graph (the weekly model job, a UI
launch of one asset) or fails early would have no step left to publish or clean up, and an asset
cannot depend on "every other step of this run" whatever the selection. The executor
(`run_lock_executor.py`) runs in the run's orchestrating process from the first step to the last,
holding the outputs folder, for `make run`, `dagster asset materialize`, UI launches and schedules
alike; it sees every step's outcome (a failed blocking check fails its step). So there, under the
lock: finish a publication a killed run left half done and remove what dead runs staged
(`Publication.start`), create this run's staging, run the steps, then publish the staging when
no step failed, or discard it (`Publication.finish`).

`dagster.materialize` and `execute_in_process` (the tests) run in process without the executor:
they write in place, one atomic file at a time, as before. `materialize` below is the same call
with the run published as a whole, for tests of publication and for Python callers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.events import DagsterEvent, EngineEventData

if TYPE_CHECKING:
    from dagster._core.execution.context.system import PlanOrchestrationContext

from poppy_pipeline.common.publication import RunStaging, clear_stale, roll_forward
from poppy_pipeline.common.run_lock import folder_lock
from poppy_pipeline.dagster_support.outputs_resource import RESOURCE_KEY as OUTPUTS
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource, from_config, operator_roots

# The engine event of a publication holds, under this metadata key, every path it changed (JSON).
PUBLISHED_KEY = "published"
KEPT_KEY = "rejected_rows_kept_in"


class Publication:
    """Run `run_id`'s staging in `folder`: call `start` holding the folder, `finish` after the last step."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.folder = folder
        self.staging = RunStaging(folder, run_id, operator_roots())

    def start(self) -> list[str]:
        """Finish what a killed run left half published, clear dead runs' staging, create this run's;
        returns what was done, to log."""
        notes = []
        if rolled := roll_forward(self.folder):
            notes.append(
                f"Finished publishing run {rolled[0]}, which stopped midway (killed?): {len(rolled[1])} more of its"
                f" files put in place in {self.folder}."
            )
        if cleared := clear_stale(self.folder, self.staging.run_id):
            notes.append(
                f"Removed what {len(cleared)} earlier run(s) had staged and not published: {', '.join(cleared)}."
            )
        self.staging.begin()
        return notes

    def finish(self, failed_steps: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """Publish the run, or discard it when a step failed: (a sentence saying which, its metadata)."""
        if failed_steps:
            kept = self.staging.discard(keep_rejected=True)
            rows = f" The rows it rejected are kept in {kept} until the next run." if kept else ""
            message = (
                f"Nothing of this run was published ({', '.join(failed_steps)} failed): {self.folder.resolve()} keeps"
                f" its previous outputs.{rows}"
            )
            return message, {PUBLISHED_KEY: "[]", **({KEPT_KEY: str(kept)} if kept else {})}
        changed = self.staging.publish()
        shown = [self._shown(path) for path in changed]
        message = f"Published this run: {len(changed)} paths changed in {self.folder.resolve()}."
        return message, {PUBLISHED_KEY: json.dumps(shown)}

    def abandon(self) -> None:
        """The run stopped without an outcome (interrupted): nothing of it is published."""
        self.staging.remove()

    def _shown(self, path: Path) -> str:
        """A changed path as the summary lists it: relative to the outputs folder, else absolute."""
        try:
            return str(path.relative_to(self.staging.outputs))
        except ValueError:
            return str(path)


def published_events(
    plan_context: PlanOrchestrationContext, folder: Path, events: Iterator[DagsterEvent]
) -> Iterator[DagsterEvent]:
    """`events` (the inner executor's) with the run published after the last, or discarded."""
    publication = Publication(folder, plan_context.run_id)
    for note in publication.start():
        plan_context.log.warning(note)
    failed: list[str] = []
    try:
        for event in events:
            if event.is_step_failure and event.step_key is not None and event.step_key not in failed:
                failed.append(event.step_key)
            yield event
    except BaseException:
        publication.abandon()
        raise
    message, metadata = publication.finish(failed)
    yield DagsterEvent.engine_event(plan_context, message, EngineEventData(metadata=metadata))


def materialize(
    assets: Sequence[dg.AssetsDefinition],
    resources: Mapping[str, object],
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    partition_key: str | None = None,
    selection: Sequence[dg.AssetsDefinition] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """`dagster.materialize(…, raise_on_error=False)` with the run published as a whole, as the
    project's executor publishes every other run (the folder held, staged, published or discarded)."""
    defs = dg.Definitions(
        jobs=[dg.define_asset_job("__poppy_published_job", selection=selection)], assets=assets, resources=resources
    )
    job = defs.resolve_job_def("__poppy_published_job")
    folder = _folder(resources, run_config or {})
    run_id = str(uuid.uuid4())
    instance = instance or dg.DagsterInstance.ephemeral()
    with folder_lock(folder, run_id):
        publication = Publication(folder, run_id)
        publication.start()
        try:
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                partition_key=partition_key,
                raise_on_error=False,
                tags=tags,
                run_id=run_id,
            )
        except BaseException:
            publication.abandon()
            raise
        failed = [event.step_key for event in result.all_events if event.is_step_failure and event.step_key is not None]
        message, metadata = publication.finish(failed if failed or result.success else ["the run"])
    instance.report_engine_event(message, result.dagster_run, EngineEventData(metadata=metadata))
    return result


def _folder(resources: Mapping[str, object], run_config: Mapping[str, Any]) -> Path:
    configured = (run_config.get("resources") or {}).get(OUTPUTS) or {}
    if "config" in configured:
        return from_config(configured["config"]).path()
    bound = resources.get(OUTPUTS)
    return bound.path() if isinstance(bound, OutputsResource) else from_config(None).path()
