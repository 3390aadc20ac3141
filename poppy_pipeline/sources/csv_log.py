"""Any interaction log as a CSV file, described by a small YAML mapping (the `csv` source format).

The mapping names the log's columns and how its vocabulary maps to the project's:

```yaml
delimiter: "\\t"            # default ","
header: false              # default true; without a header, `columns` names the fields
columns: [user, item, rating, time]
user: user                 # required
item: item                 # required
timestamp: time            # required
timestamp_format: unix     # iso (default: ISO 8601 text) or unix (seconds since 1970)
rating: rating             # optional: 1-5 stars
event_type: Rate           # one fixed type for every row (a ratings-only log) ...
# event_type: {column: action, map: {play: View, click: Click, like: Favorite, stars: Rate}}
object_type: Star          # one fixed type (default Star) or {column: kind}
watch_time: watched        # optional: seconds watched (View)
duration: length           # optional: seconds of the item's media (the catalog's Duration_Sec)
```

The rows go through the same reader (`raw_csv`) and `RowRules` as every other input: a row
that cannot be used is quarantined with its line, column and reason, the others go on, and
time zones are applied the same way. The catalog and the users are the log's own: its items
(per object type) and its users, each signed up on the (UTC) day first seen. A misspelt or
unknown key of the mapping is refused, naming it.

IDs are never rewritten. The users' IDs are integers when every one is written as a positive
integer in its plain form (`42`), else every one is kept as its text (`0061120081`, `-1`, `NA`);
the same, separately, for the items. Only integer item IDs are the C# engine's, so the engine's
file (`engine_exports`) is written for logs whose every item ID is a plain positive integer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from poppy_pipeline.simulation.catalog import CATALOG_COLUMNS
from poppy_pipeline.simulation.settings import INTERACTION_TYPES
from poppy_pipeline.sources.raw_csv import SourceError, read_raw_csv
from poppy_pipeline.sources.rows import (
    LONGER_THAN_A_YEAR,
    MAX_SECONDS,
    UTC,
    Checked,
    RowRules,
    finite_numbers,
    ids_as_written,
    integers,
    reject_timestamps,
)

RATED_TYPE = "Rate"
TIMESTAMP_FORMATS = ("iso", "unix")
MAPPING_KEYS = {
    "delimiter",
    "header",
    "columns",
    "user",
    "item",
    "timestamp",
    "timestamp_format",
    "rating",
    "event_type",
    "object_type",
    "watch_time",
    "duration",
}


@dataclass(frozen=True)
class CsvMapping:
    user: str
    item: str
    timestamp: str
    timestamp_format: str = "iso"
    delimiter: str = ","
    header: bool = True
    columns: list[str] | None = None
    rating: str | None = None
    event_type: str = RATED_TYPE  # the fixed type, when `event_type_column` is None
    event_type_column: str | None = None
    event_type_map: dict[str, str] = field(default_factory=dict)
    object_type: str = "Star"
    object_type_column: str | None = None
    watch_time: str | None = None
    duration: str | None = None

    def used_columns(self) -> list[str]:
        optional = [self.rating, self.event_type_column, self.object_type_column, self.watch_time, self.duration]
        return [self.user, self.item, self.timestamp, *[c for c in optional if c]]


def read_mapping(path: Path) -> CsvMapping:
    """The mapping file, validated; a `SourceError` naming the file and the key otherwise."""
    if not path.is_file():
        raise SourceError(path, "mapping file not found (set interaction_source.mapping or $POPPY_SOURCE_MAPPING)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise SourceError(path, f"is not YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise SourceError(path, "must be a YAML mapping of keys such as user, item, timestamp")
    unknown = sorted(set(raw) - MAPPING_KEYS)
    if unknown:
        raise SourceError(path, f"unknown key(s) {unknown}; known: {sorted(MAPPING_KEYS)}")
    for key in ("user", "item", "timestamp"):
        if not isinstance(raw.get(key), str):
            raise SourceError(path, f"needs `{key}: <column name>`")
    options = {k: raw[k] for k in ("user", "item", "timestamp", "rating", "watch_time", "duration") if k in raw}
    options["timestamp_format"] = str(raw.get("timestamp_format", "iso"))
    if options["timestamp_format"] not in TIMESTAMP_FORMATS:
        raise SourceError(path, f"timestamp_format must be one of {TIMESTAMP_FORMATS}")
    options["delimiter"] = str(raw.get("delimiter", ","))
    if len(options["delimiter"]) != 1:
        raise SourceError(path, f"delimiter must be one character, not {options['delimiter']!r}")
    options["header"] = bool(raw.get("header", True))
    if not options["header"]:
        if not isinstance(raw.get("columns"), list) or not raw["columns"]:
            raise SourceError(path, "header: false needs `columns: [...]`, the names of the fields in order")
        options["columns"] = [str(c) for c in raw["columns"]]
    options |= _event_type(path, raw.get("event_type", RATED_TYPE))
    object_type = raw.get("object_type", "Star")
    if isinstance(object_type, dict):
        _require_keys(path, "object_type", object_type, {"column"})
        options["object_type_column"] = str(object_type["column"])
    else:
        options["object_type"] = str(object_type)
    mapping = CsvMapping(**options)
    if mapping.columns:
        missing = [c for c in mapping.used_columns() if c not in mapping.columns]
        if missing:
            raise SourceError(path, f"names column(s) {missing} that are not in `columns`")
    return mapping


def _event_type(path: Path, value: object) -> dict[str, Any]:
    if isinstance(value, str):
        if value not in INTERACTION_TYPES:
            raise SourceError(path, f"event_type {value!r} is not one of {list(INTERACTION_TYPES)}")
        return {"event_type": value}
    if isinstance(value, dict):
        _require_keys(path, "event_type", value, {"column", "map"})
    if not (isinstance(value, dict) and isinstance(value.get("column"), str) and isinstance(value.get("map"), dict)):
        raise SourceError(path, "event_type must be a type (e.g. Rate) or {column: <name>, map: {<value>: View, ...}}")
    bad = {k: v for k, v in value["map"].items() if v not in INTERACTION_TYPES}
    if bad:
        raise SourceError(path, f"event_type.map sends {bad} to types other than {list(INTERACTION_TYPES)}")
    return {"event_type_column": value["column"], "event_type_map": {str(k): v for k, v in value["map"].items()}}


def _require_keys(path: Path, key: str, value: dict[str, Any], keys: set[str]) -> None:
    """A mapping's sub-keys, exactly: a misspelt one is refused, never read as missing."""
    unknown, missing = sorted(map(str, set(value) - keys)), sorted(keys - set(value))
    if unknown or missing:
        found = f"unknown key(s) {unknown}" if unknown else f"no key(s) {missing}"
        raise SourceError(path, f"{key} has {found}; it takes exactly {sorted(keys)}")


