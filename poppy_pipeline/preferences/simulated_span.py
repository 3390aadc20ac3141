"""A span simulated for the preference assets when the app's database holds too few Likes and ratings.

The back end serves its cached, simulated predictions then; with `when_too_few: simulate` these assets
do the same from the pipeline's own simulation: the fallback settings (`sources/fallback.py`), the
database's catalog, and every simulated user signed up on the span's first day, so the span has
their traffic. The truth comes with it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd

from poppy_pipeline.preferences.evidence import Evidence, EvidenceBuilder
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.tastes import true_preferences


def simulated_evidence(
    settings: SimulationSettings, objects: pd.DataFrame, days: list[str], held_out_days: int, seed: int
) -> tuple[Evidence, pd.DataFrame]:
    """The evidence of the span simulated day by day, and the simulated users' true preferences."""
    settings = replace(settings, signup_start=days[0], signup_end=days[0], founding_user_share=0.0)
    users = generate_users(settings)
    model = build_model(settings, objects, users)
    builder = EvidenceBuilder(users, objects, days, held_out_days, seed)
    for day in days:
        builder.add_day(simulate_day(model, date.fromisoformat(day)), day)
    return builder.evidence(), true_preferences(settings, users)
