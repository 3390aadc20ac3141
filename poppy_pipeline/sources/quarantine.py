"""Rejected input rows, kept with a reason instead of being dropped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from poppy_pipeline.common import tables
from poppy_pipeline.common.paths import quarantine_dir, replaced_atomically


def write_quarantine(base: Path, asset_name: str, source_name: str, rejected: pd.DataFrame) -> Path | None:
    """Write `rejected` (original columns + `reason`) to the asset's quarantine folder under `base`.

    Returns the file written, or None when nothing was rejected (an older file for the same
    source is removed, so the folder always reflects the latest run).
    """
    path = quarantine_dir(base, asset_name) / f"{Path(source_name).stem}.csv"
    if rejected.empty:
        path.unlink(missing_ok=True)
        return None
    with replaced_atomically(path) as temporary:
        tables.write_csv(rejected, temporary)
    return path
