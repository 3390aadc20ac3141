"""Users' true tastes over the engine's 21 categories, and the choices, Likes and ratings that follow them."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poppy_pipeline.preferences.categories import (
    CATEGORY_TYPE,
    ENGINE_CATEGORIES,
    ENGINE_COLUMNS,
    MOON_PARENTS,
    category_codes,
)
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import OBJECT_TYPES, SimulationSettings
from poppy_pipeline.simulation.taste_choices import SEGMENTS, SLOT_TYPE, draw_slots, segment_cdf
from poppy_pipeline.simulation.tastes import true_preferences
from poppy_pipeline_tests.conftest import make_model, simulate_window

MANY = SimulationSettings(num_users=20_000, seed=3)
STABLE = SimulationSettings(num_users=1_000, interactions_per_day=10 * 10_000 / 30, seed=8)
NEUTRAL = {"taste_choice_strength": 0.0, "taste_like_strength": 0.0, "taste_favourite_strength": 0.0}


@pytest.fixture(scope="module")
def many_truths() -> tuple[pd.DataFrame, pd.DataFrame]:
    users = generate_users(MANY)
    return users, true_preferences(MANY, users)


def test_truth_table_has_the_engine_columns_and_values_0_to_10(many_truths):
    users, truth = many_truths
    assert truth.columns.tolist() == ENGINE_COLUMNS
    assert truth["User_ID"].tolist() == users["User_ID"].tolist()
    values = truth[list(ENGINE_CATEGORIES)].to_numpy()
    assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 10
    assert true_preferences(MANY, users).equals(truth)  # the seed decides
    assert not true_preferences(SimulationSettings(num_users=20_000, seed=4), users).equals(truth)


def test_a_few_categories_loved_most_near_indifference(many_truths):
    _, truth = many_truths
    values = truth[list(ENGINE_CATEGORIES)].to_numpy()
    loved = (values >= 8).sum(axis=1)
    assert 1.5 < loved.mean() < 3.0
    assert ((loved >= 1) & (loved <= 5)).mean() > 0.95
    assert ((values > 3) & (values < 7)).mean() > 0.70


def test_preferences_correlate_within_a_type_more_than_across(many_truths):
    _, truth = many_truths
    correlation = np.corrcoef(truth[list(ENGINE_CATEGORIES)].to_numpy(), rowvar=False)
    types = np.array(CATEGORY_TYPE)
    same = types[:, None] == types[None, :]
    off_diagonal = ~np.eye(len(types), dtype=bool)
    assert correlation[same & off_diagonal].mean() > 0.1 > correlation[~same].mean()


def test_the_preferred_type_is_folded_in(many_truths):
    users, truth = many_truths
    for object_type in OBJECT_TYPES:
        columns = [c for c, t in zip(ENGINE_CATEGORIES, CATEGORY_TYPE, strict=True) if t == object_type]
        mean = truth[columns].mean(axis=1)
        prefers = (users["Preferred_Type"] == object_type).to_numpy()
        others = users["Preferred_Type"].isna().to_numpy()
        assert mean[prefers].mean() > mean[others].mean() + 0.5, object_type


def test_the_generated_catalog_speaks_the_engine_s_categories():
    objects = build_catalog(SimulationSettings(), None).objects
    codes = category_codes(objects)
    assert (codes >= 0).all()
    assert set(codes) == set(range(len(ENGINE_CATEGORIES)))  # every category has objects
    assert set(objects.loc[objects["Object_Type"] == "Moon", "Category"]) == set(MOON_PARENTS)
    planets = objects[objects["Object_Type"] == "Planet"].set_index("Name")["Category"]
    assert planets[list(MOON_PARENTS)].to_dict()["Jupiter"] == "GasGiant" and planets["Pluto"] == "DwarfPlanet"


def per_user_lift_correlation(world_settings: SimulationSettings, kinds: tuple[str, ...]) -> float:
    """Mean over users of corr(log events per object of each category, true preference)."""
    model, objects, users = make_model(world_settings)
    window = simulate_window(model)
    truth = true_preferences(world_settings, users)[list(ENGINE_CATEGORIES)].to_numpy()
    codes = pd.Series(category_codes(objects), index=pd.MultiIndex.from_frame(objects[["Object_Type", "Object_ID"]]))
    window = window[window["Interaction_Type"].isin(kinds)]
    category = codes.reindex(pd.MultiIndex.from_frame(window[["Object_Type", "Object_ID"]])).to_numpy()
    counts = np.zeros(truth.shape)
    np.add.at(counts, (window["User_ID"].to_numpy() - 1, category), 1.0)
    per_object = np.log((counts + 0.5) / np.bincount(category_codes(objects), minlength=len(ENGINE_CATEGORIES)))
    busy = counts.sum(axis=1) >= 30
    a = per_object[busy] - per_object[busy].mean(axis=1, keepdims=True)
    b = truth[busy] - truth[busy].mean(axis=1, keepdims=True)
    return float(((a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))).mean())


@pytest.mark.slow
def test_choices_follow_tastes_and_likes_follow_them_closer():
    views = per_user_lift_correlation(STABLE, ("View", "Click"))
    likes = per_user_lift_correlation(STABLE, ("Favorite", "Rate"))
    assert 0.3 < views < likes
    # Without tastes, choices say nothing of them (but a Preferred_Type, which the truth folds in).
    neutral = SimulationSettings(**(STABLE.to_dict() | NEUTRAL | {"preferred_type_user_share": 0.0}))
    assert abs(per_user_lift_correlation(neutral, ("View", "Click"))) < 0.08


def test_ratings_are_higher_in_loved_categories_and_keep_each_user_s_mean():
    model, objects, users = make_model(STABLE)
    window = simulate_window(model)
    rated = window[window["Interaction_Type"] == "Rate"]
    truth = true_preferences(STABLE, users)[list(ENGINE_CATEGORIES)].to_numpy()
    codes = pd.Series(category_codes(objects), index=pd.MultiIndex.from_frame(objects[["Object_Type", "Object_ID"]]))
    category = codes.reindex(pd.MultiIndex.from_frame(rated[["Object_Type", "Object_ID"]])).to_numpy()
    preference = truth[rated["User_ID"].to_numpy() - 1, category]
    stars = rated["Interaction_Rating"].to_numpy(dtype=float)
    assert stars[preference >= 8].mean() > stars[(preference > 3) & (preference < 7)].mean() + 0.1
    user_mean = rated.groupby("User_ID")["Interaction_Rating"].mean()
    bias = users.set_index("User_ID")["Rating_Bias"].reindex(user_mean.index)
    assert np.corrcoef(user_mean.to_numpy(dtype=float), bias.to_numpy())[0, 1] > 0.5


@settings(max_examples=60, deadline=None)
@given(
    log_odds=st.lists(st.floats(-6, 6), min_size=len(SLOT_TYPE), max_size=len(SLOT_TYPE)),
    empty=st.lists(st.booleans(), min_size=len(SLOT_TYPE), max_size=len(SLOT_TYPE)),
    uniforms=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=40),
)
def test_category_draws_stay_in_their_type_and_never_pick_an_empty_category(log_odds, empty, uniforms):
    mass = np.where(empty, 0.0, 1.0)
    for t in range(len(OBJECT_TYPES)):  # every type keeps a category with objects
        mass[SEGMENTS[t + 1] - 1] = 1.0
    weights = mass * np.exp(np.array(log_odds))[None, :]
    totals = np.add.reduceat(weights, SEGMENTS[:-1], axis=1)
    cdf = segment_cdf(weights / totals[:, SLOT_TYPE])
    draws = np.array(uniforms)
    for t in range(len(OBJECT_TYPES)):
        slots = draw_slots(cdf, np.zeros(len(draws), dtype=np.int64), np.full(len(draws), t), draws)
        assert ((slots >= SEGMENTS[t]) & (slots < SEGMENTS[t + 1])).all()
        assert (mass[slots] > 0).all()
