"""Where the project reads inputs and writes outputs (resolved when used, not at import)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "data/outputs"
DEFAULT_OBJECTS_DIR = "data/objects"


def data_dir() -> Path:
    """Base folder of every output: `$POPPY_DATA_DIR`, default `data/outputs`."""
    return Path(os.environ.get("POPPY_DATA_DIR") or DEFAULT_DATA_DIR)


def quarantine_dir(asset_name: str) -> Path:
    """Where an asset's rejected input rows go, each with a `reason` column."""
    return data_dir() / "quarantine" / asset_name
