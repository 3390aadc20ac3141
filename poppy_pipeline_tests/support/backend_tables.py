"""The Poppy back end's tables (as DESIGN.md gives them), with rows, for SQLite and MariaDB alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

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


def _tables(primary_key: bool, stamp_type: sa.types.TypeEngine) -> sa.MetaData:
    """The back end's tables; SQLAlchemy quotes their mixed-case names as each database needs
    (PostgreSQL folds unquoted names to lower case)."""
    metadata = sa.MetaData()

    def key(name: str) -> sa.Column:
        return sa.Column(name, sa.Integer, primary_key=True, autoincrement=False)

    sa.Table(
        "Interactions",
        metadata,
        key("Interaction_ID") if primary_key else sa.Column("Interaction_ID", sa.Integer),
        sa.Column("User_ID", sa.Integer),
        sa.Column("Object_Type", sa.String(10)),
        sa.Column("Object_Reference_ID", sa.Integer),
        sa.Column("Interaction_Type", sa.String(10)),
        sa.Column("Interaction_Rating", sa.Integer, nullable=True),
        sa.Column("Interaction_Timestamp", stamp_type, nullable=True),
    )
    text = sa.String(40)
    sa.Table("Stars", metadata, key("Star_ID"), sa.Column("Star_Name", text), sa.Column("Star_SpType", sa.String(10)),
             sa.Column("Distance_LY", sa.Float))  # fmt: skip
    sa.Table("Planets", metadata, key("Planet_ID"), sa.Column("Planet_Name", text), sa.Column("Planet_Type", text))
    sa.Table("Moons", metadata, key("Moon_ID"), sa.Column("Moon_Name", text), sa.Column("Parent_Planet_Name", text))
    return metadata


def create_tables(url: str, primary_key: bool = True, stamp_type: sa.types.TypeEngine | None = None) -> None:
    """`Interactions` (its timestamp a DATETIME, or `stamp_type`), `Stars`, `Planets`, `Moons`."""
    engine = sa.create_engine(url)
    _tables(primary_key, stamp_type if stamp_type is not None else sa.DateTime()).create_all(engine)
    engine.dispose()


def insert(url: str, table: str, rows: pd.DataFrame) -> None:
    """Insert `rows` (missing values as NULL)."""
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.insert(sa.table(table, *(sa.column(c) for c in rows.columns))), records)
    engine.dispose()


def fill(
    url: str, interactions: pd.DataFrame, primary_key: bool = True, stamp_type: sa.types.TypeEngine | None = None
) -> None:
    """The back end's tables with the catalog and `interactions`."""
    create_tables(url, primary_key, stamp_type)
    for name, frame in catalog_tables().items():
        insert(url, name, frame)
    insert(url, "Interactions", interactions)