def check_csv_log(
    path: Path, mapping: CsvMapping, zone: str = UTC, read: Callable[[Path], bytes] = Path.read_bytes
) -> Checked:
    """The log's rows in the project's interaction columns; bad rows quarantined with a reason."""
    return _checked_with_durations(path, mapping, zone, read)[0]


def catalog_from_log(
    path: Path, mapping: CsvMapping, zone: str = UTC, read: Callable[[Path], bytes] = Path.read_bytes
) -> pd.DataFrame:
    """One object per (Object_Type, Object_ID) of the valid rows; Duration_Sec is the median
    mapped duration (NaN when the log has none)."""
    checked, durations = _checked_with_durations(path, mapping, zone, read)
    grouped = checked.valid.assign(Duration_Sec=durations).groupby(["Object_Type", "Object_ID"], sort=True)
    objects = grouped["Duration_Sec"].median().reset_index()
    objects["Name"] = objects["Object_Type"] + " " + objects["Object_ID"].astype(str)
    objects["Category"] = objects["Object_Type"]
    return objects[CATALOG_COLUMNS]


def _checked_with_durations(
    path: Path, mapping: CsvMapping, zone: str, read: Callable[[Path], bytes]
) -> tuple[Checked, np.ndarray]:
    rows = read_raw_csv(path, mapping.used_columns(), mapping.delimiter, mapping.columns, read)
    rules = RowRules.of(rows)
    users = _ids(rules, mapping.user)
    items = _ids(rules, mapping.item)
    if mapping.object_type_column:
        object_types = rules.text(mapping.object_type_column)
        rules.reject(object_types.isna(), mapping.object_type_column, "is empty")
    else:
        object_types = pd.Series(mapping.object_type, index=rules.raw.index, dtype=object)
    if mapping.event_type_column:
        raw_kinds = rules.text(mapping.event_type_column)
        kinds = raw_kinds.map(mapping.event_type_map)
        known = ", ".join(mapping.event_type_map)
        rules.reject(kinds.isna(), mapping.event_type_column, f"is not in the mapping's event types ({known})")
    else:
        kinds = pd.Series(mapping.event_type, index=rules.raw.index, dtype=object)
    is_rate = kinds == RATED_TYPE
    ratings = pd.Series(pd.NA, index=rules.raw.index, dtype="Int64")
    if mapping.rating:
        ratings = integers(rules.raw[mapping.rating])
        rated = rules.text(mapping.rating).notna()
        rules.reject(is_rate & ~ratings.isin(range(1, 6)).fillna(False), mapping.rating, "is not a whole rating 1-5")
        ratings = ratings.where(is_rate & rated)
    watch = _optional_seconds(rules, mapping.watch_time)
    durations = _optional_seconds(rules, mapping.duration)
    stamps = _timestamps(rules, mapping, zone)
    ok = rules.ok.to_numpy()
    n = int(ok.sum())
    valid = pd.DataFrame(
        {
            "Interaction_ID": rows.lines[ok].astype("int64"),  # the line: stable while the file only grows
            "User_ID": ids_as_written(users[ok]),
            "Object_Type": object_types[ok].astype(str),
            "Object_ID": ids_as_written(items[ok]),
            "Interaction_Type": kinds[ok].astype(str),
            "Interaction_Rating": ratings[ok].astype("Int64"),
            "Timestamp": stamps[ok].dt.as_unit("s") if (stamps[ok].dt.microsecond == 0).all() else stamps[ok],
            "Session_ID": pd.array([pd.NA] * n, dtype="Int64"),
            "Watch_Time_Sec": watch[ok] if mapping.watch_time else pd.array([pd.NA] * n, dtype="Int64"),
        }
    )
    return rules.split(path, valid), durations[ok].to_numpy()


