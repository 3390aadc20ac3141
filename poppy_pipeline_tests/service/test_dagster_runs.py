"""The GraphQL side of a run, against a stand-in webserver (httpx's MockTransport): launches,
refusals and failures as one sentence each. (The real webserver: test_service_dagster.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from poppy_pipeline.service import dagster_runs
from poppy_pipeline.service.dagster_runs import DagsterError, DagsterWebserver


def webserver(answer: Callable[[dict], httpx.Response]) -> DagsterWebserver:
    def handler(request: httpx.Request) -> httpx.Response:
        return answer(json.loads(request.content))

    return DagsterWebserver("http://dagster:3000/", httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def data(payload: dict) -> httpx.Response:
    return httpx.Response(200, json={"data": payload})


def node(key: str, upstream: list[str], location: str) -> dict:
    return {"assetKey": {"path": [key]}, "dependencyKeys": [{"path": [u]} for u in upstream],
            "repository": {"name": "__repository__", "location": {"name": location}}}  # fmt: skip


def test_the_location_holding_the_assets_is_chosen():
    nodes = [node("other", [], "elsewhere"), node("trending_objects", ["users"], "poppy"), node("users", [], "poppy"),
             node("engine_exports", ["trending_objects"], "poppy")]  # fmt: skip
    graph = asyncio.run(webserver(lambda _: data({"assetNodes": nodes})).asset_graph(["trending_objects"]))
    assert graph.location == "poppy"
    assert graph.closure(["engine_exports"]) == ["engine_exports", "trending_objects", "users"]


def test_a_launch_sends_the_selection_config_and_tags():
    sent: list[dict] = []

    def answer(body: dict) -> httpx.Response:
        sent.append(body["variables"]["params"])
        return data({"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": "abc"}}})

    graph = dagster_runs.AssetGraph("poppy", "__repository__", {"a": [], "b/c": []})
    run_id = asyncio.run(webserver(answer).launch(graph, ["a", "b/c"], {"ops": {}}, {"poppy/service_layer": "2"}))
    assert run_id == "abc"
    assert sent == [{
        "selector": {"repositoryLocationName": "poppy", "repositoryName": "__repository__", "jobName": "__ASSET_JOB",
                     "assetSelection": [{"path": ["a"]}, {"path": ["b", "c"]}]},
        "runConfigData": {"ops": {}},
        "executionMetadata": {"tags": [{"key": "poppy/service_layer", "value": "2"}]},
    }]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "sentence"),
    [
        (data({"launchRun": {"__typename": "RunConfigValidationInvalid", "errors": [{"message": "bad\n  field"}]}}),
         "Dagster refused the run (RunConfigValidationInvalid): bad field"),
        (httpx.Response(200, json={"errors": [{"message": "Cannot query\nfield"}]}),
         "The Dagster webserver at http://dagster:3000 refused a query: Cannot query field"),
        (httpx.Response(502, text="proxy"), "The Dagster webserver at http://dagster:3000 answered HTTP 502."),
    ],
)  # fmt: skip
def test_a_refusal_is_one_sentence(answer: httpx.Response, sentence: str):
    graph = dagster_runs.AssetGraph("poppy", "__repository__", {"a": []})
    with pytest.raises(DagsterError) as raised:
        asyncio.run(webserver(lambda _: answer).launch(graph, ["a"], {}, {}))
    assert str(raised.value) == sentence


def test_an_unreachable_webserver_says_how_to_start_it():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    server = DagsterWebserver("http://127.0.0.1:1", httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    with pytest.raises(DagsterError, match=r"cannot be reached \(ConnectError\); start it with `make ui`"):
        asyncio.run(server.status("abc"))


def test_a_run_that_does_not_finish_in_time_is_left_running(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(dagster_runs, "POLL_SECONDS", 0.01)
    server = webserver(lambda _: data({"runOrError": {"__typename": "Run", "status": "STARTED"}}))
    with pytest.raises(DagsterError, match="Run abc is still STARTED after 0 s; it goes on in Dagster"):
        asyncio.run(server.wait("abc", timeout=0.05))
