"""Engagement scores and the trending export, against the formulas worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.engagement.scores import ENGAGEMENT_COLUMNS, TRENDING_COLUMNS, engagement_scores, trending_objects
from poppy_pipeline.sources.log_files import PINGS, POPPY

OBJECTS = pd.DataFrame(
    {
        "Object_Type": ["Star", "Star", "Moon"],
        "Object_ID": [1, 2, 1],
        "Name": ["a", "b", "c"],
        "Category": ["G", "K", "x"],
        "Duration_Sec": [60.0, 100.0, 40.0],
    }
)


def events(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["User_ID", "Object_Type", "Object_ID", "Interaction_Type", "Watch_Time_Sec", "Timestamp"]
    )
    frame["Timestamp"] = pd.to_datetime(frame["Timestamp"]).astype("datetime64[s]")
    frame["Watch_Time_Sec"] = frame["Watch_Time_Sec"].astype("Int64")
    frame["Interaction_ID"] = np.arange(1, len(frame) + 1)
    return frame


def test_pair_scores_follow_the_formula():
    log = events(
        [
            (7, "Star", 1, "View", 30, "2026-11-01 10:00:00"),  # 0.2 + 30/60
            (7, "Star", 1, "Click", None, "2026-11-03 09:00:00"),  # 0.5 + 0 (no watch time)
            (7, "Star", 1, "View", 90, "2026-11-02 08:00:00"),  # 0.2 + min(90/60, 1)
            (8, "Moon", 1, "Favorite", None, "2026-11-04 12:00:00"),  # 2.0
            (7, "Star", 2, "Rate", None, "2026-11-05 12:00:00"),  # 1.5
        ]
    )
    scores = engagement_scores(log.sample(frac=1, random_state=1), OBJECTS, POPPY.event_weights)
    assert list(scores.columns) == ENGAGEMENT_COLUMNS
    first = scores.iloc[0]
    assert (first["User_ID"], first["Object_Type"], first["Object_ID"]) == (7, "Star", 1)
    assert first["n_events"] == 3
    assert first["engagement_score"] == pytest.approx(0.2 + 0.5 + 0.5 + 0.2 + 1.0)
    assert first["watch_time_sec"] == 120
    assert first["watch_time_ratio"] == 1.0  # 120 s of a 60 s object, clipped
    assert first["last_interaction"] == pd.Timestamp("2026-11-03 09:00:00")
    assert scores.set_index(["User_ID", "Object_Type", "Object_ID"]).loc[(8, "Moon", 1), "engagement_score"] == 2.0
    assert len(scores) == 3


def test_matches_an_independent_groupby_on_random_data():
    rng = np.random.default_rng(4)
    n = 5_000
    objects = pd.DataFrame(
        {
            "Object_Type": np.repeat(["Star", "Planet"], 50),
            "Object_ID": np.tile(np.arange(1, 51), 2),
            "Name": "x",
            "Category": "y",
            "Duration_Sec": rng.integers(10, 300, 100).astype(float),
        }
    )
    picked = objects.sample(n, replace=True, random_state=3).reset_index(drop=True)
    kinds = rng.choice(list(POPPY.event_weights), n)
    log = pd.DataFrame(
        {
            "Interaction_ID": np.arange(n),
            "User_ID": rng.integers(1, 40, n),
            "Object_Type": picked["Object_Type"],
            "Object_ID": picked["Object_ID"],
            "Interaction_Type": kinds,
            "Watch_Time_Sec": pd.array(np.where(kinds == "View", rng.integers(0, 400, n), -1), dtype="Int64"),
            "Timestamp": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        }
    )
    log.loc[log["Watch_Time_Sec"] < 0, "Watch_Time_Sec"] = pd.NA
    merged = log.merge(objects[["Object_Type", "Object_ID", "Duration_Sec"]], on=["Object_Type", "Object_ID"])
    ratio = (merged["Watch_Time_Sec"].astype(float) / merged["Duration_Sec"]).fillna(0).clip(0, 1)
    merged["score"] = merged["Interaction_Type"].map(POPPY.event_weights) + ratio
    expected = merged.groupby(["User_ID", "Object_Type", "Object_ID"]).agg(
        n_events=("score", "size"), engagement_score=("score", "sum"), last=("Timestamp", "max")
    )
    got = engagement_scores(log, objects, POPPY.event_weights).set_index(["User_ID", "Object_Type", "Object_ID"])
    got = got.loc[expected.index]
    assert (got["n_events"].to_numpy() == expected["n_events"].to_numpy()).all()
    np.testing.assert_allclose(got["engagement_score"], expected["engagement_score"], rtol=1e-12)
    assert (got["last_interaction"].to_numpy() == expected["last"].to_numpy()).all()


def test_large_catalogs_take_the_sorted_path_with_the_same_result(monkeypatch):
    from poppy_pipeline.engagement import scores as engagement

    rng = np.random.default_rng(9)
    objects = pd.DataFrame(
        {
            "Object_Type": "Ping",
            "Object_ID": [f"p{i}" for i in range(300)],
            "Name": "",
            "Category": "",
            "Duration_Sec": 30.0,
        }
    )
    n = 2_000
    log = pd.DataFrame(
        {
            "Interaction_ID": np.arange(n),
            "User_ID": rng.choice([f"u{i}" for i in range(500)], n),
            "Object_Type": "Ping",
            "Object_ID": rng.choice(objects["Object_ID"], n),
            "Interaction_Type": rng.choice(list(PINGS.event_weights), n),
            "Watch_Time_Sec": rng.integers(0, 40, n),
            "Timestamp": pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        }
    )
    dense = engagement_scores(log, objects, PINGS.event_weights)
    monkeypatch.setattr(engagement, "BLOCK_CELLS", 64)  # forces sparse blocks: the sorted path
    sorted_path = engagement_scores(log, objects, PINGS.event_weights)
    pd.testing.assert_frame_equal(dense, sorted_path)


def test_unknown_event_type_is_an_error():
    log = events([(1, "Star", 1, "Poke", None, "2026-11-01")])
    with pytest.raises(ValueError, match="Poke"):
        engagement_scores(log, OBJECTS, POPPY.event_weights)


def test_seed_002_weights_apply_to_short_video_logs():
    assert PINGS.event_weights == {
        "impression": 0.0,
        "view": 0.2,
        "like": 1.0,
        "comment": 1.5,
        "share": 2.0,
        "follow_creator": 2.5,
    }


def test_trending_export_columns_scale_decay_and_top_n():
    as_of = pd.Timestamp("2026-11-22")
    log = events(
        [
            # Star 1 and Star 2 get the same engagement, Star 2's a half-life (7 days) earlier.
            (1, "Star", 1, "Favorite", None, "2026-11-21 12:00:00"),
            (1, "Star", 2, "Favorite", None, "2026-11-14 12:00:00"),
            (2, "Moon", 1, "View", 20, "2026-11-21 12:00:00"),
            (2, "Moon", 1, "Click", None, "2026-11-21 13:00:00"),
        ]
    )
    trending = trending_objects(
        log, OBJECTS, POPPY.event_weights, POPPY.trending_roles, as_of, half_life_days=7, top_n=5
    )
    assert list(trending.columns) == TRENDING_COLUMNS
    by_key = trending.set_index(["Object_Type", "Object_ID"])
    assert by_key["trending_score"].max() == 100
    assert by_key.loc[("Star", 2), "trending_score"] == pytest.approx(
        by_key.loc[("Star", 1), "trending_score"] / 2, abs=0.01
    )
    assert by_key.loc[("Moon", 1), ["total_interactions", "num_views", "num_clicks", "num_favorites"]].tolist() == [
        2,
        1,
        1,
        0,
    ]
    assert trending["trending_score"].between(0, 100).all()
    only_one = trending_objects(log, OBJECTS, POPPY.event_weights, POPPY.trending_roles, as_of, 7, top_n=1)
    assert only_one.groupby("Object_Type").size().to_dict() == {"Moon": 1, "Star": 1}
    assert only_one.set_index("Object_Type").loc["Star", "Object_ID"] == 1  # the more recent one


@pytest.mark.parametrize(("half_life", "top_n"), [(0, 5), (7, 0)])
def test_trending_rejects_bad_settings(half_life, top_n):
    log = events([(1, "Star", 1, "View", 5, "2026-11-01")])
    with pytest.raises(ValueError, match="half_life_days"):
        trending_objects(
            log, OBJECTS, POPPY.event_weights, POPPY.trending_roles, pd.Timestamp("2026-11-02"), half_life, top_n
        )