def _ids(rules: RowRules, column: str) -> pd.Series:
    values = rules.text(column)
    rules.reject(values.isna(), column, "is empty")
    return values


def _optional_seconds(rules: RowRules, column: str | None) -> pd.Series:
    if not column:
        return pd.Series(np.nan, index=rules.raw.index)
    values = finite_numbers(rules.raw[column])
    given = rules.text(column).notna()
    rules.reject(given & ~(values >= 0).fillna(False), column, "is not a number of seconds ≥ 0")
    rules.reject(given & (values > MAX_SECONDS).fillna(False), column, LONGER_THAN_A_YEAR)
    return values


def _timestamps(rules: RowRules, mapping: CsvMapping, zone: str) -> pd.Series:
    """ISO text (with the source's zone for those without an offset) or Unix seconds (UTC)."""
    if mapping.timestamp_format == "iso":
        return reject_timestamps(rules, mapping.timestamp, zone)
    seconds = finite_numbers(rules.raw[mapping.timestamp])
    usable = seconds.between(0, 253_402_300_799)  # up to 9999-12-31
    rules.reject(~usable, mapping.timestamp, "is not a Unix time in seconds")
    micros = (seconds.where(usable, 0) * 1e6).round().astype("int64")
    return pd.Series(micros.to_numpy().astype("datetime64[us]"), index=seconds.index).where(usable)
