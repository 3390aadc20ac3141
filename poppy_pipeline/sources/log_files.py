"""Real interaction logs, read into the same tables the simulation produces.

Two formats (`POPPY_SOURCE_FORMAT`), selected with a path (`POPPY_SOURCE_PATH`):

- `poppy`: one CSV exactly as seed 000 writes it: `Interaction_ID, User_ID, Object_Type,
  Object_ID, Interaction_Type, Interaction_Rating, Timestamp`. Objects come from the catalog
  (`celestial_objects`); users are the log's own, each signed up on the day they were first seen.
- `pings`: a folder in seed 002's layout: `users.csv` (`user_id, signup_date, …`), `pings.csv`
  (`ping_id, creator_id, main_hashtag, category, duration_sec, created_at`) and
  `interactions.csv` (`user_id, ping_id, event_type, watch_time_sec, event_timestamp`); IDs are
  strings such as `u3` and `p6`. Pings become objects of type `Ping` (Name = main hashtag).

Rows that cannot be used are never dropped silently: they are returned with their original
columns plus a `reason` naming the line and the column (`line 9: Interaction_ID '2' repeats
line 3`), and the valid rows go on: valid + rejected = input rows. What makes a file unusable
(missing, not UTF-8, a missing column) is a `SourceError` naming the file, line and column.
Timestamps become naive UTC (see `rows.py`); `zone` is the time zone of those without an offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from poppy_pipeline.common.columns import POPPY_LOG_COLUMNS
from poppy_pipeline.simulation.catalog import CATALOG_COLUMNS
from poppy_pipeline.simulation.population import USER_COLUMNS
from poppy_pipeline.simulation.settings import INTERACTION_TYPES, OBJECT_TYPES
from poppy_pipeline.sources.csv_log import CsvMapping, check_csv_log
from poppy_pipeline.sources.raw_csv import RawRows, SourceError, read_raw_csv
from poppy_pipeline.sources.rows import (
    LONGER_THAN_A_YEAR,
    MAX_SECONDS,
    UTC,
    Checked,
    RowRules,
    finite_numbers,
    integers,
    reject_timestamps,
)

__all__ = ["Checked", "SourceError"]

SIMULATION = "simulation"
RATINGS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class SourceFormat:
    """What a log's vocabulary means to the downstream assets."""

    name: str
    event_types: tuple[str, ...]
    # Default engagement weight of each event type (the score adds the watch ratio).
    event_weights: dict[str, float]
    # Which event types count as views, clicks and favourites in the trending export.
    trending_roles: dict[str, str]
    # Event types whose watch time and duration make a user's watch ratio (seed 002).
    engaging_types: tuple[str, ...]
    view_type: str
    rated_type: str | None = None


POPPY = SourceFormat(
    name="poppy",
    event_types=INTERACTION_TYPES,
    # Passive (View, Click) below explicit, lasting intent (Rate, Favorite), as seed 002 ranks
    # view < like < comment < share.
    event_weights={"View": 0.2, "Click": 0.5, "Rate": 1.5, "Favorite": 2.0},
    trending_roles={"View": "num_views", "Click": "num_clicks", "Favorite": "num_favorites"},
    engaging_types=INTERACTION_TYPES,
    view_type="View",
    rated_type="Rate",
)
PINGS = SourceFormat(
    name="pings",
    event_types=("impression", "view", "like", "comment", "share", "follow_creator"),
    # Seed 002's weights, exactly.
    event_weights={"impression": 0.0, "view": 0.2, "like": 1.0, "comment": 1.5, "share": 2.0, "follow_creator": 2.5},
    trending_roles={
        "view": "num_views",
        "comment": "num_clicks",
        "share": "num_clicks",
        "follow_creator": "num_clicks",
        "like": "num_favorites",
    },
    engaging_types=("view", "like", "comment", "share"),
    view_type="view",
)
# Any CSV log with a mapping file (`csv_log.py`): its types are mapped to the poppy vocabulary.
CSV = replace(POPPY, name="csv")
FORMATS = {f.name: f for f in (POPPY, PINGS, CSV)}

