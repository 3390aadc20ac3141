"""The files the Poppy back end serves to its C# recommendation engine, under the names it reads.

`Layer_2_Top_Trending_Per_Type.csv`: the columns the engine's `Layer2_Interaction_Object` binds,
`Object_Type, Object_ID, total_interactions, num_views, num_clicks, num_favorites,
trending_score`. (The back end's own Python Layer-2 script writes `num_likes, num_rates` instead
of `num_clicks, num_favorites`; the engine's binding is the contract, so this export follows it.)

`Layer_3_Final_Predictions.csv` and `Layer4_Final_Predictions.csv`: `User_ID` and a 0-10 preference
for each of the engine's 21 categories, under the names the ML service writes (spaces included).
Each preference asset publishes its own file once its blocking check passes (`write_preferences`),
so that a layer whose model lost to popularity, or whose span held too few Likes, holds back
neither the others nor the trending list.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from poppy_pipeline.common import tables
from poppy_pipeline.common.paths import replaced_atomically
from poppy_pipeline.engagement.scores import TRENDING_COLUMNS, TRENDING_COUNTS
from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES, ENGINE_COLUMNS, PREFERENCE_RANGE, USER_COLUMN

LAYER_2_FILE = "Layer_2_Top_Trending_Per_Type.csv"
LAYER_2_COLUMNS = TRENDING_COLUMNS
LAYER_3_FILE = "Layer_3_Final_Predictions.csv"
LAYER_4_FILE = "Layer4_Final_Predictions.csv"
PREFERENCE_COLUMNS = ENGINE_COLUMNS


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


def preference_problems(preferences: pd.DataFrame) -> list[str]:
    """Why the engine could not read this preference table (empty when it can)."""
    if preferences.columns.tolist() != PREFERENCE_COLUMNS:
        return [f"columns are {preferences.columns.tolist()}, the engine reads {PREFERENCE_COLUMNS}"]
    problems = []
    users = preferences[USER_COLUMN]
    if users.isna().any():
        problems.append(f"{USER_COLUMN} has empty values")
    if users.astype(str).duplicated().any():
        problems.append(f"a {USER_COLUMN} appears twice")
    values = preferences[list(ENGINE_CATEGORIES)].apply(pd.to_numeric, errors="coerce")
    if values.isna().to_numpy().any():
        problems.append("a category's value is empty or not a number")
    elif not ((values >= PREFERENCE_RANGE[0]) & (values <= PREFERENCE_RANGE[1])).to_numpy().all():
        problems.append(f"a value is outside {PREFERENCE_RANGE[0]:g}-{PREFERENCE_RANGE[1]:g}")
    return problems


def write_preferences(preferences: pd.DataFrame, folder: Path, name: str) -> Path:
    """Write a preference file atomically (the engine never reads a half-written one); refuses a bad table."""
    if problems := preference_problems(preferences):
        raise EngineExportError(f"{name} not written: {'; '.join(problems)}")
    path = folder / name
    with replaced_atomically(path) as temporary:
        tables.write_csv(preferences[PREFERENCE_COLUMNS], temporary)
    return path
