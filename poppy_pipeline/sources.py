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
columns plus a `reason` naming the line and the column, and the valid rows go on. A missing
file or column is a `SourceError` naming both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from poppy_pipeline.catalog import CATALOG_COLUMNS
from poppy_pipeline.interactions import INTERACTION_COLUMNS
from poppy_pipeline.population import USER_COLUMNS
from poppy_pipeline.settings import INTERACTION_TYPES

SIMULATION = "simulation"


class SourceError(ValueError):
    """A source that cannot be read at all; the message names the file (and column)."""


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
FORMATS = {f.name: f for f in (POPPY, PINGS)}

POPPY_LOG_COLUMNS = INTERACTION_COLUMNS[:7]
PINGS_FILES = {
    "users": ("users.csv", ["user_id", "signup_date"]),
    "pings": ("pings.csv", ["ping_id", "creator_id", "main_hashtag", "category", "duration_sec", "created_at"]),
    "interactions": ("interactions.csv", ["user_id", "ping_id", "event_type", "watch_time_sec", "event_timestamp"]),
}


@dataclass
class Checked:
    """Rows of one input file: the usable ones (in the project's columns) and the rejected ones."""

    source_file: Path
    valid: pd.DataFrame
    rejected: pd.DataFrame  # original columns + reason
    input_rows: int

    def __post_init__(self) -> None:
        assert len(self.valid) + len(self.rejected) == self.input_rows, "rows lost while checking"

    @property
    def rejected_share(self) -> float:
        return len(self.rejected) / self.input_rows if self.input_rows else 0.0


@dataclass
class RowRules:
    """Collects the first failing rule of each row of a raw (all-string) file."""

    raw: pd.DataFrame
    # Where each row comes from, e.g. `Interactions Interaction_ID=42` (default: `line N`).
    origins: pd.Series | None = None
    # The column names to show in reasons, when the raw frame's were renamed (e.g. from a table).
    column_labels: dict[str, str] = field(default_factory=dict)
    reasons: pd.Series = field(init=False)

    def __post_init__(self) -> None:
        self.reasons = pd.Series(pd.NA, index=self.raw.index, dtype="object")

    def reject(self, failing: pd.Series | np.ndarray, column: str, problem: str) -> None:
        """Give rows that fail (and have no reason yet) the reason `line N: column 'value' problem`."""
        fresh = pd.Series(failing, index=self.raw.index).fillna(False).astype(bool) & self.reasons.isna()
        if not fresh.any():
            return
        # Line 1 is the header.
        where = "line " + (self.raw.index[fresh] + 2).astype(str) if self.origins is None else self.origins[fresh]
        values = self.raw.loc[fresh, column].fillna("").astype(str)
        label = self.column_labels.get(column, column)
        self.reasons[fresh] = where + ": " + label + " '" + values + "' " + problem

    @property
    def ok(self) -> pd.Series:
        return self.reasons.isna()

    def rejected(self) -> pd.DataFrame:
        """The failing rows: original columns plus `reason`."""
        return self.raw[~self.ok].assign(reason=self.reasons[~self.ok].astype(str))

    def split(self, path: Path, valid: pd.DataFrame) -> Checked:
        """`valid` has a row per raw row; keep those that passed."""
        return Checked(path, valid[self.ok.to_numpy()].reset_index(drop=True), self.rejected(), len(self.raw))


def read_raw_csv(path: Path, required: list[str]) -> pd.DataFrame:
    """A CSV as strings (nothing coerced yet), or a `SourceError` naming the file or column."""
    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SourceError(f"{path}: cannot read ({error})") from error
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise SourceError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(raw.columns)})")
    return raw


def _timestamps(values: pd.Series) -> pd.Series:
    """Parsed date-times (NaT where unparseable), in whole seconds unless the log has fractions."""
    stamps = pd.to_datetime(values.str.strip(), errors="coerce", format="ISO8601")
    whole_seconds = (stamps.dropna().dt.microsecond == 0).all() and (stamps.dropna().dt.nanosecond == 0).all()
    return stamps.dt.as_unit("s") if whole_seconds else stamps.dt.as_unit("us")


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.str.strip(), errors="coerce")


