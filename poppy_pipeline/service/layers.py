"""The layers the back end asks for: each one's published file, its declared columns and its assets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from poppy_pipeline.engagement.engine_exports import LAYER_2_COLUMNS, LAYER_2_FILE, LAYER_3_FILE, LAYER_4_FILE
from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES, USER_COLUMN

# The asset that publishes Layer 2's file after `trending_objects`; Layers 3 and 4 publish their own.
ENGINE_EXPORTS = "engine_exports"


class Kind(Enum):
    """How a column's values appear in `data` (as the old service's pandas records did)."""

    TEXT = "text"  # a JSON string
    ID = "id"  # a JSON integer when every value of the column is a plain integer, else the text
    INTEGER = "integer"  # a JSON integer
    NUMBER = "number"  # a JSON number, written as the file writes it


@dataclass(frozen=True)
class Layer:
    number: int
    file_name: str
    columns: tuple[tuple[str, Kind], ...]
    assets: tuple[str, ...]  # the layer's own assets; a run adds what they need upstream
    # The back end's own bar for `run`, rows of its Interactions in the run's span: Layer 2's counts
    # every row (the interaction_source's bar), Layers 3 and 4's only Likes and ratings (their asset's).
    min_real_interactions: int
    bar_owner: str | None = None  # the asset whose config holds the bar; None: the interaction_source
    publisher: str | None = None  # the asset run after `assets` that writes the file; None: they write it

    @property
    def selected(self) -> list[str]:
        """The assets a run names; it adds what they need upstream (not what the publisher needs)."""
        return [*self.assets, *([self.publisher] if self.publisher else [])]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


# The Layer 3 and 4 files: `User_ID`, then a 0-10 preference for each of the engine's 21 categories.
_PREFERENCES = ((USER_COLUMN, Kind.ID), *((category, Kind.NUMBER) for category in ENGINE_CATEGORIES))
_LAYER_2_KINDS = {"Object_Type": Kind.TEXT, "Object_ID": Kind.ID, "trending_score": Kind.NUMBER}

LAYERS: dict[int, Layer] = {
    2: Layer(
        number=2,
        file_name=LAYER_2_FILE,
        columns=tuple((name, _LAYER_2_KINDS.get(name, Kind.INTEGER)) for name in LAYER_2_COLUMNS),
        assets=("trending_objects",),
        min_real_interactions=300,
        publisher=ENGINE_EXPORTS,
    ),
    3: Layer(
        number=3,
        file_name=LAYER_3_FILE,
        columns=_PREFERENCES,
        assets=("category_preferences_mf",),
        min_real_interactions=500,
        bar_owner="category_preferences_mf",
    ),
    4: Layer(
        number=4,
        file_name=LAYER_4_FILE,
        columns=_PREFERENCES,
        assets=("category_preferences_nn",),
        min_real_interactions=500,
        bar_owner="category_preferences_nn",
    ),
}
