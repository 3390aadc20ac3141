"""A log's own event types through the simulation and back (`interaction_type_labels`).

The simulation draws its four types (View, Click, Favorite, Rate); a fitted world of a log with
other types (seed 002's impression, view, like, comment, share, follow_creator) labels each
simulated event with one of the log types of its simulated type, in the log's shares within it
(`interaction_type_label_weights`). So a regenerated log has the log's six types, and
`simulation_types` maps them back for what measures the simulation's own four.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from poppy_pipeline.common.randomness import stream
from poppy_pipeline.simulation.settings import INTERACTION_TYPES, SimulationSettings


def label_categories(settings: SimulationSettings) -> list[str]:
    """The log's types, then the simulation's types that no log type stands for."""
    labels = list(settings.interaction_type_labels)
    covered = set(settings.interaction_type_labels.values())
    return labels + [kind for kind in INTERACTION_TYPES if kind not in covered]


def labelled_types(settings: SimulationSettings, day: date, kinds: np.ndarray) -> pd.Categorical[str]:
    """Each event's type: its simulated type (codes into INTERACTION_TYPES), or one of the log's."""
    if not settings.interaction_type_labels:
        return pd.Categorical.from_codes(kinds, categories=pd.Index(INTERACTION_TYPES))
    categories = label_categories(settings)
    uniforms = stream(settings.seed, "interactions:type_label", day).random(len(kinds))
    codes = np.empty(len(kinds), dtype=np.int64)
    for code, kind in enumerate(INTERACTION_TYPES):
        mine = np.flatnonzero(kinds == code)
        labels = [i for i, label in enumerate(categories) if settings.interaction_type_labels.get(label) == kind]
        if not labels:
            codes[mine] = categories.index(kind)
            continue
        cdf = np.cumsum([settings.interaction_type_label_weights[categories[i]] for i in labels])
        picks = np.minimum(np.searchsorted(cdf, uniforms[mine] * cdf[-1], side="right"), len(labels) - 1)
        codes[mine] = np.asarray(labels)[picks]
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories))


def simulation_types(settings: SimulationSettings | None, types: pd.Series) -> pd.Series:
    """The simulation's type of each event (a log type mapped back; the others as they are)."""
    if settings is None or not settings.interaction_type_labels:
        return types
    mapping = {kind: kind for kind in INTERACTION_TYPES} | dict(settings.interaction_type_labels)
    return types.astype(str).map(mapping).fillna(types.astype(str))
