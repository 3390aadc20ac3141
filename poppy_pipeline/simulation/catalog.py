"""The catalog of celestial objects: read from the Poppy datasets, or generated.

Output columns: Object_Type, Object_ID, Name, Category, Duration_Sec.

Reading `data/objects/{stars,planets,moons}.csv` (file names are matched case-insensitively, so
the seed's `Stars.csv` works too). Column names are matched ignoring case, spaces and
underscores; the first alias found is used:

| output | accepted source columns | when absent |
|---|---|---|
| `Object_ID` | `Object_ID`, `ID`, `<Type>_ID` (e.g. `Star_ID`) | row order 1..N (seed 000) |
| `Name` | `Name`, `Object_Name`, `<Type>_Name`, `Proper_Name`, `Designation` | `"<Type> <id>"` |
| `Category`, stars | Category, Spectral_Class, Spectral_Type, Star_SpType, SpType, Spectrum, Class, Type | Unknown |
| `Category`, planets | Category, Planet_Type, Type, Class | Unknown |
| `Category`, moons | Category, Parent_Body, Parent, Parent_Planet, Parent_Planet_Name, Planet, Host, Orbits | Unknown |
| `Duration_Sec` | `Duration_Sec`, `Duration`, `Media_Duration_Sec`, `Video_Length_Sec` | generated from the seed |

A generated catalog speaks the engine's categories (`preferences/categories.py`): stars by spectral
class, planets by type (the Solar System's ten bodies with moons first, then exoplanets), moons by
parent body, each of those ten bodies.

Other columns are ignored. Star categories are reduced to their spectral letter ("G2V" -> "G");
planet categories are normalised ("gas giant" -> "GasGiant"). Rows whose Object_ID is not a
positive integer or repeats an earlier row (`line 4: Object_ID '1' repeats line 2`), or whose
Duration_Sec is not a positive number, are quarantined with a reason; the rest are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation.settings import OBJECT_TYPES, SimulationSettings
from poppy_pipeline.sources.raw_csv import SourceError, read_raw_csv
from poppy_pipeline.sources.rows import RowRules, finite_numbers, integers

CATALOG_COLUMNS = ["Object_Type", "Object_ID", "Name", "Category", "Duration_Sec"]
FILE_STEMS = {"Star": "stars", "Planet": "planets", "Moon": "moons"}

SPECTRAL_CLASSES = ("O", "B", "A", "F", "G", "K", "M")
# Notable (named, catalogued) stars over-represent bright hot classes compared to the galaxy.
SPECTRAL_CLASS_WEIGHTS = (0.02, 0.12, 0.15, 0.12, 0.15, 0.24, 0.20)
PLANET_CATEGORIES = ("Terrestrial", "GasGiant", "IceGiant", "DwarfPlanet")
PLANET_CATEGORY_WEIGHTS = (0.35, 0.35, 0.15, 0.15)
# The Solar System's bodies with moons, which the engine's moon categories name; a generated catalog's
# first planets, with their types, and the parents of its moons.
MOON_HOSTS: dict[str, str] = {
    "Earth": "Terrestrial",
    "Mars": "Terrestrial",
    "Jupiter": "GasGiant",
    "Saturn": "GasGiant",
    "Uranus": "IceGiant",
    "Neptune": "IceGiant",
    "Pluto": "DwarfPlanet",
    "Eris": "DwarfPlanet",
    "Haumea": "DwarfPlanet",
    "Makemake": "DwarfPlanet",
}
# Share of generated moons per parent: the giants carry most, every body some (the real counts, 1 for
# Earth to 146 for Saturn, would leave most of the engine's moon categories without an object).
MOON_PARENT_WEIGHTS: dict[str, float] = {
    "Earth": 0.05,
    "Mars": 0.06,
    "Jupiter": 0.18,
    "Saturn": 0.18,
    "Uranus": 0.12,
    "Neptune": 0.10,
    "Pluto": 0.08,
    "Eris": 0.08,
    "Haumea": 0.07,
    "Makemake": 0.08,
}
STAR_CATALOG_PREFIXES = ("HD", "HIP", "Gliese", "Kepler", "TOI", "TRAPPIST")
# Median length of an object's media in seconds, per type.
MEDIAN_DURATION_SEC = {"Star": 90.0, "Planet": 120.0, "Moon": 60.0}
DURATION_RANGE_SEC = (15, 600)

_ID_ALIASES = ("objectid", "id", "{type}id")
_NAME_ALIASES = ("name", "objectname", "{type}name", "propername", "designation")
_CATEGORY_ALIASES = {
    "Star": ("category", "spectralclass", "spectraltype", "{type}sptype", "sptype", "spectrum", "class", "type"),
    "Planet": ("category", "planettype", "type", "class"),
    "Moon": ("category", "parentbody", "parent", "parentplanet", "parentplanetname", "planet", "host", "orbits"),
}
_DURATION_ALIASES = ("durationsec", "duration", "mediadurationsec", "videolengthsec")
_PLANET_CATEGORY_BY_KEY = {
    "terrestrial": "Terrestrial",
    "rocky": "Terrestrial",
    "gasgiant": "GasGiant",
    "icegiant": "IceGiant",
    "dwarfplanet": "DwarfPlanet",
    "dwarf": "DwarfPlanet",
}


class CatalogError(ValueError):
    """A catalog file that cannot be used at all; the message names the file."""


@dataclass
class ObjectFile:
    """What reading one object file produced."""

    path: Path
    objects: pd.DataFrame
    quarantined: pd.DataFrame
    column_mapping: dict[str, str | None]
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class Catalog:
    objects: pd.DataFrame
    sources: dict[str, str]  # object type -> file path or "generated"
    files: list[ObjectFile] = field(default_factory=list)

    @property
    def quarantined(self) -> dict[str, pd.DataFrame]:
        return {f.path.name: f.quarantined for f in self.files if len(f.quarantined)}


def build_catalog(settings: SimulationSettings, objects_dir: Path | None) -> Catalog:
    """Read each type's file from `objects_dir` where present, generate the others."""
    sizes = {"Star": settings.num_stars, "Planet": settings.num_planets, "Moon": settings.num_moons}
    frames: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    files: list[ObjectFile] = []
    for object_type in OBJECT_TYPES:
        path = find_object_file(objects_dir, object_type) if objects_dir else None
        if path is not None:
            read = read_object_file(path, object_type, settings.seed)
            files.append(read)
            frames[object_type] = read.objects
            sources[object_type] = str(path)
        else:
            frames[object_type] = generate_objects(object_type, sizes[object_type], settings.seed, frames)
            sources[object_type] = "generated"
    objects = pd.concat([frames[t] for t in OBJECT_TYPES], ignore_index=True)[CATALOG_COLUMNS]
    return Catalog(objects=objects, sources=sources, files=files)