PINGS_FILES = {
    "users": ("users.csv", ["user_id", "signup_date"]),
    "pings": ("pings.csv", ["ping_id", "creator_id", "main_hashtag", "category", "duration_sec", "created_at"]),
    "interactions": ("interactions.csv", ["user_id", "ping_id", "event_type", "watch_time_sec", "event_timestamp"]),
}


# --- poppy -----------------------------------------------------------------------------------


# How a source file's bytes are read: `Path.read_bytes`, or a run's `SourceSnapshot.read`.
Read = Callable[[Path], bytes]


def read_poppy_log(path: Path, read: Read = Path.read_bytes) -> RawRows:
    """The raw seed-000 log: every record as text, with its line."""
    return read_raw_csv(path, POPPY_LOG_COLUMNS, read=read)


def check_poppy_log(path: Path, rows: RawRows, objects: pd.DataFrame, users: pd.DataFrame, zone: str = UTC) -> Checked:
    """Validate a seed-000 log against the catalog and the users, in the project's columns."""
    return check_poppy_rows(path, RowRules.of(rows), objects, users, zone)


def check_poppy_rows(
    source: Path, rules: RowRules, objects: pd.DataFrame, users: pd.DataFrame, zone: str = UTC
) -> Checked:
    """The rules of a seed-000 interaction table, whatever it was read from (a file, a database)."""
    raw = rules.raw
    ids = _positive_integers(rules, "Interaction_ID")
    user_ids = _positive_integers(rules, "User_ID")
    rules.reject(~user_ids.isin(users["User_ID"]).fillna(False), "User_ID", "is not a known user")
    object_types = rules.text("Object_Type")
    present = set(objects["Object_Type"].astype(str))
    known_types = [t for t in OBJECT_TYPES if t in present] + sorted(present - set(OBJECT_TYPES))
    rules.reject(~object_types.isin(known_types), "Object_Type", f"is not one of {', '.join(known_types)}")
    object_ids = _positive_integers(rules, "Object_ID")
    catalog = pd.MultiIndex.from_frame(objects[["Object_Type", "Object_ID"]].astype({"Object_Type": str}))
    known = pd.MultiIndex.from_arrays([object_types, object_ids]).isin(catalog)
    rules.reject(~known, "Object_ID", "is not the ID of a " + object_types.fillna("") + " in the catalog")
    kinds = rules.text("Interaction_Type")
    rules.reject(~kinds.isin(POPPY.event_types), "Interaction_Type", f"is not one of {', '.join(POPPY.event_types)}")
    ratings = integers(raw["Interaction_Rating"])
    is_rate = kinds == POPPY.rated_type
    rated = rules.text("Interaction_Rating").notna()
    rules.reject(rated & ~is_rate, "Interaction_Rating", "is given on a non-Rate event")
    rules.reject(is_rate & ~ratings.isin(RATINGS).fillna(False), "Interaction_Rating", "is not a whole rating 1-5")
    stamps = reject_timestamps(rules, "Timestamp", zone)
    rules.reject_repeats(ids, "Interaction_ID")

    ok = rules.ok.to_numpy()
    kept = stamps[ok]
    valid = pd.DataFrame(
        {
            "Interaction_ID": ids[ok].astype("int64"),
            "User_ID": user_ids[ok].astype("int64"),
            "Object_Type": object_types[ok].astype(str),
            "Object_ID": object_ids[ok].astype("int64"),
            "Interaction_Type": kinds[ok].astype(str),
            "Interaction_Rating": ratings[ok].where(is_rate[ok]).astype("Int64"),
            "Timestamp": _seconds_unless_finer(kept),
            "Session_ID": pd.array([pd.NA] * int(ok.sum()), dtype="Int64"),
            "Watch_Time_Sec": pd.array([pd.NA] * int(ok.sum()), dtype="Int64"),
        }
    )
    return rules.split(source, valid)


