"""Checking the rows read from the app's `Interactions` table, with reasons that name the table,
the row's primary key and the column.

The judge is the seed-000 log's rules (`sources.check_poppy_rows`, shared with the files). They
parse every value of every row as text, which costs a few microseconds per row; a database gives
back its values in one canonical form (`42`, `2024-02-01 10:00:00`, `Rate`), so most rows can be
judged in one vectorised pass over the Arrow columns instead. A row is accepted there only when
each of its values is canonical and valid and no other row shares its ID; every other row (the
bad ones, the unusual spellings, and each row whose ID another row shares, since the first valid
one wins) goes through the shared rules. The result is the shared rules' verdict on every row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from poppy_pipeline.common.columns import APP_INTERACTION_COLUMNS, POPPY_LOG_COLUMNS
from poppy_pipeline.sources.database_connection import INTERACTIONS
from poppy_pipeline.sources.database_reads import PRIMARY_KEY, TIMESTAMP
from poppy_pipeline.sources.log_files import POPPY, RATINGS, _seconds_unless_finer, check_poppy_rows
from poppy_pipeline.sources.rows import UTC, Checked, RowRules, integers

# The table's columns under the names of seed 000's log, which the validation speaks.
AS_LOG_COLUMNS = dict(zip(APP_INTERACTION_COLUMNS, POPPY_LOG_COLUMNS, strict=True))
# How MySQL/MariaDB, PostgreSQL and SQLite write a DATETIME without fractions.
CANONICAL_TIMESTAMP = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
FORMAT = "%Y-%m-%d %H:%M:%S"


def row_origins(table: str, key: str, raw: pd.DataFrame) -> pd.Series:
    """Where each row comes from, for reasons: `Interactions Interaction_ID=42`."""
    return table + " " + key + "=" + raw[key].fillna("NULL").astype(str)


def check_interactions(
    raw: pd.DataFrame,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    event_types: Mapping[str, str],
    zone: str = UTC,
    canonical: CanonicalRows | None = None,
) -> Checked:
    """Validate the rows read (all text) against the catalog and the users, in `simulated_interactions`'
    columns (valid rows in the order read). Types are mapped first (`Like` → `Favorite`); a type the map
    does not name is rejected as unknown. Rejected rows keep the table's columns and values.
    `canonical`: the vectorised pass over `raw`, when already made (`canonical_rows`)."""
    raw = raw.reset_index(drop=True)
    fast = canonical if canonical is not None else canonical_rows(raw, objects, users, event_types, zone)
    shared_id = fast.ids.duplicated(keep=False).to_numpy() & fast.ids.notna().to_numpy()
    by_rules = ~fast.ok | shared_id
    others, kept = np.flatnonzero(by_rules), np.flatnonzero(~by_rules)
    others = others[_key_order(fast.ids.iloc[others], raw[TIMESTAMP].iloc[others])]
    judged, rejected_at = _check_by_rules(raw.iloc[others].reset_index(drop=True), objects, users, event_types, zone)
    rejected = raw.iloc[others[rejected_at]].assign(reason=judged.rejected["reason"].to_numpy())
    valid = fast.frame(kept)
    if len(judged.valid):  # rare: merged back in the order read, one unit for all timestamps
        passed = np.delete(others, rejected_at)
        valid = pd.concat([valid, judged.valid], ignore_index=True)
        valid = valid.iloc[np.argsort(np.concatenate([kept, passed]), kind="stable")].reset_index(drop=True)
        valid["Timestamp"] = _seconds_unless_finer(valid["Timestamp"].dt.as_unit("us"))
    return Checked(Path(INTERACTIONS), valid, rejected.reset_index(drop=True), len(raw))


def _key_order(ids: pd.Series, stamps: pd.Series) -> np.ndarray:
    """Positions by ID, then timestamp (missing ones last; ties as read): the rows that share an ID are
    judged in this order (the first valid one wins), whatever order the database sent them in."""
    keys = pd.DataFrame({"id": ids.to_numpy(), "stamp": stamps.to_numpy()})
    return keys.sort_values(["id", "stamp"], kind="stable", na_position="last").index.to_numpy()


def _check_by_rules(
    raw: pd.DataFrame, objects: pd.DataFrame, users: pd.DataFrame, event_types: Mapping[str, str], zone: str
) -> tuple[Checked, np.ndarray]:
    """The shared rules on `raw`; and the positions (in `raw`) of the rows they reject."""
    known = raw["Interaction_Type"].isin(list(event_types))
    mapped = raw["Interaction_Type"].where(~known, _mapped(raw.loc[known, "Interaction_Type"], event_types))
    as_log = raw.assign(Interaction_Type=mapped).rename(columns=AS_LOG_COLUMNS)
    labels = {v: k for k, v in AS_LOG_COLUMNS.items()}
    rules = RowRules(as_log, row_origins(INTERACTIONS, PRIMARY_KEY, raw), labels)
    rules.reject(~known, "Interaction_Type", f"is not one of {', '.join(event_types)}")
    checked = check_poppy_rows(Path(INTERACTIONS), rules, objects, users, zone)
    return checked, checked.rejected.index.to_numpy()


def _mapped(kinds: pd.Series, event_types: Mapping[str, str]) -> pd.Series:
    """`kinds` through the map, once per distinct value (Series.map calls back per row)."""
    codes, distinct = pd.factorize(kinds)
    targets = np.array([event_types[kind] for kind in distinct], dtype=object)
    return pd.Series(targets[codes], index=kinds.index, dtype=kinds.dtype)


@dataclass
class CanonicalRows:
    """The vectorised pass: which rows are canonical and valid, and their values."""

    ok: np.ndarray
    ids: pd.Series  # every row's parsed Interaction_ID (Int64), to find the IDs rows share
    user_ids: np.ndarray
    object_types: pa.Array[Any]
    object_ids: np.ndarray
    kinds: pa.Array[Any]  # mapped
    ratings: np.ndarray
    stamps: np.ndarray  # naive UTC, datetime64[s]

    @classmethod
    def concat(cls, parts: list[CanonicalRows]) -> CanonicalRows:
        """The passes over consecutive slices of the rows, as one pass over all of them."""
        if len(parts) == 1:
            return parts[0]
        return cls(
            np.concatenate([p.ok for p in parts]),
            pd.concat([p.ids for p in parts], ignore_index=True),
            np.concatenate([p.user_ids for p in parts]),
            pa.concat_arrays([p.object_types for p in parts]),
            np.concatenate([p.object_ids for p in parts]),
            pa.concat_arrays([p.kinds for p in parts]),
            np.concatenate([p.ratings for p in parts]),
            np.concatenate([p.stamps for p in parts]),
        )

    def frame(self, rows: np.ndarray) -> pd.DataFrame:
        """`simulated_interactions`' columns for `rows` (as `check_poppy_rows` gives them)."""
        take = pa.array(rows, type=pa.int64())
        kinds = self.kinds.take(take)
        is_rate = pc.equal(kinds, pa.scalar(POPPY.rated_type, pa.string())).to_numpy(zero_copy_only=False)
        ratings, no_rating = self.ratings[rows], ~is_rate
        missing = pd.arrays.IntegerArray(np.zeros(len(rows), dtype=np.int64), np.ones(len(rows), dtype=bool))
        return pd.DataFrame(
            {
                "Interaction_ID": self.ids.to_numpy(dtype=np.int64, na_value=0)[rows],
                "User_ID": self.user_ids[rows],
                "Object_Type": self.object_types.take(take).to_pandas(),
                "Object_ID": self.object_ids[rows],
                "Interaction_Type": kinds.to_pandas(),
                "Interaction_Rating": pd.arrays.IntegerArray(np.where(no_rating, 0, ratings), no_rating),
                "Timestamp": pd.Series(self.stamps[rows], dtype="datetime64[s]"),
                "Session_ID": missing,
                "Watch_Time_Sec": missing.copy(),
            }
        )


