"""The service as the back end uses it, for real: MariaDB holding the back end's tables, `make ui`'s
Dagster webserver and the service as their own processes; `run` answers come from Dagster runs.

One module-wide webserver and database: the tests run in order (a good run, then failures that
must leave its rows published). The first run uses the UI's executor (multiprocess), the others
`config/run.yaml`'s in-process one through `POPPY_SERVICE_RUN_CONFIG`, as an operator may.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.engagement.engine_exports import LAYER_2_FILE
from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES
from poppy_pipeline.service.layers import LAYERS
from poppy_pipeline.service.runs import LAYER_TAG
from poppy_pipeline_tests.support.backend_tables import SIZES, SPECTRA, fill, insert, interaction_rows
from poppy_pipeline_tests.support.mariadb_server import MariaDB, mariadb_server  # noqa: F401 (fixture)
from poppy_pipeline_tests.support.service_processes import Process, dagster_dev, service

pytestmark = pytest.mark.timeout(900)

TOKEN = "svc-Tk-93fJq2xLm7-Poppy"
SPAN_DAYS = 10
DATABASE = "service_backend"
IN_PROCESS = {"POPPY_SERVICE_RUN_CONFIG": "config/run.yaml"}


@dataclass
class Backend:
    mariadb: MariaDB
    dagster: Process
    folder: Path

    @property
    def published(self) -> Path:
        return self.folder / "outputs" / "engine_exports" / LAYER_2_FILE

    def env(self, **extra: str) -> dict[str, str]:
        """The service's environment; `in_process` runs start from `config/run.yaml`."""
        return {
            "POPPY_SERVICE_TOKEN": TOKEN,
            "POPPY_DAGSTER_URL": self.dagster.url,
            "POPPY_DATA_DIR": str(self.folder / "outputs"),
            "POPPY_SERVICE_SPAN_DAYS": str(SPAN_DAYS),
            **extra,
        }

    def admin(self, statement: str) -> None:
        with self.mariadb.admin(DATABASE) as connection, connection.cursor() as cursor:
            cursor.execute(statement)

    def runs(self) -> list[dict]:
        """The service's runs in the instance, newest first."""
        query = """{ runsOrError { ... on Runs { results { id status tags { key value } } } } }"""
        runs = httpx.post(f"{self.dagster.url}/graphql", json={"query": query}, timeout=60).json()
        results = runs["data"]["runsOrError"]["results"]
        return [run for run in results if any(tag["key"] == LAYER_TAG for tag in run["tags"])]

    def check_evaluations(self, run_id: str) -> list[dict]:
        query = """query($id: ID!) { logsForRun(runId: $id, limit: 10000) { ... on EventConnection { events {
            ... on AssetCheckEvaluationEvent { evaluation { checkName success } } } } } }"""
        data = httpx.post(
            f"{self.dagster.url}/graphql", json={"query": query, "variables": {"id": run_id}}, timeout=60
        ).json()
        return [event["evaluation"] for event in data["data"]["logsForRun"]["events"] if event]


def span_rows(n: int, seed: int) -> pd.DataFrame:
    """`n` rows of the back end's `Interactions` on the last days of the service's span (ending yesterday)."""
    first = datetime.now(UTC).date() - timedelta(days=SPAN_DAYS - 1)
    return interaction_rows(n, first.isoformat(), SPAN_DAYS - 2, seed=seed)


