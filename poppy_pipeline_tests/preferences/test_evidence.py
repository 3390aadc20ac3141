"""A span's events per user and category, added up one day at a time."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from poppy_pipeline.preferences.categories import ENGINE_CATEGORIES
from poppy_pipeline.preferences.evidence import EVENT_WEIGHTS, SLICES, EvidenceBuilder, catalog_exposure

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]
OBJECTS = pd.DataFrame(
    {
        "Object_Type": ["Star", "Star", "Planet", "Moon", "Moon"],
        "Object_ID": [1, 2, 1, 1, 2],
        "Name": ["s1", "s2", "p1", "m1", "m2"],
        "Category": ["G", "K", "GasGiant", "Saturn", "HD 1 b"],
        "Duration_Sec": [60, 60, 60, 60, 60],
    }
)
USERS = pd.DataFrame({"User_ID": [1, 2, 3]})


def events(rows: list[tuple]) -> pd.DataFrame:
    """(day, user, type, id, kind, rating) rows as interactions."""
    frame = pd.DataFrame(rows, columns=["day", "User_ID", "Object_Type", "Object_ID", "Interaction_Type", "rating"])
    return pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, len(frame) + 1),
            "User_ID": frame["User_ID"],
            "Object_Type": frame["Object_Type"],
            "Object_ID": frame["Object_ID"],
            "Interaction_Type": frame["Interaction_Type"],
            "Interaction_Rating": pd.array(frame["rating"], dtype="Int64"),
            "Timestamp": pd.to_datetime(frame["day"]) + pd.Timedelta(hours=12),
        }
    )


ROWS = [
    ("2026-03-01", 1, "Star", 1, "View", None),
    ("2026-03-01", 1, "Star", 1, "Favorite", None),
    ("2026-03-01", 1, "Star", 2, "Rate", 2),
    ("2026-03-02", 1, "Star", 2, "Rate", 5),
    ("2026-03-02", 2, "Moon", 1, "Click", None),
    ("2026-03-02", 2, "Moon", 2, "View", None),  # no engine category
    ("2026-03-03", 1, "Planet", 1, "Favorite", None),  # held out
    ("2026-03-03", 2, "Moon", 1, "Rate", 4),  # held out, a high rating
    ("2026-03-03", 3, "Star", 2, "Rate", 1),  # held out, a low rating
]


def built(rows=ROWS, order=DAYS) -> object:
    builder = EvidenceBuilder(USERS, OBJECTS, DAYS, held_out_days=1, seed=7)
    frame = events(rows)
    for day in order:
        builder.add_day(frame[frame["Timestamp"].dt.strftime("%Y-%m-%d") == day], day)
    return builder.evidence()


def column(name: str) -> int:
    return ENGINE_CATEGORIES.index(name)


def test_weighted_events_held_out_likes_and_the_back_end_s_strengths():
    evidence = built()
    assert evidence.user_ids.tolist() == [1, 2, 3]
    assert evidence.events == 9 and evidence.outside_categories == 1
    assert evidence.fitting_days == DAYS[:2] and evidence.held_out_days == DAYS[2:]
    fitting = evidence.fitting
    assert fitting[0, column("G")] == EVENT_WEIGHTS["View"] + EVENT_WEIGHTS["Favorite"]
    assert fitting[0, column("K")] == 2 * EVENT_WEIGHTS["Rate"]
    assert fitting[1, column("Saturn")] == EVENT_WEIGHTS["Click"]
    assert fitting.sum() == 8.0  # the five fitting events on categories: 1 + 2 + 2 + 2 + 1
    assert evidence.recent.sum(axis=2)[0, column("Gas Giant")] == EVENT_WEIGHTS["Favorite"]
    assert evidence.held_out_likes[0, column("Gas Giant")] == 1 and evidence.held_out_likes[1, column("Saturn")] == 1
    assert evidence.held_out_likes[2].sum() == 0  # a 1-star rating is no Like
    assert evidence.strongest[0, column("G")] == 1 and evidence.strongest[0, column("K")] == 5
    assert evidence.strongest[1].sum() == 0 and evidence.strongest[2].sum() == 0  # held-out days are not fitted
    users, categories, strengths = evidence.like_rows
    assert sorted(zip(users.tolist(), categories.tolist(), strengths.tolist(), strict=True)) == [
        (0, column("G"), 1.0),
        (0, column("K"), 2.0),
        (0, column("K"), 5.0),
    ]


def test_the_catalog_s_exposure():
    exposure = catalog_exposure(OBJECTS)
    assert exposure[column("G")] == exposure[column("Saturn")] == 0.25 and exposure.sum() == 1.0


@settings(max_examples=25, deadline=None)
@given(st.permutations(DAYS), st.lists(st.integers(0, len(ROWS) - 1), min_size=1, max_size=30))
def test_days_in_any_order_give_the_same_evidence(order, picks):
    rows = [ROWS[i] for i in picks]
    first, second = built(rows, DAYS), built(rows, list(order))
    assert first.user_ids.tolist() == second.user_ids.tolist()
    for name in ("slices", "recent", "held_out_likes", "strongest"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert first.slices.shape[2] == SLICES
    on_categories = [r for r in rows if (r[2], r[3]) != ("Moon", 2)]
    assert np.isclose(first.everything.sum(), sum(EVENT_WEIGHTS[r[4]] for r in on_categories))