def canonical_rows(
    raw: pd.DataFrame, objects: pd.DataFrame, users: pd.DataFrame, event_types: Mapping[str, str], zone: str
) -> CanonicalRows:
    """Rows whose every value is in the database's canonical form and valid (IDs not yet compared)."""
    ids = _whole_numbers(raw["Interaction_ID"])
    user_ids, users_ok = _positive(raw["User_ID"])
    users_ok &= np.isin(user_ids, users["User_ID"].to_numpy(dtype=np.int64))
    object_types = _text(raw["Object_Type"])
    object_ids, objects_ok = _positive(raw["Object_Reference_ID"])
    objects_ok &= _in_catalog(object_types, object_ids, objects)
    kinds, kinds_ok = _mapped_kinds(_text(raw["Interaction_Type"]), event_types)
    ratings, ratings_ok = _ratings(raw["Interaction_Rating"], kinds)
    stamps, stamps_ok = _canonical_stamps(_text(raw["Interaction_Timestamp"]), zone)
    ids_ok = (ids > 0).fillna(False).to_numpy(dtype=bool)
    ok = ids_ok & users_ok & objects_ok & kinds_ok & ratings_ok & stamps_ok
    return CanonicalRows(ok, ids, user_ids, object_types, object_ids, kinds, ratings, stamps)