def users_from_poppy_log(rows: RawRows, zone: str = UTC) -> pd.DataFrame:
    """The log's users; with no sign-up date in the log, each signed up the (UTC) day first seen."""
    return users_from_poppy_rows(RowRules.of(rows), zone)


def users_from_poppy_rows(rules: RowRules, zone: str = UTC) -> pd.DataFrame:
    """The users of a seed-000 interaction table (`User_ID`, `Timestamp`), whatever it was read from."""
    ids = _positive_integers(rules, "User_ID")
    stamps = reject_timestamps(rules, "Timestamp", zone)
    usable = ids.notna() & stamps.notna()
    first_seen = stamps[usable].groupby(ids[usable].astype("int64")).min()
    return _users_frame(first_seen.index.to_numpy(), first_seen.dt.date.to_numpy())


def _positive_integers(rules: RowRules, column: str) -> pd.Series:
    values = integers(rules.raw[column])
    rules.reject(~(values > 0).fillna(False), column, "is not a positive integer")
    return values.where((values > 0).fillna(False))


def _seconds_unless_finer(stamps: pd.Series) -> pd.Series:
    """Whole seconds (as seed 000 writes them) unless the log has fractions."""
    whole = (stamps.dt.microsecond == 0).all()
    seconds: pd.Series = stamps.dt.as_unit("s") if whole else stamps.dt.as_unit("us")
    return seconds


# --- pings -----------------------------------------------------------------------------------


def pings_file(folder: Path, name: str) -> tuple[Path, list[str]]:
    file_name, required = PINGS_FILES[name]
    if not folder.is_dir():
        raise SourceError(folder, "not a folder (the pings format needs users.csv, pings.csv, interactions.csv)")
    return folder / file_name, required


def check_pings_users(folder: Path, zone: str = UTC, read: Read = Path.read_bytes) -> Checked:
    path, required = pings_file(folder, "users")
    rules = RowRules.of(read_raw_csv(path, required, read=read))
    ids = rules.text("user_id")
    rules.reject(ids.isna(), "user_id", "is empty")
    signups = reject_timestamps(rules, "signup_date", zone, dates_allowed=True)
    rules.reject_repeats(ids, "user_id")
    ok = rules.ok.to_numpy()
    return rules.split(path, _users_frame(ids[ok].to_numpy(), signups[ok].dt.date.to_numpy()))


def check_pings_objects(folder: Path, read: Read = Path.read_bytes) -> Checked:
    path, required = pings_file(folder, "pings")
    rules = RowRules.of(read_raw_csv(path, required, read=read))
    ids = rules.text("ping_id")
    rules.reject(ids.isna(), "ping_id", "is empty")
    durations = finite_numbers(rules.raw["duration_sec"])
    rules.reject(~(durations > 0), "duration_sec", "is not a positive number of seconds")
    rules.reject(durations > MAX_SECONDS, "duration_sec", LONGER_THAN_A_YEAR)
    rules.reject_repeats(ids, "ping_id")
    ok = rules.ok.to_numpy()
    raw = rules.raw[ok]
    valid = pd.DataFrame(
        {
            "Object_Type": "Ping",
            "Object_ID": ids[ok].astype(str),
            "Name": raw["main_hashtag"].astype(str),
            "Category": raw["category"].where(rules.text("category")[ok].notna(), "Unknown"),
            "Duration_Sec": durations[ok],
            # As written; empty ones are missing (the catalog's declared schema reads them so).
            "Creator_ID": raw["creator_id"].where(rules.text("creator_id")[ok].notna(), None),
            "Created_At": raw["created_at"].where(rules.text("created_at")[ok].notna(), None),
        }
    )
    return rules.split(path, valid[[*CATALOG_COLUMNS, "Creator_ID", "Created_At"]])


