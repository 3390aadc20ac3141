"""The Poppy back end's tables (as DESIGN.md gives them), with rows, for SQLite and MariaDB alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

INTERACTIONS_DDL = """CREATE TABLE Interactions (
    Interaction_ID INT {key},
    User_ID INT,
    Object_Type VARCHAR(10),
    Object_Reference_ID INT,
    Interaction_Type VARCHAR(10),
    Interaction_Rating INT NULL,
    Interaction_Timestamp {stamp} NULL
)"""
CATALOG_DDL = [
    "CREATE TABLE Stars (Star_ID INT PRIMARY KEY, Star_Name VARCHAR(40), Star_SpType VARCHAR(10), Distance_LY FLOAT)",
    "CREATE TABLE Planets (Planet_ID INT PRIMARY KEY, Planet_Name VARCHAR(40), Planet_Type VARCHAR(20))",
    "CREATE TABLE Moons (Moon_ID INT PRIMARY KEY, Moon_Name VARCHAR(40), Parent_Planet_Name VARCHAR(40))",
]
SIZES = {"Star": 40, "Planet": 20, "Moon": 20}
SPECTRA = ["G2V", "K1III", "M5V", "B8", "A0V", "F5IV"]
PLANET_TYPES = ["Terrestrial", "Gas Giant", "Ice Giant", "Dwarf Planet"]


def catalog_tables() -> dict[str, pd.DataFrame]:
    """The rows of `Stars`, `Planets` and `Moons`."""
    stars, planets, moons = (np.arange(1, SIZES[t] + 1) for t in ("Star", "Planet", "Moon"))
    return {
        "Stars": pd.DataFrame(
            {
                "Star_ID": stars,
                "Star_Name": [f"HD {1000 + i}" for i in stars],
                "Star_SpType": [SPECTRA[i % len(SPECTRA)] for i in stars],
                "Distance_LY": stars * 1.5,
            }
        ),
        "Planets": pd.DataFrame(
            {
                "Planet_ID": planets,
                "Planet_Name": [f"Kepler-{i} b" for i in planets],
                "Planet_Type": [PLANET_TYPES[i % 4] for i in planets],
            }
        ),
        "Moons": pd.DataFrame(
            {
                "Moon_ID": moons,
                "Moon_Name": [f"Moon {i}" for i in moons],
                "Parent_Planet_Name": [f"Kepler-{1 + i % 5} b" for i in moons],
            }
        ),
    }


def interaction_rows(n: int, first_day: str, days: int, seed: int = 0) -> pd.DataFrame:
    """`n` valid rows of `Interactions` spread over `days` days, in the back end's vocabulary."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["View", "Like", "Rate", "Click"], n, p=[0.5, 0.2, 0.1, 0.2])
    types = rng.choice(["Star", "Planet", "Moon"], n)
    sizes = pd.Series(types).map(SIZES).to_numpy()
    stamps = pd.Timestamp(first_day) + pd.to_timedelta(rng.integers(0, days * 86_400, n), unit="s")
    return pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, n + 1),
            "User_ID": rng.integers(1, 40, n),
            "Object_Type": types,
            "Object_Reference_ID": 1 + rng.integers(0, 10**6, n) % sizes,
            "Interaction_Type": kinds,
            "Interaction_Rating": pd.Series(rng.integers(1, 6, n), dtype="Int64").where(kinds == "Rate"),
            "Interaction_Timestamp": stamps.astype(str),
        }
    )


def as_poppy_log(rows: pd.DataFrame) -> pd.DataFrame:
    """The same rows as seed 000's CSV log (Like is Favorite there)."""
    return pd.DataFrame(
        {
            "Interaction_ID": rows["Interaction_ID"],
            "User_ID": rows["User_ID"],
            "Object_Type": rows["Object_Type"],
            "Object_ID": rows["Object_Reference_ID"],
            "Interaction_Type": rows["Interaction_Type"].replace({"Like": "Favorite"}),
            "Interaction_Rating": rows["Interaction_Rating"],
            "Timestamp": rows["Interaction_Timestamp"],
        }
    )


def write_object_files(folder: Path) -> Path:
    """The catalog tables as object files (stars.csv, …), for the file-based run."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in catalog_tables().items():
        frame.to_csv(folder / f"{name.lower()}.csv", index=False)
    return folder


def create_tables(url: str, primary_key: bool = True, stamp_type: str = "DATETIME") -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        ddl = INTERACTIONS_DDL.format(key="PRIMARY KEY" if primary_key else "", stamp=stamp_type)
        for statement in [ddl, *CATALOG_DDL]:
            connection.exec_driver_sql(statement)
    engine.dispose()


def insert(url: str, table: str, rows: pd.DataFrame) -> None:
    """Insert `rows` (missing values as NULL)."""
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    columns = ", ".join(rows.columns)
    values = ", ".join(f":{c}" for c in rows.columns)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), records)
    engine.dispose()


def fill(url: str, interactions: pd.DataFrame, primary_key: bool = True, stamp_type: str = "DATETIME") -> None:
    """The back end's tables with the catalog and `interactions`."""
    create_tables(url, primary_key, stamp_type)
    for name, frame in catalog_tables().items():
        insert(url, name, frame)
    insert(url, "Interactions", interactions)
