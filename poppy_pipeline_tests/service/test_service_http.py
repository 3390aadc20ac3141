"""The service's HTTP contract, field for field and status for status, against its own process
(`make serve`'s command) with a published Layer 2 file; its Dagster webserver is not running, so
`run` answers that it cannot be reached."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.engagement.engine_exports import LAYER_2_FILE, write_layer_2
from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES as CATEGORIES
from poppy_pipeline.service.layers import LAYERS
from poppy_pipeline_tests.support.servers import free_port
from poppy_pipeline_tests.support.service_processes import REPO, Process, service

TOKEN = "http-Tk-5Rz8qWv2-Poppy"


def trending(rows: int, offset: int = 0) -> pd.DataFrame:
    types = ["Star", "Planet", "Moon"]
    return pd.DataFrame(
        {
            "Object_Type": [types[i % 3] for i in range(rows)],
            "Object_ID": [str(1 + offset + i // 3) for i in range(rows)],
            "total_interactions": [10 + i for i in range(rows)],
            "num_views": [5 + i for i in range(rows)],
            "num_clicks": [3] * rows,
            "num_favorites": [2] * rows,
            "trending_score": [round(100 / (1 + i), 2) for i in range(rows)],
        }
    )


def preferences(users: int) -> pd.DataFrame:
    """A Layer 3/4 file: `User_ID` and a 0-10 preference for each of the engine's 21 categories."""
    values = {name: [round((i * 7 + j) % 101 / 10, 1) for i in range(users)] for j, name in enumerate(CATEGORIES)}
    return pd.DataFrame({"User_ID": [str(1000 + i) for i in range(users)], **values})


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    folder = tmp_path_factory.mktemp("service_http")
    write_layer_2(trending(30), folder / "exports")
    for layer in (3, 4):
        tables.write_csv(preferences(25 + layer), folder / "exports" / LAYERS[layer].file_name)
    env = {
        "POPPY_SERVICE_TOKEN": TOKEN,
        "POPPY_ENGINE_EXPORT_DIR": str(folder / "exports"),
        "POPPY_DAGSTER_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
    }
    with service(env, folder / "service.log") as process:
        yield process


def exports(process: Process) -> Path:
    return process.log.parent / "exports"


def post(process: Process, layer: object = 2, body: object = None, headers: dict | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"} if headers is None else headers
    content = body if isinstance(body, bytes) else None
    return httpx.post(
        f"{process.url}/run-layer/{layer}",
        json={"mode": "cached"} if body is None else (None if content else body),
        content=content,
        headers=headers,
        timeout=60,
    )


def expect_error(answer: httpx.Response, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] == "error" and words in body["message"], body


def test_the_health_check_is_online(running: Process):
    answer = httpx.get(f"{running.url}/", timeout=30)
    assert answer.status_code == 200
    assert answer.json()["status"] == "online" and answer.json()["layers"] == [2, 3, 4]


def test_cached_answers_the_published_rows_as_the_old_service_did(running: Process):
    answer = post(running)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["status", "total_rows", "output", "data"]
    assert body["status"] == "success" and body["total_rows"] == 30
    assert body["output"].startswith(f"cached: {LAYER_2_FILE}: 30 rows, published ")
    assert body["data"] == pd.read_csv(exports(running) / LAYER_2_FILE).to_dict(orient="records")
    assert isinstance(body["data"][0]["Object_ID"], int) and isinstance(body["data"][2]["trending_score"], float)


@pytest.mark.parametrize("encoding", ["identity", "gzip", "br;q=1.0, gzip;q=0.5", "gzip;q=0", None])
def test_cached_is_compressed_only_for_clients_that_accept_gzip(running: Process, encoding: str | None):
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": encoding or ""}
    with httpx.stream("POST", f"{running.url}/run-layer/2", json={"mode": "cached"}, headers=headers) as answer:
        raw = b"".join(answer.iter_raw())
    compressed = encoding is not None and "gzip" in encoding and "q=0," not in encoding + ","
    assert answer.headers.get("content-encoding") == ("gzip" if compressed else None)
    body = json.loads(gzip.decompress(raw) if compressed else raw)
    assert body["data"] == pd.read_csv(exports(running) / LAYER_2_FILE).to_dict(orient="records")


@pytest.mark.parametrize("layer", [3, 4])
def test_cached_answers_the_preference_files_with_the_engines_columns(running: Process, layer: int):
    body = post(running, layer=layer).json()
    assert body["status"] == "success" and body["total_rows"] == 25 + layer
    assert body["data"] == pd.read_csv(exports(running) / LAYERS[layer].file_name).to_dict(orient="records")
    assert list(body["data"][0]) == ["User_ID", *CATEGORIES] and body["data"][0]["User_ID"] == 1000


def test_a_newly_published_file_is_answered_at_once(running: Process):
    write_layer_2(trending(12, offset=100), exports(running))
    body = post(running).json()
    assert body["total_rows"] == 12 and body["data"][0]["Object_ID"] == 101
    write_layer_2(trending(30), exports(running))  # as the other tests expect
    assert post(running).json()["total_rows"] == 30


def test_thirty_concurrent_cached_requests_are_answered_correctly(running: Process):
    expected = pd.read_csv(exports(running) / LAYER_2_FILE).to_dict(orient="records")

    async def together() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            url = f"{running.url}/run-layer/2"
            requests = [client.post(url, json={"mode": "cached"}, headers=headers) for _ in range(30)]
            return await asyncio.gather(*requests)

    answers = asyncio.run(together())
    assert [answer.status_code for answer in answers] == [200] * 30
    assert all(answer.json()["data"] == expected for answer in answers)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": f"Bearer {TOKEN[:-1]}"},
     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}, {"Authorization": "Bearer"}],
)  # fmt: skip
def test_a_missing_or_wrong_token_is_403(running: Process, headers: dict):
    expect_error(post(running, headers=headers), 403, "token")


