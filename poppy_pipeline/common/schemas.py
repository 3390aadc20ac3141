"""Every stored table's columns and types, declared once; the readers use them, nothing is inferred.

A column has a *kind* and, within it, a *concrete type*:

- `id`: `int64` where the source's IDs are integers (the simulation, seed 000's log, the app's
  database) or `string` where they are text (seed 002's `u3`, a csv log's `0061120081`): an ID
  comes back exactly as it was written (`007`, `NA`, `null`, `5.0` stay text).
- `integer` (`int64`), `number` (`int64` or `float64`), `text` (`string`), `date` (`date32`),
  `timestamp` (`timestamp[s|ms|us|ns]`, naive UTC).

Each column's default concrete type is what the simulation writes. A table written with other
concrete types (a real log's text IDs, its fractional watch times) records them with the table
(`recorded_types`, stored in the CSV's `.attrs.json` sidecar under `column_types`), and every
reader asks `TableSchema.arrow_types` for the types to parse with. An empty field is missing in
every column but a non-nullable text or ID column, where it is the empty string; no other value
(`NA`, `null`, `NaN`) is ever read as missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from poppy_pipeline.common.columns import INTERACTION_COLUMNS, WINDOW_FEATURE_NAMES

ID, INTEGER, NUMBER, TEXT, DATE, TIMESTAMP = "id", "integer", "number", "text", "date", "timestamp"
ARROW_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "date32": pa.date32(),
    **{f"timestamp[{unit}]": pa.timestamp(unit) for unit in ("s", "ms", "us", "ns")},
}
ALLOWED: dict[str, tuple[str, ...]] = {
    ID: ("int64", "string"),
    INTEGER: ("int64",),
    NUMBER: ("int64", "float64"),
    TEXT: ("string",),
    DATE: ("date32",),
    TIMESTAMP: ("timestamp[s]", "timestamp[ms]", "timestamp[us]", "timestamp[ns]"),
}
# The key of the sidecar (`<table>.csv.attrs.json`) that holds the concrete types that are not the defaults.
COLUMN_TYPES_ATTR = "column_types"


class SchemaError(ValueError):
    """A table that does not fit its declared schema; the message names the table and the column."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    default: str  # the concrete type the simulation writes
    nullable: bool = False
    description: str = ""
    required: bool = True  # False: only some sources have it (a pings catalog's Creator_ID)

    def __post_init__(self) -> None:
        if self.default not in ALLOWED[self.kind]:
            raise SchemaError(f"column {self.name}: {self.default} is not a {self.kind} type")


def _id(name: str, description: str, nullable: bool = False) -> Column:
    return Column(name, ID, "int64", nullable, description + " (integers, or the source's text as written)")


def _int(name: str, description: str, nullable: bool = False) -> Column:
    return Column(name, INTEGER, "int64", nullable, description)


def _number(name: str, description: str, default: str = "float64", nullable: bool = False) -> Column:
    return Column(name, NUMBER, default, nullable, description)


def _text(name: str, description: str, nullable: bool = False, required: bool = True) -> Column:
    return Column(name, TEXT, "string", nullable, description, required)


def _time(name: str, description: str, unit: str = "s") -> Column:
    return Column(name, TIMESTAMP, f"timestamp[{unit}]", False, description + " (naive UTC)")


