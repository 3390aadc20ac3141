"""Declared schemas: a stored table comes back with its declared types, never guessed ones."""

import io

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour.features import WINDOW_COLUMNS
from poppy_pipeline.common import schemas, tables
from poppy_pipeline.common.columns import INTERACTION_COLUMNS
from poppy_pipeline.engagement.scores import TRENDING_COLUMNS
from poppy_pipeline.preferences.categories import ENGINE_COLUMNS
from poppy_pipeline.simulation.catalog import CATALOG_COLUMNS
from poppy_pipeline.simulation.population import USER_COLUMNS


def stored(frame: pd.DataFrame, schema: schemas.TableSchema) -> tuple[bytes, pd.DataFrame]:
    buffer = io.BytesIO()
    tables.write_csv(frame, buffer)
    recorded = schema.recorded_types(frame)
    return buffer.getvalue(), tables.read_stored(io.BytesIO(buffer.getvalue()), schema, recorded)


def test_text_ids_come_back_verbatim_whatever_they_look_like():
    ids = ["7", "007", "5.0", "NA", "null", "NaN", "", "0061120081", "-1", "x,y"]
    counts = dict.fromkeys(["total_interactions", "num_views", "num_clicks", "num_favorites"], 1)
    frame = pd.DataFrame({"Object_Type": "Ping", "Object_ID": ids, **counts, "trending_score": 50.0})
    assert schemas.TRENDING_OBJECTS.recorded_types(frame) == {"Object_ID": "string"}
    written, back = stored(frame, schemas.TRENDING_OBJECTS)
    assert back["Object_ID"].tolist() == ids  # not 7, 5.0, NaN, 61120081
    # Without the record, the declared default (the simulation's integers) refuses them: never a guess.
    with pytest.raises(schemas.SchemaError, match="does not have its column's declared type"):
        tables.read_stored(io.BytesIO(written), schemas.TRENDING_OBJECTS)


def test_simulated_tables_record_nothing_and_come_back_with_their_types():
    frame = pd.DataFrame(
        {
            "Interaction_ID": np.array([1, 2], dtype=np.int64),
            "User_ID": np.array([3, 4], dtype=np.int64),
            "Object_Type": pd.Categorical(["Star", "Moon"]),
            "Object_ID": np.array([5, 6], dtype=np.int64),
            "Interaction_Type": pd.Categorical(["View", "Rate"]),
            "Interaction_Rating": pd.array([None, 4], dtype="Int64"),
            "Timestamp": np.array(["2026-11-01T10:00:00", "2026-11-01T11:00:00"], dtype="datetime64[s]"),
            "Session_ID": np.array([1, 1], dtype=np.int64),
            "Watch_Time_Sec": pd.array([12, None], dtype="Int64"),
        }
    )
    assert schemas.SIMULATED_INTERACTIONS.recorded_types(frame) == {}
    _, back = stored(frame, schemas.SIMULATED_INTERACTIONS)
    assert back["Timestamp"].dtype == "datetime64[s]" and back["Interaction_Rating"].dtype == "Int64"
    assert back["User_ID"].dtype == np.int64 and back["Interaction_Rating"].isna().tolist() == [True, False]


def test_nullable_text_is_missing_only_when_empty():
    frame = pd.DataFrame({"User_ID": ["u1", "u2", "u3"], "Signup_Date": [pd.Timestamp("2024-01-01").date()] * 3,
                          "Profile": [None, "NA", "null"], "Device": None, "Activity_Weight": np.nan,
                          "Preferred_Type": ["Star", None, "N/A"], "Rating_Bias": np.nan})  # fmt: skip
    _, back = stored(frame, schemas.USERS)
    assert back["Profile"].tolist()[1:] == ["NA", "null"] and pd.isna(back["Profile"][0])
    assert back["Preferred_Type"].tolist()[::2] == ["Star", "N/A"] and pd.isna(back["Preferred_Type"][1])


def test_a_column_outside_its_kind_or_undeclared_is_refused():
    with pytest.raises(schemas.SchemaError, match="column Timestamp holds string values, not a timestamp type"):
        schemas.SESSION_ACTIONS.recorded_types(pd.DataFrame({"Timestamp": ["yesterday"]}))
    with pytest.raises(schemas.SchemaError, match="column Extra is not declared"):
        schemas.USERS.recorded_types(pd.DataFrame({"Extra": [1]}))
    with pytest.raises(schemas.SchemaError, match="lacks column\\(s\\) Object_ID"):
        schemas.TRENDING_OBJECTS.arrow_types(["Object_Type"])


def test_the_schemas_declare_the_tables_columns_in_order():
    assert schemas.USERS.names == USER_COLUMNS
    assert [c.name for c in schemas.CELESTIAL_OBJECTS.columns if c.required] == CATALOG_COLUMNS
    assert schemas.SIMULATED_INTERACTIONS.names == INTERACTION_COLUMNS
    assert schemas.SLIDING_WINDOW_FEATURES.names == WINDOW_COLUMNS
    assert schemas.TRENDING_OBJECTS.names == TRENDING_COLUMNS
    for table in ("user_preferences", "category_preferences_mf", "category_preferences_nn"):
        assert schemas.schema_of(table).names == ENGINE_COLUMNS
