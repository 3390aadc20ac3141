"""The files the Poppy back end serves to its C# recommendation engine, under the names it reads.

`Layer_2_Top_Trending_Per_Type.csv`: the columns the engine's `Layer2_Interaction_Object` binds,
`Object_Type, Object_ID, total_interactions, num_views, num_clicks, num_favorites,
trending_score`. (The back end's own Python Layer-2 script writes `num_likes, num_rates` instead
of `num_clicks, num_favorites`; the engine's binding is the contract, so this export follows it.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from poppy_pipeline.common import tables
from poppy_pipeline.common.paths import replaced_atomically
from poppy_pipeline.engagement.scores import TRENDING_COLUMNS, TRENDING_COUNTS

LAYER_2_FILE = "Layer_2_Top_Trending_Per_Type.csv"
LAYER_2_COLUMNS = TRENDING_COLUMNS


class EngineExportError(ValueError):
    """A table the engine could not bind; nothing is written."""


def engine_export_dir(base: Path) -> Path:
    """`$POPPY_ENGINE_EXPORT_DIR`, default `<base>/engine_exports` (point it at the back end's `Output_Data`)."""
    return Path(os.environ.get("POPPY_ENGINE_EXPORT_DIR") or base / "engine_exports")


def layer_2_problems(trending: pd.DataFrame) -> list[str]:
    """Why the engine could not bind this table (empty when it can)."""
    if trending.columns.tolist() != LAYER_2_COLUMNS:
        return [f"columns are {trending.columns.tolist()}, the engine binds {LAYER_2_COLUMNS}"]
    problems = [f"{c} has empty values" for c in LAYER_2_COLUMNS if trending[c].isna().any()]
    for column in ("Object_ID", "total_interactions", *TRENDING_COUNTS):
        values = pd.to_numeric(trending[column], errors="coerce")
        if ((values < 0) | (values != values.round())).any():
            problems.append(f"{column} holds values that are not whole numbers ≥ 0")
    scores = pd.to_numeric(trending["trending_score"], errors="coerce")
    if not scores.between(0, 100).all():
        problems.append("trending_score is outside 0-100")
    if trending.duplicated(["Object_Type", "Object_ID"]).any():
        problems.append("an (Object_Type, Object_ID) appears twice")
    return problems


def write_layer_2(trending: pd.DataFrame, folder: Path) -> Path:
    """Write the Layer-2 file atomically (the engine never reads a half-written one); refuses a bad table."""
    if problems := layer_2_problems(trending):
        raise EngineExportError(f"{LAYER_2_FILE} not written: {'; '.join(problems)}")
    path = folder / LAYER_2_FILE
    with replaced_atomically(path) as temporary:
        tables.write_csv(trending[LAYER_2_COLUMNS], temporary)
    return path
