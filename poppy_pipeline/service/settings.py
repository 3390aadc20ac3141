"""The service's settings, from the environment: each bad value is one sentence naming its variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from poppy_pipeline.common.paths import DEFAULT_DATA_DIR

TOKEN_ENV = "POPPY_SERVICE_TOKEN"
PORT_ENV = "POPPY_SERVICE_PORT"
DAGSTER_URL_ENV = "POPPY_DAGSTER_URL"
SPAN_DAYS_ENV = "POPPY_SERVICE_SPAN_DAYS"
WHEN_TOO_FEW_ENV = "POPPY_SERVICE_WHEN_TOO_FEW"
RUN_TIMEOUT_ENV = "POPPY_SERVICE_RUN_TIMEOUT_SECONDS"
EXPORT_DIR_ENV = "POPPY_ENGINE_EXPORT_DIR"
RUN_CONFIG_ENV = "POPPY_SERVICE_RUN_CONFIG"
HOST = "127.0.0.1"  # the back end reaches it on this machine (or through a proxy the operator sets up)
DEFAULT_PORT = 8000  # uvicorn's
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"  # `make ui`'s webserver; the cluster's is on 3001
DEFAULT_SPAN_DAYS = 30
DEFAULT_RUN_TIMEOUT_SECONDS = 3600.0
WHEN_TOO_FEW = ("fail", "simulate")


class SettingsError(ValueError):
    """A setting the service cannot start with (one sentence)."""


@dataclass(frozen=True)
class ServiceSettings:
    token: str = ""  # never logged, never shown in a repr
    port: int = DEFAULT_PORT
    dagster_url: str = DEFAULT_DAGSTER_URL
    export_dir: Path = Path()
    span_days: int = DEFAULT_SPAN_DAYS
    when_too_few: str = "fail"
    run_timeout_seconds: float = DEFAULT_RUN_TIMEOUT_SECONDS
    # Run config every run starts from (a YAML file, e.g. config/run.yaml for the in-process executor).
    base_run_config: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ServiceSettings(port={self.port}, dagster_url={self.dagster_url!r}, export_dir={str(self.export_dir)!r},"
            f" span_days={self.span_days}, when_too_few={self.when_too_few!r},"
            f" run_timeout_seconds={self.run_timeout_seconds}, base_run_config={self.base_run_config})"
        )

    __str__ = __repr__


def from_environment(env: Mapping[str, str] = os.environ) -> ServiceSettings:
    """The settings; a `SettingsError` when the token is missing or a value is unusable."""
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise SettingsError(
            f"{TOKEN_ENV} is not set: the service refuses to start without the token the back end sends"
            " (its ML service token); set it and start again."
        )
    when_too_few = env.get(WHEN_TOO_FEW_ENV, "").strip() or "fail"
    if when_too_few not in WHEN_TOO_FEW:
        raise SettingsError(f"{WHEN_TOO_FEW_ENV} must be fail or simulate, not {when_too_few!r}.")
    export_dir = _export_dir(env)
    return ServiceSettings(
        token=token,
        port=_whole(env, PORT_ENV, DEFAULT_PORT, 1, 65535),
        dagster_url=(env.get(DAGSTER_URL_ENV, "").strip() or DEFAULT_DAGSTER_URL).rstrip("/"),
        export_dir=export_dir.resolve(),
        span_days=_whole(env, SPAN_DAYS_ENV, DEFAULT_SPAN_DAYS, 1, 3660),
        when_too_few=when_too_few,
        run_timeout_seconds=float(_whole(env, RUN_TIMEOUT_ENV, int(DEFAULT_RUN_TIMEOUT_SECONDS), 1, 86_400)),
        base_run_config=_run_config(env.get(RUN_CONFIG_ENV, "").strip()),
    )


def _run_config(path: str) -> dict:
    if not path:
        return {}
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(
            f"{RUN_CONFIG_ENV} names {path}, which is not readable YAML ({type(error).__name__})."
        ) from None
    if not isinstance(loaded, dict):
        raise SettingsError(f"{RUN_CONFIG_ENV} names {path}, which does not hold run config (a mapping).")
    return loaded


def _export_dir(env: Mapping[str, str]) -> Path:
    """Where the engine's files are published: the pipeline's rule (`engagement/engine_exports.py`),
    `$POPPY_ENGINE_EXPORT_DIR`, else `<$POPPY_DATA_DIR or data/outputs>/engine_exports`."""
    explicit = env.get(EXPORT_DIR_ENV, "").strip()
    return Path(explicit) if explicit else Path(env.get("POPPY_DATA_DIR") or DEFAULT_DATA_DIR) / "engine_exports"


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)
