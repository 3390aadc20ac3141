"""`run` requests as Dagster runs: one run at a time, shared by every request for its layer.

Two requests for the same layer while its run is pending or running wait for that one run (keyed
by layer, in this process). Runs of different layers follow one another, since every run holds
the outputs folder (the pipeline's run lock) and a second would fail on it. A request that goes
away does not cancel the run: the others waiting on it, and the published file, still get it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from poppy_pipeline.dagster_support.day_span import RANGE_END_TAG, RANGE_START_TAG
from poppy_pipeline.dagster_support.partitions import daily_partitions
from poppy_pipeline.service.dagster_runs import DagsterWebserver
from poppy_pipeline.service.layers import Layer
from poppy_pipeline.service.run_events import RunOutcome
from poppy_pipeline.service.settings import ServiceSettings

LAYER_TAG = "poppy/service_layer"


@dataclass(frozen=True)
class LayerRun:
    layer: Layer
    span: tuple[str, str]
    outcome: RunOutcome


def service_span(span_days: int, today: date) -> tuple[str, str]:
    """The trailing `span_days` complete days, ending yesterday (UTC): the daily partitions end there,
    since a day is materialized once it is complete."""
    end = today - timedelta(days=1)
    first = daily_partitions.get_first_partition_key()
    if first is None:  # the daily partitions have a start date, so always a first day
        raise ValueError("service_span: the daily partitions have no first day")
    start = max(end - timedelta(days=span_days - 1), date.fromisoformat(first))
    return start.isoformat(), end.isoformat()


def run_config(layer: Layer, settings: ServiceSettings) -> dict:
    """The service's base run config, and on it: the app's database (its URL stays in the environment
    of Dagster's processes, out of its storage), the back end's row bar for the layer where the layer
    counts it, and for Layer 2 the service's folder for the file (Layers 3 and 4 publish theirs in
    `$POPPY_ENGINE_EXPORT_DIR` of the webserver's environment, which the service must share)."""
    source: dict = {"format": "database", "when_too_few": settings.when_too_few}
    ops: dict = {}
    if layer.bar_owner:
        ops[layer.bar_owner] = {"config": {"min_real_interactions": layer.min_real_interactions}}
    else:
        source["min_real_interactions"] = layer.min_real_interactions
    if layer.publisher:
        ops[layer.publisher] = {"config": {"folder": str(settings.export_dir)}}
    service = {"resources": {"interaction_source": {"config": source}}, **({"ops": ops} if ops else {})}
    return merged(settings.base_run_config, service)


def merged(base: dict, on_top: dict) -> dict:
    """`base` with `on_top`'s values, mappings merged key by key."""
    result = dict(base)
    for key, value in on_top.items():
        result[key] = (
            merged(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) else value
        )
    return result


class LayerRuns:
    def __init__(self, settings: ServiceSettings, webserver: DagsterWebserver):
        self.settings = settings
        self.webserver = webserver
        self._pending: dict[int, asyncio.Future[LayerRun]] = {}
        self._one_at_a_time = asyncio.Lock()

    def in_progress(self) -> list[int]:
        return sorted(self._pending)

    async def run(self, layer: Layer) -> LayerRun:
        """The outcome of the layer's pending run, or of a new one."""
        pending = self._pending.get(layer.number)
        if pending is None:
            pending = asyncio.ensure_future(self._launch_and_wait(layer))
            self._pending[layer.number] = pending
            pending.add_done_callback(lambda done: self._forget(layer.number, done))
        return await asyncio.shield(pending)

    def _forget(self, number: int, done: asyncio.Future[LayerRun]) -> None:
        if self._pending.get(number) is done:
            del self._pending[number]

    async def _launch_and_wait(self, layer: Layer) -> LayerRun:
        async with self._one_at_a_time:
            span = service_span(self.settings.span_days, datetime.now(UTC).date())
            graph = await self.webserver.asset_graph(layer.selected)
            tags = {RANGE_START_TAG: span[0], RANGE_END_TAG: span[1], LAYER_TAG: str(layer.number)}
            assets = sorted({*graph.closure(list(layer.assets)), *layer.selected})
            run_id = await self.webserver.launch(graph, assets, run_config(layer, self.settings), tags)
            status = await self.webserver.wait(run_id, self.settings.run_timeout_seconds)
            return LayerRun(layer, span, await self.webserver.outcome(run_id, status))