@dataclass(frozen=True)
class TableSchema:
    table: str
    columns: tuple[Column, ...]
    # Columns other than the declared ones (a quarantine file's: the source's own) are text.
    open: bool = False

    def __getitem__(self, name: str) -> Column:
        return self._by_name()[name]

    def _by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def arrow_types(self, header: list[str], recorded: Mapping[str, str] | None = None) -> dict[str, pa.DataType]:
        """The type to parse each column of a file with `header` as: its recorded type, else its default."""
        declared = self._by_name()
        missing = [c.name for c in self.columns if c.required and c.name not in header]
        unknown = [name for name in header if name not in declared]
        if missing or (unknown and not self.open):
            problem = f"lacks column(s) {', '.join(missing)}" if missing else f"has undeclared column(s) {unknown[:5]}"
            raise SchemaError(f"{self.table}: the stored table {problem}; materialize {self.table} again")
        recorded = dict(recorded or {})
        types = {}
        for name in header:
            column = declared.get(name)
            concrete = recorded.get(name, column.default if column else "string")
            if column is not None and concrete not in ALLOWED[column.kind]:
                raise SchemaError(f"{self.table}: column {name} is recorded as {concrete}, not a {column.kind} type")
            types[name] = ARROW_TYPES[concrete]
        return types

    def nullable_text(self, header: list[str]) -> list[str]:
        """Text and ID columns in which an empty field means missing (elsewhere it is the empty string)."""
        declared = self._by_name()
        return [name for name in header if name in declared and declared[name].nullable]

    def recorded_types(self, frame: pd.DataFrame) -> dict[str, str]:
        """The concrete types of `frame`'s columns that are not the defaults (what the table records)."""
        declared = self._by_name()
        recorded = {}
        for name in map(str, frame.columns):
            concrete = concrete_type(frame[name])
            column = declared.get(name)
            if column is None:
                if not self.open:
                    raise SchemaError(f"{self.table}: column {name} is not declared in its schema")
                continue
            if concrete is None or concrete == column.default:
                continue
            if concrete not in ALLOWED[column.kind] and frame.empty:  # no values: nothing to read back wrongly
                continue
            if concrete not in ALLOWED[column.kind]:
                raise SchemaError(f"{self.table}: column {name} holds {concrete} values, not a {column.kind} type")
            recorded[name] = concrete
        return recorded