def _text(values: pd.Series) -> pa.Array[Any]:
    """The column as Arrow text, as read (no copy when it already is)."""
    try:
        array: pa.Array[Any] | pa.ChunkedArray[Any] = pa.array(values, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            return array
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    return pa.array(values.astype(str).where(values.notna()), type=pa.string(), from_pandas=True)


def _whole_numbers(values: pd.Series) -> pd.Series:
    """`rows.integers`, with one cast where every value is a plain integer (as a database writes them)."""
    try:
        exact = pc.cast(_text(values), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return integers(values)
    missing = exact.is_null().to_numpy(zero_copy_only=False)
    numbers = exact.fill_null(0).to_numpy(zero_copy_only=False)
    return pd.Series(pd.arrays.IntegerArray(numbers, missing), index=values.index)


def _positive(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers (0 where missing) and where they are positive."""
    numbers = _whole_numbers(values).to_numpy(dtype=np.int64, na_value=0)
    return numbers, numbers > 0


def _in_catalog(object_types: pa.Array[Any], object_ids: np.ndarray, objects: pd.DataFrame) -> np.ndarray:
    found = np.zeros(len(object_ids), dtype=bool)
    types = objects["Object_Type"].astype(str).to_numpy()
    catalog_ids = objects["Object_ID"].to_numpy(dtype=np.int64)
    for object_type in np.unique(types):
        rows = pc.equal(object_types, object_type).fill_null(False).to_numpy(zero_copy_only=False)
        found[rows] = np.isin(object_ids[rows], catalog_ids[types == object_type])
    return found


def _mapped_kinds(kinds: pa.Array[Any], event_types: Mapping[str, str]) -> tuple[pa.Array[Any], np.ndarray]:
    """The types through the map (unknown ones stay as read), and where the result is a pipeline type."""
    encoded = kinds.dictionary_encode()
    names = [str(name) for name in encoded.dictionary.to_pylist()]  # text: nulls are in the indices
    targets = pa.array([event_types.get(name, name) for name in names], type=pa.string())
    usable = np.array([name in event_types and event_types[name] in POPPY.event_types for name in names], dtype=bool)
    indices = encoded.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)
    ok = np.append(usable, False)[indices]
    return targets.take(encoded.indices), ok


def _ratings(values: pd.Series, kinds: pa.Array[Any]) -> tuple[np.ndarray, np.ndarray]:
    """A `Rate` row's rating (1-5), and where the rating fits the row (none on other types)."""
    is_rate = pc.equal(kinds, pa.scalar(POPPY.rated_type, pa.string())).fill_null(False).to_numpy(zero_copy_only=False)
    ratings = _whole_numbers(values).to_numpy(dtype=np.int64, na_value=0)
    rated_well = np.isin(ratings, RATINGS)
    unrated = _text(values).is_null().to_numpy(zero_copy_only=False)
    return ratings, np.where(is_rate, rated_well, unrated)


def _canonical_stamps(values: pa.Array[Any], zone: str) -> tuple[np.ndarray, np.ndarray]:
    """`YYYY-MM-DD HH:MM:SS` as naive UTC seconds (read in `zone`), and where a value is one."""
    shaped: pa.Array[Any] = pc.if_else(
        pc.match_substring_regex(values, CANONICAL_TIMESTAMP).fill_null(False), values, None
    )
    try:  # one strict cast when every value is a real date-time
        parsed: pa.Array[Any] = pc.cast(shaped, pa.timestamp("s"))
    except pa.ArrowInvalid:  # strptime rolls 2024-02-30 over to March 1: keep only the values it gives back
        parsed = pc.strptime(shaped, FORMAT, "s", error_is_null=True)
        parsed = pc.if_else(pc.equal(pc.strftime(parsed, FORMAT), shaped).fill_null(False), parsed, None)
    stamps = parsed.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    ok = ~np.isnat(stamps) & (stamps >= np.datetime64("0001-01-01", "s"))
    if zone != UTC and ok.any():
        local = pd.DatetimeIndex(np.where(ok, stamps, np.datetime64("NaT")))
        first_occurrence = np.ones(len(local), dtype=bool)
        zoned = local.tz_localize(zone, ambiguous=first_occurrence, nonexistent="NaT")
        stamps = zoned.tz_convert(UTC).tz_localize(None).to_numpy().astype("datetime64[s]")
        ok &= ~np.isnat(stamps)
    return stamps, ok