def test_the_token_is_checked_before_the_layer(running: Process):
    expect_error(post(running, layer=9, headers={"Authorization": "Bearer nope"}), 403, "token")


@pytest.mark.parametrize("layer", [0, 1, 5, 22, "abc", "-2", "02", "%D9%A3"])
def test_an_unknown_layer_is_404(running: Process, layer: object):
    expect_error(post(running, layer=layer), 404, "There is no layer ")


@pytest.mark.parametrize("body", [{"mode": "fast"}, {}, [], b"not json", b""])
def test_a_bad_body_is_400(running: Process, body: object):
    expect_error(post(running, body=body), 400, '{"mode": "run"} or {"mode": "cached"}')


def test_other_routes_and_methods_answer_the_error_shape(running: Process):
    expect_error(httpx.get(f"{running.url}/run-layer/2", timeout=30), 405, "Method Not Allowed")
    expect_error(httpx.get(f"{running.url}/nothing", timeout=30), 404, "Not Found")


def test_run_without_a_reachable_dagster_is_503_with_a_sentence(running: Process):
    expect_error(post(running, body={"mode": "run"}), 503, "cannot be reached")


def test_cached_before_anything_is_published_is_503(tmp_path: Path):
    env = {"POPPY_SERVICE_TOKEN": TOKEN, "POPPY_ENGINE_EXPORT_DIR": str(tmp_path / "empty")}
    with service(env, tmp_path / "service.log") as process:
        expect_error(post(process), 503, "No Layer 2 file is published yet")


def test_a_damaged_file_is_500_naming_line_and_column(tmp_path: Path):
    damaged = trending(5).astype(str)
    damaged.loc[3, "trending_score"] = "nan"
    (tmp_path / "exports").mkdir()
    damaged.to_csv(tmp_path / "exports" / LAYER_2_FILE, index=False)
    env = {"POPPY_SERVICE_TOKEN": TOKEN, "POPPY_ENGINE_EXPORT_DIR": str(tmp_path / "exports")}
    with service(env, tmp_path / "service.log") as process:
        expect_error(post(process), 500, "line 5, column trending_score: 'nan' is not a number")


def test_the_service_refuses_to_start_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != "POPPY_SERVICE_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "poppy_pipeline.service"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "poppy_pipeline service: POPPY_SERVICE_TOKEN is not set: the service refuses to start without the token the"
        " back end sends (its ML service token); set it and start again."
    )


def test_the_token_is_in_no_log(running: Process):
    post(running, headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    log = running.log_text()
    assert "POST /run-layer/2" in log and "403" in log  # the requests were logged
    assert TOKEN not in log
