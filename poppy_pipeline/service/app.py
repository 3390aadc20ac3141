"""The web app: the back end's ML-service contract, field for field.

`GET /` -> `{"status": "online", ...}`. `POST /run-layer/{n}` (n in 2, 3, 4) with
`Authorization: Bearer <token>` and `{"mode": "run" | "cached"}` -> `{"status": "success",
"total_rows", "output", "data"}`, or `{"status": "error", "message"}` with a non-2xx status: 403 for
a missing or wrong token, 404 for an unknown layer, 400 for a bad body, 500 for a failed run, 503
when Dagster cannot be reached or nothing is published yet.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from poppy_pipeline.service.dagster_runs import DagsterError, DagsterWebserver
from poppy_pipeline.service.layers import LAYERS, Layer
from poppy_pipeline.service.published import Published, PublishedFiles, success_body
from poppy_pipeline.service.records import PublishedFileError
from poppy_pipeline.service.runs import LayerRun, LayerRuns
from poppy_pipeline.service.settings import ServiceSettings

log = logging.getLogger("poppy_pipeline.service")
MODES = ("run", "cached")


def error(status_code: int, message: str, **details: object) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, **details}, status_code=status_code)


def authorized(header: str | None, token: str) -> bool:
    """`Bearer <token>`, the token compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def create_app(settings: ServiceSettings, webserver: DagsterWebserver | None = None) -> FastAPI:
    dagster = webserver or DagsterWebserver(settings.dagster_url)
    files = PublishedFiles(settings.export_dir)
    runs = LayerRuns(settings, dagster)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info(f"serving layers {sorted(LAYERS)}: {settings}")
        yield
        await dagster.close()

    app = FastAPI(title="poppy_pipeline ML service", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exception: HTTPException) -> JSONResponse:
        return error(exception.status_code, str(exception.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exception: RequestValidationError) -> JSONResponse:
        return error(400, "The request is not one the service understands.")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exception: Exception) -> JSONResponse:
        log.exception("unexpected error")  # the trace goes to the service's log, not to the back end
        return error(500, f"The service failed unexpectedly ({type(exception).__name__}); see its log.")

    @app.get("/")
    async def health() -> dict:
        return {
            "status": "online",
            "service": "poppy_pipeline",
            "layers": sorted(LAYERS),
            "modes": list(MODES),
            "runs_in_progress": runs.in_progress(),
        }

    @app.post("/run-layer/{number}")
    async def run_layer(number: str, request: Request) -> Response:
        if not authorized(request.headers.get("authorization"), settings.token):
            return error(403, "The token is missing or wrong.")
        layer = next((layer for layer in LAYERS.values() if str(layer.number) == number), None)
        if layer is None:
            return error(404, f"There is no layer {number}; the layers are {', '.join(map(str, sorted(LAYERS)))}.")
        mode = await _mode(request)
        if mode not in MODES:
            return error(400, 'The body must be JSON {"mode": "run"} or {"mode": "cached"}.')
        if mode == "cached":
            return await _cached(files, layer, accepts_gzip(request.headers.get("accept-encoding")))
        return await _run(runs, files, layer)

    return app


async def _mode(request: Request) -> str | None:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    return body.get("mode") if isinstance(body, dict) else None


async def _published(files: PublishedFiles, layer: Layer) -> Published | JSONResponse:
    try:
        return await files.read(layer)
    except FileNotFoundError:
        return error(
            503,
            f"No Layer {layer.number} file is published yet ({files.path(layer)}); ask for a run, or run the"
            " pipeline (make run).",
        )
    except PublishedFileError as problem:
        return error(500, str(problem))


def accepts_gzip(header: str | None) -> bool:
    """Whether `Accept-Encoding` allows gzip (`gzip`, `gzip;q=0.8`; not `gzip;q=0`)."""
    for coding in (header or "").lower().split(","):
        name, _, weight = coding.strip().partition(";")
        if name.strip() == "gzip":
            return weight.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def _cached(files: PublishedFiles, layer: Layer, gzip: bool) -> Response:
    published = await _published(files, layer)
    if isinstance(published, JSONResponse):
        return published
    if gzip:
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(published.cached_gzip, media_type="application/json", headers=headers)
    return Response(published.cached_body, media_type="application/json", headers={"Vary": "Accept-Encoding"})


async def _run(runs: LayerRuns, files: PublishedFiles, layer: Layer) -> Response:
    try:
        done = await runs.run(layer)
    except DagsterError as problem:
        return error(503, str(problem))
    if not done.outcome.ok:
        log.warning(f"layer {layer.number}: {done.outcome.failure}")
        return error(500, done.outcome.failure, run_id=done.outcome.run_id)
    published = await _published(files, layer)
    if isinstance(published, JSONResponse):
        return published
    return Response(success_body(published, _computed(done, published)), media_type="application/json")


def _computed(done: LayerRun, published: Published) -> str:
    """What the run did: its span, whether it read the database or simulated instead, and the file."""
    outcome = done.outcome
    if outcome.source == "simulation":
        source = f"simulated instead of the database (when_too_few: simulate): {outcome.decision}"
    elif outcome.source:
        source = f"from the {outcome.source}" + (f": {outcome.decision}" if outcome.decision else "")
    else:
        source = "from the pipeline's interaction source"
    return (
        f"run: Dagster run {outcome.run_id} over {done.span[0]}..{done.span[1]}, {source}; published"
        f" {published.described}."
    )