# --- poppy -----------------------------------------------------------------------------------


def read_poppy_log(path: Path) -> tuple[pd.DataFrame, int]:
    """The raw seed-000 log (all strings) and its row count."""
    raw = read_raw_csv(path, POPPY_LOG_COLUMNS)
    return raw, len(raw)


def check_poppy_log(
    path: Path,
    raw: pd.DataFrame,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    origins: pd.Series | None = None,
    column_labels: dict[str, str] | None = None,
) -> Checked:
    """Validate a seed-000 log against the catalog and the users, in the project's columns.

    `origins` and `column_labels` name rows and columns in reasons when the rows come from a table.
    """
    rules = RowRules(raw, origins, column_labels or {})
    ids = _numbers(raw["Interaction_ID"])
    rules.reject(~(ids > 0) | (ids != np.floor(ids)), "Interaction_ID", "is not a positive integer")
    rules.reject(ids.duplicated() & rules.ok, "Interaction_ID", "repeats an earlier row")
    stamps = _timestamps(raw["Timestamp"])
    rules.reject(stamps.isna(), "Timestamp", "is not a date-time")
    kinds = raw["Interaction_Type"].str.strip()
    rules.reject(~kinds.isin(POPPY.event_types), "Interaction_Type", f"is not one of {', '.join(POPPY.event_types)}")
    ratings = _numbers(raw["Interaction_Rating"])
    has_rating = raw["Interaction_Rating"].notna()
    is_rate = kinds == POPPY.rated_type
    rules.reject(has_rating & ~is_rate, "Interaction_Rating", "is given on a non-Rate event")
    rules.reject(is_rate & ~ratings.isin([1, 2, 3, 4, 5]), "Interaction_Rating", "is not a rating 1-5")
    user_ids = _numbers(raw["User_ID"])
    rules.reject(~user_ids.isin(users["User_ID"]), "User_ID", "is not a known user")
    object_ids = _numbers(raw["Object_ID"])
    known = pd.MultiIndex.from_frame(objects[["Object_Type", "Object_ID"]].astype({"Object_Type": str}))
    keys = pd.MultiIndex.from_arrays([raw["Object_Type"].str.strip(), object_ids])
    rules.reject(~keys.isin(known), "Object_ID", "is not an object of that Object_Type in the catalog")

    ok = rules.ok
    valid = pd.DataFrame(
        {
            "Interaction_ID": ids.where(ok, 0).astype("int64"),
            "User_ID": user_ids.where(ok, 0).astype("int64"),
            "Object_Type": raw["Object_Type"].str.strip(),
            "Object_ID": object_ids.where(ok, 0).astype("int64"),
            "Interaction_Type": kinds,
            "Interaction_Rating": ratings.where(is_rate).astype("Int64"),
            "Timestamp": stamps,
            "Session_ID": pd.array([pd.NA] * len(raw), dtype="Int64"),
            "Watch_Time_Sec": pd.array([pd.NA] * len(raw), dtype="Int64"),
        }
    )
    return rules.split(path, valid)


def users_from_poppy_log(raw: pd.DataFrame) -> pd.DataFrame:
    """The log's users; with no sign-up date in the log, each signed up the day first seen."""
    ids = _numbers(raw["User_ID"])
    stamps = _timestamps(raw["Timestamp"])
    usable = ids.notna() & (ids > 0) & stamps.notna()
    first_seen = stamps[usable].groupby(ids[usable].astype("int64")).min()
    return _users_frame(first_seen.index.to_numpy(), first_seen.dt.date.to_numpy())


# --- pings -----------------------------------------------------------------------------------


def pings_file(folder: Path, name: str) -> tuple[Path, list[str]]:
    file_name, required = PINGS_FILES[name]
    if not folder.is_dir():
        raise SourceError(f"{folder}: not a folder (the pings format needs users.csv, pings.csv, interactions.csv)")
    return folder / file_name, required