def attrs_to_store(schema: TableSchema, frame: pd.DataFrame, attrs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What goes beside a stored table: its `attrs` (default `frame.attrs`) and the concrete types of
    its columns that are not the defaults (nothing more for a simulated table)."""
    stored: dict[Any, Any] = dict(frame.attrs if attrs is None else attrs)
    recorded = schema.recorded_types(frame)
    if recorded:
        stored[COLUMN_TYPES_ATTR] = recorded
    return stored


def concrete_type(values: pd.Series) -> str | None:
    """The concrete type a column is written as; None when it cannot say (no values to tell by)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return concrete_type(pd.Series(dtype.categories)) if len(dtype.categories) else None
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    if pd.api.types.is_datetime64_dtype(dtype):
        return f"timestamp[{values.dt.unit}]"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "string"
    inferred = pd.api.types.infer_dtype(values, skipna=True)  # an object column: what its values are (in C)
    return {"string": "string", "date": "date32", "integer": "int64", "floating": "float64"}.get(inferred)


USERS = TableSchema(
    "users",
    (
        _id("User_ID", "the user"),
        Column("Signup_Date", DATE, "date32", description="the day the user signed up (a log's: first seen)"),
        _text("Profile", "browsing profile (simulated users)", nullable=True),
        _text("Device", "desktop or mobile (simulated users)", nullable=True),
        _number("Activity_Weight", "heavy-tailed share of the traffic (simulated users)", nullable=True),
        _text("Preferred_Type", "Star, Planet or Moon; empty for users without one", nullable=True),
        _number("Rating_Bias", "the user's habitual offset in stars (simulated users)", nullable=True),
    ),
)
CELESTIAL_OBJECTS = TableSchema(
    "celestial_objects",
    (
        _text("Object_Type", "Star, Planet, Moon (or a log's own types: Ping)"),
        _id("Object_ID", "the object within its type"),
        _text("Name", "the object's name"),
        _text("Category", "spectral class, planet type or parent body (a log's category)"),
        _number("Duration_Sec", "length of the object's media in seconds", default="int64", nullable=True),
        _text("Creator_ID", "the ping's creator (seed 002's pings.csv)", nullable=True, required=False),
        _text("Created_At", "when the ping was created, as written (seed 002's pings.csv)", True, False),
    ),
)
_INTERACTION_DESCRIPTIONS = {
    "Interaction_ID": _int("Interaction_ID", "unique across days (a log without IDs: its line number)"),
    "User_ID": _id("User_ID", "the user, as in users"),
    "Object_Type": _text("Object_Type", "the object's type, as in celestial_objects"),
    "Object_ID": _id("Object_ID", "the object, as in celestial_objects"),
    "Interaction_Type": _text("Interaction_Type", "View, Click, Favorite, Rate (or the log's event types)"),
    "Interaction_Rating": _int("Interaction_Rating", "1-5 on Rate events, empty otherwise", nullable=True),
    "Timestamp": _time("Timestamp", "when it happened"),
    "Session_ID": _id("Session_ID", "the browsing session (simulated)", nullable=True),
    "Watch_Time_Sec": _number("Watch_Time_Sec", "seconds watched, on views", default="int64", nullable=True),
}
SIMULATED_INTERACTIONS = TableSchema(
    "simulated_interactions", tuple(_INTERACTION_DESCRIPTIONS[name] for name in INTERACTION_COLUMNS)
)
SESSION_ACTIONS = TableSchema(
    "session_actions",
    (
        _id("Session_ID", "the browsing session"),
        _id("User_ID", "the session's user"),
        _time("Timestamp", "when the action happened, to the millisecond", unit="ms"),
        _text("Action", "scroll_down, scroll_up, click, hover, wait, focus_window, blur_window, close_tab, click_ad"),
        _number("Scroll_Amount", "pixels scrolled (0 for other actions)", default="int64"),
    ),
)
SLIDING_WINDOW_FEATURES = TableSchema(
    "sliding_window_features",
    (
        _id("Session_ID", "the browsing session"),
        _id("User_ID", "the session's user"),
        _time("Window_End", "the window's end", unit="ms"),
        *(_number(name, "seed 001's feature") for name in WINDOW_FEATURE_NAMES),
        _int("Label", "1 when an ad click follows in the horizon after the window's end"),
        _number("Oracle_Probability", "the generator's own probability of the label", nullable=True),
    ),
)
ENGAGEMENT_SCORES = TableSchema(
    "engagement_scores",
    (
        _id("User_ID", "the user"),
        _text("Object_Type", "the object's type"),
        _id("Object_ID", "the object"),
        _int("n_events", "events of the pair in the span"),
        _number("watch_time_sec", "seconds watched"),
        _number("watch_time_ratio", "watched share of the media, clipped to 0-1"),
        _number("engagement_score", "sum of weight + watch ratio over the pair's events"),
        _time("last_interaction", "the pair's last event"),
    ),
)
TRENDING_OBJECTS = TableSchema(
    "trending_objects",
    (
        _text("Object_Type", "the object's type"),
        _id("Object_ID", "the object"),
        _int("total_interactions", "events in the span"),
        _int("num_views", "view events"),
        _int("num_clicks", "click events (seed 002: comments, shares, follows)"),
        _int("num_favorites", "favourites (seed 002: likes)"),
        _number("trending_score", "decayed engagement, 0-100 within the type"),
    ),
)
# The engine's 21 categories of Layers 3 and 4, in its files' order (`preferences/categories.py`).
ENGINE_CATEGORIES = (
    *("A", "B", "F", "G", "K", "M", "O"),
    *("Dwarf Planet", "Gas Giant", "Ice Giant", "Terrestrial"),
    *("Earth", "Eris", "Haumea", "Jupiter", "Makemake", "Mars", "Neptune", "Pluto", "Saturn", "Uranus"),
)


def _preferences(table: str, what: str) -> TableSchema:
    return TableSchema(table, (_id("User_ID", "the user"), *(_number(c, what) for c in ENGINE_CATEGORIES)))


USER_PREFERENCES = _preferences("user_preferences", "the simulated user's true preference 0-10 (5: indifferent)")
CATEGORY_PREFERENCES_MF = _preferences("category_preferences_mf", "Layer 3's predicted preference 0-10")
CATEGORY_PREFERENCES_NN = _preferences("category_preferences_nn", "Layer 4's predicted preference 0-10")
# Rejected input rows: the source's own columns, as text, and why each was rejected.
QUARANTINE = TableSchema("quarantine", (_text("reason", "file, line, column and the rule the row broke"),), open=True)

SCHEMAS: dict[str, TableSchema] = {
    schema.table: schema
    for schema in (
        USERS,
        CELESTIAL_OBJECTS,
        SIMULATED_INTERACTIONS,
        SESSION_ACTIONS,
        SLIDING_WINDOW_FEATURES,
        ENGAGEMENT_SCORES,
        TRENDING_OBJECTS,
        USER_PREFERENCES,
        CATEGORY_PREFERENCES_MF,
        CATEGORY_PREFERENCES_NN,
        QUARANTINE,
    )
}


def schema_of(table: str) -> TableSchema:
    if table not in SCHEMAS:
        raise SchemaError(f"{table} has no declared schema (known: {', '.join(SCHEMAS)})")
    return SCHEMAS[table]