def find_object_file(objects_dir: Path, object_type: str) -> Path | None:
    if not objects_dir.is_dir():
        return None
    wanted = FILE_STEMS[object_type] + ".csv"
    matches = sorted(p for p in objects_dir.iterdir() if p.name.lower() == wanted)
    return matches[0] if matches else None


# --- generation ------------------------------------------------------------------------------


def generate_objects(object_type: str, count: int, seed: int, earlier: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """`count` objects of one type with realistic categories, names and media durations."""
    rng = stream(seed, f"catalog:{object_type}")
    ids = np.arange(1, count + 1)
    if object_type == "Star":
        categories = rng.choice(SPECTRAL_CLASSES, size=count, p=SPECTRAL_CLASS_WEIGHTS)
        names = _star_names(rng, count)
    elif object_type == "Planet":
        categories, names = _planets(rng, count, earlier)
    else:
        categories = _moon_parents(rng, count)
        names = _children_names(categories, _roman_suffix)
    durations = generate_durations(rng, object_type, count)
    return pd.DataFrame(
        {
            "Object_Type": object_type,
            "Object_ID": ids,
            "Name": names,
            "Category": categories,
            "Duration_Sec": durations,
        }
    )


def _planets(rng: np.random.Generator, count: int, earlier: dict[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """The Solar System's bodies with moons first (their own types), then exoplanets named after stars."""
    solar = list(MOON_HOSTS)[:count]
    others = count - len(solar)
    categories = rng.choice(PLANET_CATEGORIES, size=others, p=PLANET_CATEGORY_WEIGHTS)
    hosts = earlier["Star"]["Name"].to_numpy() if "Star" in earlier else _star_names(rng, max(others, 1))
    names = _children_names(rng.choice(hosts, size=others), _letter_suffix)
    return (
        np.concatenate([np.array([MOON_HOSTS[b] for b in solar], dtype=object), categories.astype(object)]),
        np.concatenate([np.array(solar, dtype=object), names.astype(object)]),
    )


def _moon_parents(rng: np.random.Generator, count: int) -> np.ndarray:
    """Each moon's parent body: one moon for each body first (so every moon category has objects when
    there are enough moons), the rest by `MOON_PARENT_WEIGHTS`."""
    bodies = np.array(list(MOON_PARENT_WEIGHTS), dtype=object)
    first = bodies[: min(count, len(bodies))]
    rest = rng.choice(bodies, size=count - len(first), p=list(MOON_PARENT_WEIGHTS.values()))
    return np.concatenate([first, rest])


def generate_durations(rng: np.random.Generator, object_type: str, count: int) -> np.ndarray:
    """Media lengths in whole seconds: log-normal around the type's median, clipped."""
    median = MEDIAN_DURATION_SEC[object_type]
    raw = rng.lognormal(mean=np.log(median), sigma=0.6, size=count)
    return np.clip(np.rint(raw), *DURATION_RANGE_SEC).astype(np.int64)


def _star_names(rng: np.random.Generator, count: int) -> np.ndarray:
    prefixes = rng.choice(STAR_CATALOG_PREFIXES, size=count, p=(0.45, 0.25, 0.1, 0.1, 0.07, 0.03))
    numbers = rng.choice(np.arange(10, 240_000), size=count, replace=False)
    return np.array([f"{p} {n}" for p, n in zip(prefixes, numbers, strict=True)])


def _children_names(parents: np.ndarray, suffix: Callable[[int], str]) -> np.ndarray:
    """Name each child after its parent plus its rank among the parent's children."""
    ranks = pd.Series(parents).groupby(parents).cumcount().tolist()
    return np.array([f"{p} {suffix(r)}" for p, r in zip(parents, ranks, strict=True)])


def _letter_suffix(rank: int) -> str:
    return chr(ord("b") + rank) if rank < 25 else f"b{rank}"


def _roman_suffix(rank: int) -> str:
    numerals = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    n, out = rank + 1, ""
    for value, numeral in numerals:
        while n >= value:
            out, n = out + numeral, n - value
    return out


# --- reading ---------------------------------------------------------------------------------


def read_object_file(path: Path, object_type: str, seed: int) -> ObjectFile:
    """Read one object file, map its columns and quarantine the rows that cannot be used."""
    try:
        rows = read_raw_csv(path, [])
    except SourceError as error:
        raise CatalogError(str(error)) from None
    if rows.frame.empty:
        raise CatalogError(f"{path}: no rows")
    return map_object_rows(path, RowRules.of(rows), object_type, seed)


def map_object_rows(source: Path, rules: RowRules, object_type: str, seed: int) -> ObjectFile:
    """Map a raw (all-string) object table to the catalog's columns, quarantining unusable rows; the
    rules' origins name rows in reasons (`line N` of a file, the primary key of a database table)."""
    raw = rules.raw
    by_key = {_key(column): column for column in raw.columns}
    mapping = {
        "Object_ID": _first(by_key, _ID_ALIASES, object_type),
        "Name": _first(by_key, _NAME_ALIASES, object_type),
        "Category": _first(by_key, _CATEGORY_ALIASES[object_type], object_type),
        "Duration_Sec": _first(by_key, _DURATION_ALIASES, object_type),
    }
    used = {c for c in mapping.values() if c}
    ignored = [c for c in raw.columns if c not in used]

    if mapping["Object_ID"]:
        ids = integers(raw[mapping["Object_ID"]])
        rules.reject(~(ids > 0).fillna(False), mapping["Object_ID"], "is not a positive integer")
    else:
        ids = pd.Series(np.arange(1, len(raw) + 1), index=raw.index, dtype="Int64")
    if mapping["Duration_Sec"]:
        durations = finite_numbers(raw[mapping["Duration_Sec"]])
        rules.reject(~(durations > 0), mapping["Duration_Sec"], "is not a positive number of seconds")
    else:
        durations = pd.Series(
            generate_durations(stream(seed, f"durations:{object_type}"), object_type, len(raw)), index=raw.index
        )
    if mapping["Object_ID"]:
        rules.reject_repeats(ids.where((ids > 0).fillna(False)), mapping["Object_ID"])

    keep = rules.ok
    if not keep.any():
        raise CatalogError(f"{source}: no usable rows; first problem: {rules.reasons.iloc[0]}")
    kept_ids = ids[keep].astype(np.int64).to_numpy()
    objects = pd.DataFrame(
        {
            "Object_Type": object_type,
            "Object_ID": kept_ids,
            "Name": _column_or(raw[keep], mapping["Name"], [f"{object_type} {i}" for i in kept_ids]),
            "Category": _normalise_categories(
                object_type, _column_or(raw[keep], mapping["Category"], ["Unknown"] * len(kept_ids))
            ),
            "Duration_Sec": durations[keep].to_numpy(dtype=float),
        }
    )
    return ObjectFile(source, objects, rules.rejected(), mapping, ignored)


def _key(column: str) -> str:
    return re.sub(r"[^a-z0-9]", "", column.lower())


def _first(by_key: dict[str, str], aliases: tuple[str, ...], object_type: str) -> str | None:
    for alias in aliases:
        key = alias.format(type=object_type.lower())
        if key in by_key:
            return by_key[key]
    return None


def _column_or(frame: pd.DataFrame, column: str | None, fallback: list[str]) -> np.ndarray:
    if column is None:
        return np.asarray(fallback, dtype=object)
    values = frame[column].str.strip().to_numpy(dtype=object)
    return np.where(values == "", np.asarray(fallback, dtype=object), values)


def _normalise_categories(object_type: str, values: np.ndarray) -> np.ndarray:
    if object_type == "Star":
        letters = np.array([v[:1].upper() for v in values], dtype=object)
        return np.where(np.isin(letters, SPECTRAL_CLASSES), letters, values)
    if object_type == "Planet":
        return np.array([_PLANET_CATEGORY_BY_KEY.get(_key(v), v) for v in values], dtype=object)
    return values
