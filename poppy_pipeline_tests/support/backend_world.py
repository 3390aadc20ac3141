"""A simulated world with tastes, as the Poppy back end's tables: for the preference assets' database path.

The catalog becomes `Stars(Star_SpType)`, `Planets(Planet_Type, spaced as the app writes it)` and
`Moons(Parent_Planet_Name)`; interactions speak the back end's vocabulary (a Favorite is a `Like`).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import make_model, simulate_window
from poppy_pipeline_tests.support.backend_tables import create_tables, insert

PLANET_TYPES = {
    "GasGiant": "Gas Giant",
    "IceGiant": "Ice Giant",
    "DwarfPlanet": "Dwarf Planet",
    "Terrestrial": "Terrestrial",
}


def backend_world(
    settings: SimulationSettings, first_day: date, days: int
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The catalog tables and the `Interactions` rows of `days` simulated days from `first_day`."""
    model, objects, _ = make_model(settings)
    window = simulate_window(model, [first_day + timedelta(days=d) for d in range(days)])
    by_type = {t: objects[objects["Object_Type"] == t] for t in ("Star", "Planet", "Moon")}
    stars, planets, moons = by_type["Star"], by_type["Planet"], by_type["Moon"]
    catalog = {
        "Stars": pd.DataFrame(
            {
                "Star_ID": stars["Object_ID"].to_numpy(),
                "Star_Name": stars["Name"].to_numpy(),
                "Star_SpType": (stars["Category"] + "5V").to_numpy(),  # a spectral type, e.g. G5V
                "Distance_LY": np.arange(1, len(stars) + 1) * 3.0,
            }
        ),
        "Planets": pd.DataFrame(
            {
                "Planet_ID": planets["Object_ID"].to_numpy(),
                "Planet_Name": planets["Name"].to_numpy(),
                "Planet_Type": planets["Category"].map(PLANET_TYPES).to_numpy(),
            }
        ),
        "Moons": pd.DataFrame(
            {
                "Moon_ID": moons["Object_ID"].to_numpy(),
                "Moon_Name": moons["Name"].to_numpy(),
                "Parent_Planet_Name": moons["Category"].to_numpy(),
            }
        ),
    }
    interactions = pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, len(window) + 1),
            "User_ID": window["User_ID"].to_numpy(),
            "Object_Type": window["Object_Type"].astype(str).to_numpy(),
            "Object_Reference_ID": window["Object_ID"].to_numpy(),
            "Interaction_Type": window["Interaction_Type"].astype(str).replace({"Favorite": "Like"}).to_numpy(),
            "Interaction_Rating": window["Interaction_Rating"].astype("Int64").to_numpy(),
            "Interaction_Timestamp": window["Timestamp"].astype(str).to_numpy(),
        }
    )
    return catalog, interactions


def fill_world(url: str, catalog: dict[str, pd.DataFrame], interactions: pd.DataFrame) -> None:
    """The back end's tables at `url`, holding `catalog` and `interactions`."""
    create_tables(url)
    for name, frame in catalog.items():
        insert(url, name, frame)
    insert(url, "Interactions", interactions)


def write_world_files(folder: Path, catalog: dict[str, pd.DataFrame], interactions: pd.DataFrame) -> tuple[Path, Path]:
    """The same as object files (stars.csv, …) and a seed-000 log (Like is Favorite there)."""
    objects = folder / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    for name, frame in catalog.items():
        frame.to_csv(objects / f"{name.lower()}.csv", index=False)
    log = pd.DataFrame(
        {
            "Interaction_ID": interactions["Interaction_ID"],
            "User_ID": interactions["User_ID"],
            "Object_Type": interactions["Object_Type"],
            "Object_ID": interactions["Object_Reference_ID"],
            "Interaction_Type": interactions["Interaction_Type"].replace({"Like": "Favorite"}),
            "Interaction_Rating": interactions["Interaction_Rating"],
            "Timestamp": interactions["Interaction_Timestamp"],
        }
    )
    log.to_csv(folder / "log.csv", index=False)
    return objects, folder / "log.csv"
