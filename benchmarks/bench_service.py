"""The back end's ML service, measured as the back end uses it (issue 28).

    .venv/bin/python benchmarks/bench_service.py [--only cached|run] [--users 10000] [--clients 20]
        [--seconds 20] [--rows 100000]

`cached`: a Layer 3 file of `--users` users (the engine's 22 columns, written by the pipeline's CSV
writer; Layer 2's file when the service has no Layer 3), the service started as `make serve` starts
it, and `--clients` clients each sending `{"mode": "cached"}` again as soon as its answer has fully
arrived, for `--seconds`, each on its own kept-alive connection. Latency is from sending to the
last byte of the body (not parsed: the client's JSON parsing is the back end's cost, not the
service's); the first answer is checked against the file. Measured twice: without and with
`Accept-Encoding: gzip`. Goal: p50 ≤ 100 ms and p99 ≤ 500 ms with 20 clients on 2 cores.

`run`: MariaDB holding the back end's tables with `--rows` interactions over the 30 days ending
yesterday, `make ui`'s webserver (`dagster dev`) and the service; one `{"mode": "run"}` of Layer 2
timed end to end, beside the Dagster run's own start-to-end time, with the UI's executor
(multiprocess) and with `config/run.yaml`'s in-process one (`POPPY_SERVICE_RUN_CONFIG`). The
machine is shared: the load average is printed with every figure. Results in
benchmarks/results/service.json (`benchmarks/harness.py`; `POPPY_BENCH_RESULTS=/tmp/smoke` for a
smoke run at a tiny size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Benchmark

from poppy_pipeline.common import tables
from poppy_pipeline.service.layers import LAYERS, Kind
from poppy_pipeline.service.published import read_published
from poppy_pipeline.service.runs import LAYER_TAG
from poppy_pipeline_tests.support import backend_tables, mariadb_server
from poppy_pipeline_tests.support.service_processes import dagster_dev, service

TOKEN = "bench-service-token"
IN_PROCESS = {"POPPY_SERVICE_RUN_CONFIG": "config/run.yaml"}
P50_GOAL_MS, P99_GOAL_MS = 100, 500


def load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def preference_file(folder: Path, users: int) -> tuple[int, Path]:
    """The layer measured and its published file: Layer 3 when the service has it, else Layer 2."""
    rng = np.random.default_rng(0)
    layer = LAYERS.get(3) or LAYERS[2]
    columns = {}
    for name, kind in layer.columns:
        if kind is Kind.NUMBER:
            columns[name] = np.round(rng.uniform(0, 10, users), 6)
        elif kind is Kind.TEXT:
            columns[name] = rng.choice(["Star", "Planet", "Moon"], users)
        else:
            columns[name] = np.arange(1, users + 1).astype(str) if kind is Kind.ID else rng.integers(0, 500, users)
    path = folder / layer.file_name
    folder.mkdir(parents=True, exist_ok=True)
    tables.write_csv(pd.DataFrame(columns), path)
    print(f"cached: Layer {layer.number}'s file of {users:,} rows, {path.stat().st_size / 1e6:.1f} MB")
    return layer.number, path


async def clients(url: str, count: int, seconds: float, encoding: str) -> list[float]:
    """Each client's answers' latencies (s), requests sent back to back for `seconds` on a kept-alive
    connection. A plain HTTP/1.1 client on asyncio streams: httpx spent more CPU receiving 4 MB
    bodies than the service spent sending them, and on 2 shared cores that is the service's time too."""
    address = httpx.URL(url)
    body = json.dumps({"mode": "cached"}).encode()
    request = (
        f"POST {address.raw_path.decode()} HTTP/1.1\r\nHost: {address.host}:{address.port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nAccept-Encoding: {encoding}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        reader, writer = await asyncio.open_connection(address.host, address.port, limit=1 << 22)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
        writer.close()

    await asyncio.gather(*(one_client() for _ in range(count)))
    return latencies


def cached_scenario(bench: Benchmark, folder: Path, users: int, count: int, seconds: float) -> None:
    number, path = preference_file(folder / "exports", users)
    env = {"POPPY_SERVICE_TOKEN": TOKEN, "POPPY_ENGINE_EXPORT_DIR": str(folder / "exports")}
    results = {}
    with service(env, folder / "service_cached.log") as running:
        url = f"{running.url}/run-layer/{number}"
        first = httpx.post(url, json={"mode": "cached"}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
        assert first.json()["data"] == pd.read_csv(path).to_dict(orient="records"), "the answer is not the file"
        for encoding in ("identity", "gzip"):  # as a client without and with `Accept-Encoding: gzip` (e.g. axios)
            results[encoding] = measure(running.process.pid, url, count, seconds, encoding)
    rows = [
        [encoding, f"{r['requests']:,}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}",
         f"{r['max_ms']:.0f}", f"{r['service_cpu_s']:.1f}", f"{r['client_cpu_s']:.1f}"]
        for encoding, r in results.items()
    ]  # fmt: skip
    bench.table(
        f"`cached`, Layer {number}: {users:,} rows, {len(first.content) / 1e6:.1f} MB of JSON, {count} clients,"
        f" {seconds:.0f} s",
        ["Accept-Encoding", "answers", "p50 ms", "p95 ms", "p99 ms", "max ms", "service CPU s", "clients CPU s"],
        rows,
    )
    for encoding, r in results.items():
        bench.goal(f"cached p50, {count} clients ({encoding})", r["p50_ms"], P50_GOAL_MS, "ms", "<=")
        bench.goal(f"cached p99, {count} clients ({encoding})", r["p99_ms"], P99_GOAL_MS, "ms", "<=")
    per_request = read_per_request(path, number)
    bench.note(
        f"Making the answer from the file (read, `data` built, gzip) takes {per_request * 1000:.0f} ms (best of"
        " three): the service does it once per version of the file, and a request only stats the file."
    )
    bench.record(cached={"layer": number, "users": users, "plain_bytes": len(first.content),
                         "answer_from_file_s": per_request, **results})  # fmt: skip


def read_per_request(path: Path, number: int) -> float:
    """What reading the file for every request would cost: the service's whole answer, made from the file."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        read_published(path, LAYERS[number])
        times.append(time.perf_counter() - started)
    return min(times)


def measure(pid: int, url: str, count: int, seconds: float, encoding: str) -> dict:
    before = os.times()
    cpu_before = _cpu_seconds(pid)
    latencies = np.array(asyncio.run(clients(url, count, seconds, encoding))) * 1000
    service_cpu = _cpu_seconds(pid) - cpu_before
    client_cpu = sum(os.times()[:2]) - sum(before[:2])
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(f"cached ({encoding}): {len(latencies)} answers, p50 {p50:.0f} ms, p99 {p99:.0f} ms; {load()}", flush=True)
    return {
        "clients": count, "seconds": seconds, "requests": len(latencies), "p50_ms": p50, "p95_ms": p95,
        "p99_ms": p99, "max_ms": float(latencies.max()), "service_cpu_s": service_cpu, "client_cpu_s": client_cpu,
        "load": os.getloadavg(),
    }  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_scenario(bench: Benchmark, folder: Path, rows: int) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    first_day = yesterday - timedelta(days=29)
    database = mariadb_server.start(folder / "mariadb")
    measured = []
    try:
        admin = database.fresh_database("bench_service")
        started = time.perf_counter()
        backend_tables.fill(admin, backend_tables.interaction_rows(rows, first_day.isoformat(), 30, seed=1))
        bench.note(f"`run`: {rows:,} rows loaded into MariaDB in {time.perf_counter() - started:.1f} s.")
        env = {
            "POPPY_DATA_DIR": str(folder / "outputs"),
            "POPPY_OBJECTS_DIR": str(folder / "no_objects"),
            "POPPY_DATABASE_URL": database.url(database="bench_service"),
        }
        with dagster_dev(folder, env) as dev:
            for executor, extra in (("multiprocess (the UI's)", {}), ("in-process (config/run.yaml)", IN_PROCESS)):
                service_env = {"POPPY_SERVICE_TOKEN": TOKEN, "POPPY_DAGSTER_URL": dev.url, **extra,
                               "POPPY_DATA_DIR": env["POPPY_DATA_DIR"]}  # fmt: skip
                measured.append((executor, *one_run(dev.url, service_env, folder / "service_run.log")))
    finally:
        database.stop()
    bench.table(
        f"`run` of Layer 2 on {rows:,} database rows (30 days), through `make ui`'s webserver",
        ["executor", "end to end s", "Dagster run s (start to end)", "rows answered", "load average"],
        [
            [name, f"{wall:.1f}", f"{dagster_s:.1f}", f"{answered:,}", at]
            for name, wall, dagster_s, answered, at in measured
        ],
    )
    keys = ["executor", "end_to_end_s", "dagster_run_s", "rows", "load"]
    bench.record(run={"rows": rows, "runs": [dict(zip(keys, m, strict=True)) for m in measured]})


def one_run(dagster_url: str, env: dict[str, str], log: Path) -> tuple[float, float, int, str]:
    with service(env, log) as running:
        started = time.perf_counter()
        answer = httpx.post(f"{running.url}/run-layer/2", json={"mode": "run"},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=3600)  # fmt: skip
        wall = time.perf_counter() - started
    body = answer.json()
    assert body["status"] == "success", body
    run = _service_runs(dagster_url)[0]
    print(f"run: {wall:.1f} s end to end, the Dagster run {run['endTime'] - run['startTime']:.1f} s; {load()}")
    return wall, run["endTime"] - run["startTime"], body["total_rows"], load().removeprefix("load average ")


def _service_runs(url: str) -> list[dict]:
    """The service's runs, newest first."""
    query = "{ runsOrError { ... on Runs { results { status startTime endTime tags { key value } } } } }"
    runs = httpx.post(f"{url}/graphql", json={"query": query}, timeout=60).json()["data"]["runsOrError"]["results"]
    return [run for run in runs if any(tag["key"] == LAYER_TAG for tag in run["tags"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["cached", "run"])
    parser.add_argument("--users", type=int, default=10_000, help="rows of the cached file")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rows", type=int, default=100_000, help="database rows of the run scenario")
    args = parser.parse_args()
    title = "The back end's ML service: cached answers, and a run through Dagster"
    with Benchmark("service", title) as bench, tempfile.TemporaryDirectory(prefix="bench_service_") as folder:
        if args.only in (None, "cached"):
            cached_scenario(bench, Path(folder) / "cached", args.users, args.clients, args.seconds)
        if args.only in (None, "run"):
            run_scenario(bench, Path(folder) / "run", args.rows)


if __name__ == "__main__":
    main()
