"""The engine's 21 categories and the category of each catalog object."""

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from poppy_pipeline.preferences.categories import (
    ENGINE_CATEGORIES,
    ENGINE_COLUMNS,
    TYPE_CATEGORIES,
    category_code,
    category_codes,
)

ENGINE_FILE_HEADER = (
    "User_ID,A,B,F,G,K,M,O,Dwarf Planet,Gas Giant,Ice Giant,Terrestrial,"
    "Earth,Eris,Haumea,Jupiter,Makemake,Mars,Neptune,Pluto,Saturn,Uranus"
)


def test_the_columns_are_the_engine_s_in_its_order():
    assert ",".join(ENGINE_COLUMNS) == ENGINE_FILE_HEADER
    assert sum(len(codes) for codes in TYPE_CATEGORIES.values()) == len(ENGINE_CATEGORIES) == 21


def test_catalog_categories_map_to_the_engine_s_whatever_their_spelling():
    objects = pd.DataFrame(
        {
            "Object_Type": ["Star", "Star", "Planet", "Planet", "Planet", "Moon", "Moon", "Moon", "Star"],
            "Category": ["G", "O", "GasGiant", "Gas Giant", "dwarf_planet", "Jupiter", "HD 1 b", "pluto", "Unknown"],
        }
    )
    codes = category_codes(objects).tolist()
    names = [ENGINE_CATEGORIES[c] if c >= 0 else None for c in codes]
    assert names == ["G", "O", "Gas Giant", "Gas Giant", "Dwarf Planet", "Jupiter", None, "Pluto", None]


@given(st.sampled_from(["Star", "Planet", "Moon"]), st.text(max_size=12))
def test_a_category_belongs_to_its_own_type_or_to_none(object_type, text):
    code = category_code(object_type, text)
    assert code == -1 or code in TYPE_CATEGORIES[object_type]