def read_pings_interactions(folder: Path, read: Read = Path.read_bytes) -> tuple[Path, RawRows]:
    path, required = pings_file(folder, "interactions")
    return path, read_raw_csv(path, required, read=read)


def check_pings_interactions(
    path: Path, rows: RawRows, objects: pd.DataFrame, users: pd.DataFrame, zone: str = UTC
) -> Checked:
    """Validate seed 002's interactions against its users and pings, in the project's columns."""
    rules = RowRules.of(rows)
    user_ids = rules.text("user_id")
    rules.reject(~user_ids.isin(users["User_ID"].astype(str)), "user_id", "is not in users.csv")
    ping_ids = rules.text("ping_id")
    rules.reject(~ping_ids.isin(objects["Object_ID"].astype(str)), "ping_id", "is not in pings.csv")
    kinds = rules.text("event_type")
    rules.reject(~kinds.isin(PINGS.event_types), "event_type", f"is not one of {', '.join(PINGS.event_types)}")
    watch = finite_numbers(rules.raw["watch_time_sec"])
    rules.reject(rules.text("watch_time_sec").notna() & watch.isna(), "watch_time_sec", "is not a number")
    rules.reject(watch < 0, "watch_time_sec", "is negative")
    rules.reject(watch > MAX_SECONDS, "watch_time_sec", LONGER_THAN_A_YEAR)
    stamps = reject_timestamps(rules, "event_timestamp", zone)
    ok = rules.ok.to_numpy()
    valid = pd.DataFrame(
        {
            # The log has no ID: its line number is one, stable as long as the file only grows.
            "Interaction_ID": rows.lines[ok].astype("int64"),
            "User_ID": user_ids[ok].astype(str),
            "Object_Type": "Ping",
            "Object_ID": ping_ids[ok].astype(str),
            "Interaction_Type": kinds[ok].astype(str),
            "Interaction_Rating": pd.array([pd.NA] * int(ok.sum()), dtype="Int64"),
            "Timestamp": _seconds_unless_finer(stamps[ok]),
            "Session_ID": pd.array([pd.NA] * int(ok.sum()), dtype="Int64"),
            "Watch_Time_Sec": watch[ok],
        }
    )
    return rules.split(path, valid)


def _users_frame(ids: np.ndarray, signups: np.ndarray) -> pd.DataFrame:
    """Users in the project's columns; a real log knows only IDs and sign-up dates."""
    empty = np.full(len(ids), None, dtype=object)
    return pd.DataFrame(
        {
            "User_ID": ids,
            "Signup_Date": signups,
            "Profile": empty,
            "Device": empty,
            "Activity_Weight": np.full(len(ids), np.nan),
            "Preferred_Type": empty,
            "Rating_Bias": np.full(len(ids), np.nan),
        }
    )[USER_COLUMNS]


def users_from_checked_log(checked: Checked) -> pd.DataFrame:
    """The users of a log's valid rows, each signed up on the (UTC) day first seen."""
    first_seen = checked.valid.groupby("User_ID")["Timestamp"].min()
    return _users_frame(first_seen.index.to_numpy(), first_seen.dt.date.to_numpy())


def check_interaction_log(
    format_name: str,
    location: Path,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    zone: str = UTC,
    mapping: CsvMapping | None = None,
    read: Read = Path.read_bytes,
) -> Checked:
    """A real interaction log (`poppy` file, `pings` folder, `csv` file with its mapping), checked
    against its objects and users (a csv log's are its own)."""
    if format_name == CSV.name:
        if mapping is None:
            raise ValueError(f"{location}: a csv log is read with its column mapping, and none was given")
        return check_csv_log(location, mapping, zone, read)
    if format_name == PINGS.name:
        path, rows = read_pings_interactions(location, read)
        return check_pings_interactions(path, rows, objects, users, zone)
    return check_poppy_log(location, read_poppy_log(location, read), objects, users, zone)