@pytest.fixture(scope="module")
def backend(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    folder = tmp_path_factory.mktemp("service_backend")
    fill(mariadb.fresh_database(DATABASE), span_rows(2_000, seed=3))
    env = {
        "POPPY_DATA_DIR": str(folder / "outputs"),
        "POPPY_OBJECTS_DIR": str(folder / "no_objects"),
        "POPPY_DATABASE_URL": mariadb.url(database=DATABASE),
    }
    with dagster_dev(folder, env) as dev:
        yield Backend(mariadb, dev, folder)


def post(url: str, mode: str, token: str = TOKEN, layer: int = 2) -> httpx.Response:
    return httpx.post(
        f"{url}/run-layer/{layer}",
        json={"mode": mode},
        headers={"Authorization": f"Bearer {token}"},
        timeout=900,
    )


async def post_together(url: str, mode: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=900) as client:
        requests = [
            client.post(f"{url}/run-layer/2", json={"mode": mode}, headers={"Authorization": f"Bearer {TOKEN}"})
            for _ in range(count)
        ]
        return await asyncio.gather(*requests)


def published_records(path: Path) -> list[dict]:
    """What the old service answered for a file: pandas' records."""
    return pd.read_csv(path).to_dict(orient="records")


def test_run_is_a_dagster_run_shared_by_concurrent_requests(backend: Backend):
    with service(backend.env(), backend.folder / "service.log") as running:
        first, second = asyncio.run(post_together(running.url, "run", 2))
        cached = post(running.url, "cached")
    for answer in (first, second):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert list(body) == ["status", "total_rows", "output", "data"]
        assert body["status"] == "success"
        assert body["data"] == published_records(backend.published)
        assert body["total_rows"] == len(body["data"]) > 0
        assert list(body["data"][0]) == list(pd.read_csv(backend.published, nrows=0).columns)
        assert "from the database" in body["output"] and "holds 2000 rows" in body["output"]
    assert first.json()["output"] == second.json()["output"]  # one run, the same answer
    (run,) = backend.runs()
    assert run["status"] == "SUCCESS" and run["id"] in first.json()["output"]
    checks = backend.check_evaluations(run["id"])
    assert {"quarantine_share", "integrity"} <= {check["checkName"] for check in checks}
    assert cached.json()["data"] == first.json()["data"]
    assert cached.json()["output"].startswith("cached: ")


def test_a_run_that_fails_answers_its_sentence_and_the_rows_stay_published(backend: Backend):
    before = backend.published.read_bytes()
    backend.admin("DELETE FROM Interactions")
    with service(backend.env(**IN_PROCESS), backend.folder / "service_fail.log") as running:
        failed = post(running.url, "run")
        cached = post(running.url, "cached")
    assert failed.status_code == 500
    body = failed.json()
    assert body["status"] == "error"
    assert "holds 0 rows" in body["message"] and "fewer than min_real_interactions 300" in body["message"]
    assert "Traceback" not in body["message"] and "\n" not in body["message"]
    assert backend.published.read_bytes() == before
    assert cached.status_code == 200 and cached.json()["data"] == published_records(backend.published)


def test_a_failed_blocking_check_answers_the_check(backend: Backend):
    rows = span_rows(1_000, seed=4)
    unknown_objects = rows.iloc[:100].assign(Interaction_ID=rows["Interaction_ID"].iloc[:100] + 10_000,
                                              Object_Reference_ID=10_000)  # fmt: skip
    insert(backend.mariadb.admin_url(DATABASE), "Interactions", pd.concat([rows, unknown_objects]))
    before = backend.published.read_bytes()
    with service(backend.env(**IN_PROCESS), backend.folder / "service_check.log") as running:
        failed = post(running.url, "run")
    assert failed.status_code == 500
    message = failed.json()["message"]
    assert "the blocking check simulated_interactions / quarantine_share failed" in message
    assert backend.published.read_bytes() == before


def test_too_few_rows_simulate_when_the_service_says_so(backend: Backend):
    backend.admin("DELETE FROM Interactions")
    env = backend.env(POPPY_SERVICE_WHEN_TOO_FEW="simulate", **IN_PROCESS)
    with service(env, backend.folder / "service_sim.log") as running:
        answer = post(running.url, "run")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "simulated instead of the database" in body["output"] and "holds 0 rows" in body["output"]
    assert body["data"] == published_records(backend.published)


def taste_rows(n: int, seed: int) -> pd.DataFrame:
    """`n` rows in which each user keeps to one spectral class (Likes and high ratings on its stars)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 61, n)
    stars = np.arange(1, SIZES["Star"] + 1)
    liked = [stars[stars % len(SPECTRA) == c] for c in range(len(SPECTRA))]
    own = rng.random(n) < 0.9
    chosen = np.array([rng.choice(liked[u % len(SPECTRA)]) for u in users])  # test data, not pipeline code
    other = rng.integers(1, SIZES["Star"] + 1, n)
    kinds = np.where(own, rng.choice(["Like", "Rate", "View"], n, p=[0.5, 0.2, 0.3]), "View")
    first = datetime.now(UTC).date() - timedelta(days=SPAN_DAYS - 1)
    stamps = pd.Timestamp(first) + pd.to_timedelta(rng.integers(0, (SPAN_DAYS - 2) * 86_400, n), unit="s")
    return pd.DataFrame({
        "Interaction_ID": np.arange(50_001, 50_001 + n), "User_ID": users, "Object_Type": "Star",
        "Object_Reference_ID": np.where(own, chosen, other), "Interaction_Type": kinds,
        "Interaction_Rating": pd.Series(np.where(own, 5, 1), dtype="Int64").where(kinds == "Rate"),
        "Interaction_Timestamp": stamps.astype(str),
    })  # fmt: skip


def test_layer_3_runs_on_the_database(backend: Backend):
    backend.admin("DELETE FROM Interactions")
    insert(backend.mariadb.admin_url(DATABASE), "Interactions", taste_rows(3_000, seed=5))
    with service(backend.env(**IN_PROCESS), backend.folder / "service_layer3.log") as running:
        answer = post(running.url, "run", layer=3)
        cached = post(running.url, "cached", layer=3)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    published = backend.folder / "outputs" / "engine_exports" / LAYERS[3].file_name
    assert body["data"] == published_records(published) == cached.json()["data"]
    assert list(body["data"][0]) == ["User_ID", *ENGINE_CATEGORIES] and body["total_rows"] == len(body["data"]) > 0


def test_the_token_is_in_no_log(backend: Backend):
    logs = [backend.dagster.log, *backend.folder.glob("service*.log")]
    assert len(logs) >= 6
    for log in logs:
        assert TOKEN not in log.read_text(errors="replace"), log
    assert "POST /run-layer/2" in (backend.folder / "service.log").read_text()  # the log was captured
