"""`run` requests as Dagster runs: shared per layer, one at a time, over the documented span."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from poppy_pipeline.dagster_support.day_span import RANGE_END_TAG, RANGE_START_TAG
from poppy_pipeline.service.dagster_runs import AssetGraph, DagsterError, DagsterWebserver
from poppy_pipeline.service.layers import LAYERS
from poppy_pipeline.service.run_events import RunOutcome
from poppy_pipeline.service.runs import LAYER_TAG, LayerRuns, run_config, service_span
from poppy_pipeline.service.settings import ServiceSettings

GRAPH = {
    "celestial_objects": [],
    "users": [],
    "simulated_interactions": ["celestial_objects", "users"],
    "session_actions": ["simulated_interactions"],
    "trending_objects": ["celestial_objects", "simulated_interactions"],
    "categories": [],
    "category_preferences_mf": ["celestial_objects", "simulated_interactions", "categories"],
    "engine_exports": ["trending_objects", "category_preferences_mf"],
}
SETTINGS = ServiceSettings(token="t", export_dir=Path("/srv/exports"), span_days=7, when_too_few="simulate")


class FakeWebserver(DagsterWebserver):
    """Launches nothing: records each launch and finishes a run when the test says so."""

    def __init__(self) -> None:
        super().__init__("http://fake")
        self.launched: list[tuple[list[str], dict, dict]] = []
        self.running = 0
        self.most_at_once = 0
        self.finish = asyncio.Event()

    async def asset_graph(self, assets: list[str]) -> AssetGraph:
        return AssetGraph("poppy_pipeline", "__repository__", GRAPH)

    async def launch(self, graph: AssetGraph, assets: list[str], run_config: dict, tags: dict[str, str]) -> str:
        self.launched.append((assets, run_config, tags))
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        return f"run-{len(self.launched)}"

    async def wait(self, run_id: str, timeout: float) -> str:
        await self.finish.wait()
        self.running -= 1
        return "SUCCESS"

    async def outcome(self, run_id: str, status: str) -> RunOutcome:
        return RunOutcome(run_id, status, "", "database", "")


async def requests_together(runs: LayerRuns, webserver: FakeWebserver, layers: list[int]) -> list[str]:
    tasks = [asyncio.ensure_future(runs.run(LAYERS[n] if n <= 3 else replace(LAYERS[2], number=n))) for n in layers]
    await asyncio.sleep(0.05)  # every request has arrived while the first run is running
    webserver.finish.set()
    return [done.outcome.run_id for done in await asyncio.gather(*tasks)]


def test_requests_for_one_layer_at_once_share_one_run():
    webserver = FakeWebserver()
    runs = LayerRuns(SETTINGS, webserver)
    assert asyncio.run(requests_together(runs, webserver, [2, 2, 2])) == ["run-1"] * 3
    assert len(webserver.launched) == 1 and runs.in_progress() == []


def test_a_request_after_the_run_finished_gets_a_new_run():
    async def one_after_another() -> list[str]:
        webserver = FakeWebserver()
        webserver.finish.set()
        runs = LayerRuns(SETTINGS, webserver)
        return [(await runs.run(LAYERS[2])).outcome.run_id for _ in range(2)]

    assert asyncio.run(one_after_another()) == ["run-1", "run-2"]


def test_runs_of_different_layers_follow_one_another():
    webserver = FakeWebserver()
    runs = LayerRuns(SETTINGS, webserver)
    assert asyncio.run(requests_together(runs, webserver, [2, 3, 2, 3])) == ["run-1", "run-2", "run-1", "run-2"]
    assert webserver.most_at_once == 1


def test_a_run_selects_the_layers_assets_what_they_need_and_the_publisher_not_the_other_layers():
    webserver = FakeWebserver()
    asyncio.run(requests_together(LayerRuns(SETTINGS, webserver), webserver, [2]))
    ((assets, config, tags),) = webserver.launched
    assert assets == ["celestial_objects", "engine_exports", "simulated_interactions", "trending_objects", "users"]
    assert config == run_config(LAYERS[2], SETTINGS)
    assert tags[LAYER_TAG] == "2" and tags[RANGE_START_TAG] <= tags[RANGE_END_TAG]


def test_the_run_reads_the_database_with_the_back_ends_bar_and_publishes_where_the_service_reads():
    assert run_config(LAYERS[2], SETTINGS) == {
        "resources": {
            "interaction_source": {
                "config": {"format": "database", "min_real_interactions": 300, "when_too_few": "simulate"}
            }
        },
        "ops": {"engine_exports": {"config": {"folder": "/srv/exports"}}},
    }


def test_the_service_config_goes_on_top_of_the_base_run_config():
    base = {"execution": {"config": {"in_process": {}}}, "resources": {"interaction_source": {"config": {
        "format": "poppy", "max_quarantine_share": 0.05}}, "simulation": {"config": {"seed": 3}}}}  # fmt: skip
    config = run_config(LAYERS[3], replace(SETTINGS, base_run_config=base))
    assert config["execution"] == base["execution"] and config["resources"]["simulation"] == {"config": {"seed": 3}}
    assert config["resources"]["interaction_source"]["config"] == {
        "format": "database", "max_quarantine_share": 0.05, "when_too_few": "simulate"
    }  # fmt: skip


def test_layers_3_and_4_count_likes_and_ratings_and_publish_their_own_files():
    for number, asset in ((3, "category_preferences_mf"), (4, "category_preferences_nn")):
        assert run_config(LAYERS[number], SETTINGS) == {
            "resources": {"interaction_source": {"config": {"format": "database", "when_too_few": "simulate"}}},
            "ops": {asset: {"config": {"min_real_interactions": 500}}},
        }


def test_a_layer_3_run_selects_its_asset_and_what_it_needs_not_engine_exports():
    webserver = FakeWebserver()
    asyncio.run(requests_together(LayerRuns(SETTINGS, webserver), webserver, [3]))
    ((assets, _, tags),) = webserver.launched
    assert assets == ["categories", "category_preferences_mf", "celestial_objects", "simulated_interactions", "users"]
    assert tags[LAYER_TAG] == "3"


def test_the_span_is_the_trailing_complete_days():
    assert service_span(7, date(2026, 3, 10)) == ("2026-03-03", "2026-03-09")
    assert service_span(1, date(2026, 3, 1)) == ("2026-02-28", "2026-02-28")
    assert service_span(10_000, date(2026, 3, 1))[0] == "2024-01-01"  # not before the first partition


def test_a_missing_asset_is_a_sentence():
    graph = AssetGraph("poppy_pipeline", "__repository__", GRAPH)
    with pytest.raises(DagsterError, match="The code location poppy_pipeline has no asset category_preferences_nn"):
        graph.closure(["category_preferences_nn"])
