"""A layer's run, launched and followed through the Dagster webserver's GraphQL API.

The run goes to the instance behind the webserver (`make ui`'s, or the cluster's), so it shows in
the UI with its checks like any other launch. Nothing here opens the instance itself: the
webserver's URL is all the service knows of Dagster.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from poppy_pipeline.service import run_events
from poppy_pipeline.service.run_events import RunOutcome

ASSET_JOB = "__ASSET_JOB"  # the implicit job of every asset, as the UI's "Materialize" uses
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
POLL_SECONDS = 0.5
REQUEST_SECONDS = 60.0

_ASSET_NODES = """{ assetNodes { assetKey { path } dependencyKeys { path }
  repository { name location { name } } } }"""
_LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
_STATUS = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } ... on Error { message } } }"""


class DagsterError(RuntimeError):
    """The webserver could not be reached, or refused the launch (one sentence)."""


@dataclass(frozen=True)
class AssetGraph:
    """The code location holding the assets, and each asset's upstream keys."""

    location: str
    repository: str
    upstream: dict[str, list[str]] = field(default_factory=dict)

    def closure(self, assets: list[str]) -> list[str]:
        """`assets` and everything they need upstream, sorted."""
        missing = [asset for asset in assets if asset not in self.upstream]
        if missing:
            raise DagsterError(f"The code location {self.location} has no asset {', '.join(missing)}.")
        seen: set[str] = set()
        pending = list(assets)
        while pending:
            asset = pending.pop()
            if asset not in seen:
                seen.add(asset)
                pending.extend(self.upstream.get(asset, []))
        return sorted(seen)


class DagsterWebserver:
    """The GraphQL API at `url` (e.g. http://127.0.0.1:3000)."""

    def __init__(self, url: str, client: httpx.AsyncClient | None = None):
        self.url = url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=REQUEST_SECONDS)

    async def close(self) -> None:
        await self._client.aclose()

    async def query(self, text: str, **variables: Any) -> dict:
        try:
            response = await self._client.post(f"{self.url}/graphql", json={"query": text, "variables": variables})
        except httpx.HTTPError as error:
            raise DagsterError(
                f"The Dagster webserver at {self.url} cannot be reached ({type(error).__name__}); start it with"
                " `make ui` (or `make cluster-up`) and set POPPY_DAGSTER_URL to its address."
            ) from None
        if response.status_code != 200:
            raise DagsterError(f"The Dagster webserver at {self.url} answered HTTP {response.status_code}.")
        body = response.json()
        if body.get("errors"):
            why = " ".join(str(body["errors"][0].get("message", "")).split())[:400]
            raise DagsterError(f"The Dagster webserver at {self.url} refused a query: {why}")
        return body["data"]

    async def asset_graph(self, assets: list[str]) -> AssetGraph:
        """The code location that holds `assets`, with its asset graph."""
        nodes = (await self.query(_ASSET_NODES))["assetNodes"]
        by_location: dict[tuple[str, str], dict[str, list[str]]] = {}
        for node in nodes:
            where = (node["repository"]["location"]["name"], node["repository"]["name"])
            upstream = ["/".join(key["path"]) for key in node["dependencyKeys"]]
            by_location.setdefault(where, {})["/".join(node["assetKey"]["path"])] = upstream
        for (location, repository), graph in by_location.items():
            if all(asset in graph for asset in assets):
                return AssetGraph(location, repository, graph)
        raise DagsterError(f"No code location of the Dagster webserver at {self.url} has {', '.join(assets)}.")

    async def launch(self, graph: AssetGraph, assets: list[str], run_config: dict, tags: dict[str, str]) -> str:
        """Launch a run of `assets` (keys as `a/b`); its run id."""
        params = {
            "selector": {
                "repositoryLocationName": graph.location,
                "repositoryName": graph.repository,
                "jobName": ASSET_JOB,
                "assetSelection": [{"path": asset.split("/")} for asset in assets],
            },
            "runConfigData": run_config,
            "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in tags.items()]},
        }
        result = (await self.query(_LAUNCH, params=params))["launchRun"]
        if result["__typename"] == "LaunchRunSuccess":
            return result["run"]["runId"]
        reasons = [error["message"] for error in result.get("errors") or []] or [result.get("message") or ""]
        why = " ".join("; ".join(reasons).split())  # one line: a PythonError's message may hold several
        raise DagsterError(f"Dagster refused the run ({result['__typename']}): {why[:400]}")

    async def status(self, run_id: str) -> str:
        result = (await self.query(_STATUS, id=run_id))["runOrError"]
        if result["__typename"] != "Run":
            raise DagsterError(f"Run {run_id} is not in the instance: {result.get('message', '')}")
        return result["status"]

    async def wait(self, run_id: str, timeout: float) -> str:
        """The run's final status; a `DagsterError` when it has not finished within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (status := await self.status(run_id)) not in FINISHED:
            if time.monotonic() > deadline:
                raise DagsterError(
                    f"Run {run_id} is still {status} after {timeout:.0f} s; it goes on in Dagster (see its page in the"
                    " UI), and the previous rows stay published until it succeeds."
                )
            await asyncio.sleep(POLL_SECONDS)
        return status

    async def outcome(self, run_id: str, status: str) -> RunOutcome:
        events = (await self.query(run_events.QUERY, id=run_id))["logsForRun"]
        return run_events.outcome(run_id, status, events.get("events") or [])
