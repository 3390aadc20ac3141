"""celestial_objects: generated at the configured sizes, or read from the Poppy datasets."""

from pathlib import Path

import pandas as pd
import pytest

from poppy_pipeline.simulation.catalog import (
    CATALOG_COLUMNS,
    PLANET_CATEGORIES,
    SPECTRAL_CLASSES,
    CatalogError,
    build_catalog,
)
from poppy_pipeline.simulation.settings import SimulationSettings


def test_generated_catalog_has_configured_sizes_and_realistic_categories():
    settings = SimulationSettings(num_stars=30, num_planets=20, num_moons=10)
    catalog = build_catalog(settings, None)
    objects = catalog.objects
    assert list(objects.columns) == CATALOG_COLUMNS
    assert objects["Object_Type"].value_counts().to_dict() == {"Star": 30, "Planet": 20, "Moon": 10}
    for object_type, size in {"Star": 30, "Planet": 20, "Moon": 10}.items():
        ids = objects.loc[objects["Object_Type"] == object_type, "Object_ID"]
        assert ids.tolist() == list(range(1, size + 1))
    assert set(objects.loc[objects["Object_Type"] == "Star", "Category"]) <= set(SPECTRAL_CLASSES)
    assert set(objects.loc[objects["Object_Type"] == "Planet", "Category"]) <= set(PLANET_CATEGORIES)
    planet_names = set(objects.loc[objects["Object_Type"] == "Planet", "Name"])
    assert set(objects.loc[objects["Object_Type"] == "Moon", "Category"]) <= planet_names  # moons: parent body
    assert objects["Duration_Sec"].between(15, 600).all()
    assert objects["Name"].is_unique
    assert catalog.sources == {"Star": "generated", "Planet": "generated", "Moon": "generated"}


def test_generation_is_deterministic_per_seed():
    first = build_catalog(SimulationSettings(seed=3), None).objects
    assert first.equals(build_catalog(SimulationSettings(seed=3), None).objects)
    assert not first.equals(build_catalog(SimulationSettings(seed=4), None).objects)


def test_reads_seed_style_file_with_aliased_columns(tmp_path: Path):
    (tmp_path / "Stars.csv").write_text(
        "ID,Star_Name,Spectral_Type,Duration,Magnitude\n1,Sirius,A1V,120,-1.46\n2,Sun,G2V,90,-26.7\n7,Betelgeuse,M1Ia,60,0.5\n"
    )
    catalog = build_catalog(SimulationSettings(num_planets=5, num_moons=5), tmp_path)
    stars = catalog.objects[catalog.objects["Object_Type"] == "Star"]
    assert stars["Object_ID"].tolist() == [1, 2, 7]
    assert stars["Name"].tolist() == ["Sirius", "Sun", "Betelgeuse"]
    assert stars["Category"].tolist() == ["A", "G", "M"]
    assert stars["Duration_Sec"].tolist() == [120, 90, 60]
    read = catalog.files[0]
    assert read.column_mapping == {
        "Object_ID": "ID",
        "Name": "Star_Name",
        "Category": "Spectral_Type",
        "Duration_Sec": "Duration",
    }
    assert read.ignored_columns == ["Magnitude"]
    assert catalog.sources["Planet"] == "generated"


def test_missing_optional_columns_fall_back(tmp_path: Path):
    (tmp_path / "planets.csv").write_text("Name,Type\nEarth,terrestrial\nJupiter,Gas Giant\n")
    objects = build_catalog(SimulationSettings(), tmp_path).objects
    planets = objects[objects["Object_Type"] == "Planet"]
    assert planets["Object_ID"].tolist() == [1, 2]  # row order, as seed 000
    assert planets["Category"].tolist() == ["Terrestrial", "GasGiant"]
    assert (planets["Duration_Sec"] > 0).all()


def test_bad_rows_are_quarantined_with_line_and_column(tmp_path: Path):
    (tmp_path / "moons.csv").write_text(
        "Object_ID,Name,Parent_Body,Duration_Sec\n1,Moon,Earth,60\nx,Phobos,Mars,30\n1,Deimos,Mars,30\n4,Io,Jupiter,-5\n5,Europa,Jupiter,40\n"
    )
    catalog = build_catalog(SimulationSettings(), tmp_path)
    moons = catalog.objects[catalog.objects["Object_Type"] == "Moon"]
    assert moons["Name"].tolist() == ["Moon", "Europa"]
    rejected = catalog.quarantined["moons.csv"]
    assert list(rejected.columns) == ["Object_ID", "Name", "Parent_Body", "Duration_Sec", "reason"]
    assert rejected["reason"].tolist() == [
        "line 3: Object_ID 'x' is not a positive integer",
        "line 4: Object_ID '1' repeats line 2",
        "line 5: Duration_Sec '-5' is not a positive number of seconds",
    ]
    assert len(moons) + len(rejected) == 5  # nothing lost


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00garbage\x00", b"Object_ID,Name\n"])
def test_unusable_file_names_the_file(tmp_path: Path, content: bytes):
    path = tmp_path / "stars.csv"
    path.write_bytes(content)
    with pytest.raises(CatalogError, match=str(path)):
        build_catalog(SimulationSettings(), tmp_path)


def test_file_without_usable_rows_is_an_error(tmp_path: Path):
    (tmp_path / "stars.csv").write_text("Object_ID,Name\nabc,Nowhere\n")
    with pytest.raises(CatalogError, match="no usable rows"):
        build_catalog(SimulationSettings(), tmp_path)


def test_objects_frame_round_trips_through_csv(tmp_path: Path):
    from poppy_pipeline.common import tables

    objects = build_catalog(SimulationSettings(num_stars=5, num_planets=5, num_moons=5), None).objects
    tables.write_csv(objects, tmp_path / "objects.csv")
    pd.testing.assert_frame_equal(tables.read_csv(tmp_path / "objects.csv"), objects, check_dtype=False)