def check_pings_users(folder: Path) -> Checked:
    path, required = pings_file(folder, "users")
    raw = read_raw_csv(path, required)
    rules = RowRules(raw)
    ids = raw["user_id"].str.strip()
    rules.reject(ids.isna() | (ids == ""), "user_id", "is empty")
    rules.reject(ids.duplicated() & rules.ok, "user_id", "repeats an earlier row")
    signups = _timestamps(raw["signup_date"])
    rules.reject(signups.isna(), "signup_date", "is not a date")
    return rules.split(path, _users_frame(ids.to_numpy(), signups.dt.date.to_numpy()))


def check_pings_objects(folder: Path) -> Checked:
    path, required = pings_file(folder, "pings")
    raw = read_raw_csv(path, required)
    rules = RowRules(raw)
    ids = raw["ping_id"].str.strip()
    rules.reject(ids.isna() | (ids == ""), "ping_id", "is empty")
    rules.reject(ids.duplicated() & rules.ok, "ping_id", "repeats an earlier row")
    durations = _numbers(raw["duration_sec"])
    rules.reject(~(durations > 0), "duration_sec", "is not a positive number of seconds")
    valid = pd.DataFrame(
        {
            "Object_Type": "Ping",
            "Object_ID": ids,
            "Name": raw["main_hashtag"].fillna(""),
            "Category": raw["category"].fillna("Unknown"),
            "Duration_Sec": durations,
            "Creator_ID": raw["creator_id"],
            "Created_At": raw["created_at"],
        }
    )
    return rules.split(path, valid[[*CATALOG_COLUMNS, "Creator_ID", "Created_At"]])


def read_pings_interactions(folder: Path) -> tuple[Path, pd.DataFrame]:
    path, required = pings_file(folder, "interactions")
    return path, read_raw_csv(path, required)


def check_pings_interactions(path: Path, raw: pd.DataFrame, objects: pd.DataFrame, users: pd.DataFrame) -> Checked:
    """Validate seed 002's interactions against its users and pings, in the project's columns."""
    rules = RowRules(raw)
    stamps = _timestamps(raw["event_timestamp"])
    rules.reject(stamps.isna(), "event_timestamp", "is not a date-time")
    kinds = raw["event_type"].str.strip()
    rules.reject(~kinds.isin(PINGS.event_types), "event_type", f"is not one of {', '.join(PINGS.event_types)}")
    watch = _numbers(raw["watch_time_sec"])
    rules.reject(raw["watch_time_sec"].notna() & watch.isna(), "watch_time_sec", "is not a number")
    rules.reject(watch < 0, "watch_time_sec", "is negative")
    user_ids = raw["user_id"].str.strip()
    rules.reject(~user_ids.isin(users["User_ID"].astype(str)), "user_id", "is not in users.csv")
    ping_ids = raw["ping_id"].str.strip()
    rules.reject(~ping_ids.isin(objects["Object_ID"].astype(str)), "ping_id", "is not in pings.csv")
    valid = pd.DataFrame(
        {
            # The log has no ID: its line number is one, stable as long as the file only grows.
            "Interaction_ID": (raw.index + 2).astype("int64"),
            "User_ID": user_ids,
            "Object_Type": "Ping",
            "Object_ID": ping_ids,
            "Interaction_Type": kinds,
            "Interaction_Rating": pd.array([pd.NA] * len(raw), dtype="Int64"),
            "Timestamp": stamps,
            "Session_ID": pd.array([pd.NA] * len(raw), dtype="Int64"),
            "Watch_Time_Sec": watch,
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


def split_by_day(
    rows: pd.DataFrame, days: list[str], tiebreak: tuple[str, ...] = ()
) -> tuple[dict[str, pd.DataFrame], int]:
    """The rows of each requested day (by `Timestamp`, then `tiebreak`, then file order), and how
    many rows fall outside those days."""
    day_of_row = rows["Timestamp"].dt.strftime("%Y-%m-%d")
    ordered = rows.assign(_day=day_of_row).sort_values(["Timestamp", *tiebreak], kind="stable")
    groups = {day: frame.drop(columns="_day").reset_index(drop=True) for day, frame in ordered.groupby("_day")}
    empty = rows.iloc[0:0].reset_index(drop=True)
    by_day = {day: groups.get(day, empty) for day in days}
    return by_day, len(rows) - sum(len(f) for f in by_day.values())
