"""The per-day accumulator gives what measuring the concatenated span gives, pattern by pattern.

The reference is the measure as it was (`pattern_reference.py`, on the concatenation); the
accumulator takes the same days one at a time, in date order and shuffled. Windows of several
seeds and lengths, and broken ones: empty days, no ratings, IDs repeated across days, unknown
objects and users, activity before sign-up, days read back from CSV with the real-log dtypes.
"""

import dataclasses
import io
import math
import random
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common import tables
from poppy_pipeline.simulation import patterns
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.pattern_results import MEASURES
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.span_patterns import SpanPatterns
from poppy_pipeline_tests.conftest import make_model
from poppy_pipeline_tests.support import pattern_reference as reference

EXPECTED_REPEATS = 0.4
EXPECTED_EVENTS = 10_000.0
BIGGER = {"num_users": 2_000, "interactions_per_day": 8_000}


def measured_at_once(settings, span: pd.DataFrame, users, objects, check_signup: bool = True) -> dict:
    return reference.measure_span(span, settings, users, objects, EXPECTED_REPEATS, check_signup)


def measured_by_day(settings, days: list[pd.DataFrame], users, objects, check_signup: bool = True) -> dict:
    accumulator = SpanPatterns(settings, users, objects)
    for day in days:
        accumulator.add_day(day)
    return accumulator.results(EXPECTED_REPEATS, check_signup=check_signup, expected_events=EXPECTED_EVENTS)


def measured_by_wrappers(settings, span: pd.DataFrame, users, objects) -> dict:
    return reference.measure_span(span, settings, users, objects, EXPECTED_REPEATS, measures=patterns)


def plain(value):
    """A result's fields as plain Python (numpy scalars unwrapped, NaN comparable)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def assert_same(expected: dict, got: dict) -> None:
    assert list(got) == list(MEASURES) and list(expected) == list(MEASURES)
    for name in MEASURES:
        assert plain(dataclasses.asdict(got[name])) == plain(dataclasses.asdict(expected[name])), name


def concatenated(days: list[pd.DataFrame]) -> pd.DataFrame:
    """The span as the asset made it: the non-empty days end to end."""
    frames = [day for day in days if len(day)]
    return pd.concat(frames, ignore_index=True) if frames else days[0]


def assert_accumulates_like_the_concatenation(settings, days, users, objects, check_signup: bool = True) -> None:
    span = concatenated(days)
    expected = measured_at_once(settings, span, users, objects, check_signup)
    assert_same(expected, measured_by_day(settings, days, users, objects, check_signup))
    shuffled = list(days)
    random.Random(len(days)).shuffle(shuffled)
    assert_same(expected, measured_by_day(settings, shuffled, users, objects, check_signup))
    if check_signup:
        assert_same(expected, measured_by_wrappers(settings, span, users, objects))


def simulated_days(seed: int, start: date, length: int, **overrides):
    settings = SimulationSettings(seed=seed, **overrides)
    model, objects, users = make_model(settings)
    return settings, [simulate_day(model, start + timedelta(days=d)) for d in range(length)], users, objects


@pytest.mark.parametrize(
    ("seed", "start", "length"),
    [
        (1, date(2025, 10, 1), 30),  # the first weeks of sign-ups: 20-40 users
        (2, date(2026, 3, 1), 30),
        (3, date(2026, 11, 1), 7),
        (42, date(2027, 6, 1), 30),
        (7, date(2026, 6, 1), 1),
    ],
)
def test_simulated_spans(seed, start, length):
    settings, days, users, objects = simulated_days(seed, start, length)
    assert_accumulates_like_the_concatenation(settings, days, users, objects)


def test_a_bigger_population():
    settings, days, users, objects = simulated_days(5, date(2026, 10, 1), 10, **BIGGER)
    assert_accumulates_like_the_concatenation(settings, days, users, objects)


@pytest.fixture(scope="module")
def month():
    return simulated_days(11, date(2026, 9, 1), 12)


def test_empty_days_count_for_nothing(month):
    settings, days, users, objects = month
    empty = days[0].iloc[:0]
    assert_accumulates_like_the_concatenation(settings, [empty, *days[:4], empty, *days[4:]], users, objects)
    assert_accumulates_like_the_concatenation(settings, [empty, empty], users, objects)


def test_a_span_without_ratings(month):
    settings, days, users, objects = month
    unrated = [day[day["Interaction_Type"] != "Rate"].reset_index(drop=True) for day in days]
    assert_accumulates_like_the_concatenation(settings, unrated, users, objects)
    assert measured_by_day(settings, unrated, users, objects)["rating_bias_correlation"].not_applicable


def test_interaction_ids_repeated_within_and_across_days(month):
    settings, days, users, objects = month
    broken = [day.copy() for day in days]
    broken[5].loc[:9, "Interaction_ID"] = days[2]["Interaction_ID"].iloc[:10].to_numpy()  # across days
    broken[6].loc[3, "Interaction_ID"] = broken[6].loc[4, "Interaction_ID"]  # within a day
    broken[7]["Interaction_ID"] = broken[7]["Interaction_ID"].to_numpy()[::-1]  # out of order, still unique
    assert_accumulates_like_the_concatenation(settings, broken, users, objects)
    assert measured_by_day(settings, broken, users, objects)["integrity"].details["duplicate_interaction_ids"] == 11


def test_text_and_missing_interaction_ids(month):
    settings, days, users, objects = month
    text = [day.assign(Interaction_ID=day["Interaction_ID"].astype(str)) for day in days[:4]]
    text[3].loc[0, "Interaction_ID"] = text[1].loc[0, "Interaction_ID"]
    with_gaps = [day.assign(Interaction_ID=day["Interaction_ID"].astype(float)) for day in days[4:8]]
    for day in with_gaps[:2]:
        day.loc[:2, "Interaction_ID"] = np.nan
    assert_accumulates_like_the_concatenation(settings, text, users, objects)
    assert_accumulates_like_the_concatenation(settings, with_gaps + days[8:], users, objects)


def test_unknown_and_missing_objects_and_users(month):
    settings, days, users, objects = month
    broken = [day.copy() for day in days]
    broken[1].loc[:4, "Object_ID"] = 10_000  # not in the catalog, twice the same pair on two days
    stars = objects.loc[objects["Object_Type"] == "Star", "Object_ID"]
    broken[1].loc[5:9, ["Object_Type", "Object_ID"]] = ["Star", stars.max() + 1]  # just past the stars
    broken[3].loc[:4, "Object_ID"] = 10_000
    broken[3]["Object_Type"] = broken[3]["Object_Type"].astype(object)
    broken[3].loc[5:7, "Object_Type"] = "Comet"
    broken[3].loc[8, "Object_Type"] = None
    broken[4]["Object_ID"] = broken[4]["Object_ID"].astype(float)
    broken[4].loc[:3, "Object_ID"] = np.nan
    for index in (2, 8):  # an unknown user with enough ratings to enter the correlation
        broken[index].loc[:, "User_ID"] = broken[index]["User_ID"].where(broken[index].index % 3 > 0, 99_999)
    for index in (9, 10, 11):  # missing users, with ratings (a groupby leaves them out)
        broken[index]["User_ID"] = broken[index]["User_ID"].where(broken[index].index % 2 > 0)
    assert_accumulates_like_the_concatenation(settings, broken, users, objects)
    assert not measured_by_day(settings, broken, users, objects)["integrity"].passed


def test_users_acting_before_signing_up():
    settings, days, users, objects = simulated_days(4, date(2025, 10, 5), 10)
    latest = users.loc[users["Signup_Date"].astype(str).idxmax(), "User_ID"]
    early = [day.copy() for day in days]
    early[0].loc[:5, "User_ID"] = latest
    assert_accumulates_like_the_concatenation(settings, early, users, objects)
    assert_accumulates_like_the_concatenation(settings, early, users, objects, check_signup=False)
    by_day = measured_by_day(settings, early, users, objects)
    assert by_day["integrity"].details["events_before_signup"] >= 6


def read_back(day: pd.DataFrame) -> pd.DataFrame:
    return tables.read_csv(io.BytesIO(day.to_csv(index=False).encode()))


def test_days_read_back_with_a_real_logs_dtypes(month):
    settings, days, users, objects = month
    read = [read_back(day) for day in days]
    assert read[0]["Object_Type"].dtype != days[0]["Object_Type"].dtype  # text, not categorical
    assert_accumulates_like_the_concatenation(settings, read, users, objects)
    mixed = [read[i] if i % 2 else days[i] for i in range(len(days))]  # a concatenation of both is object
    assert_accumulates_like_the_concatenation(settings, mixed, users, objects, check_signup=False)


def test_the_real_log_path_measures_integrity_alone(month):
    _, days, users, objects = month
    read = [read_back(day) for day in days]
    read[2].loc[0, "User_ID"] = 99_999
    accumulator = SpanPatterns(None, users, objects, measures=["integrity"])
    for day in read:
        accumulator.add_day(day)
    expected = reference.integrity(concatenated(read), users, objects, check_signup=False)
    got = accumulator.results(check_signup=False)
    assert list(got) == ["integrity"]
    assert plain(dataclasses.asdict(got["integrity"])) == plain(dataclasses.asdict(expected))
    assert got["integrity"].details["unknown_users"] == 1


def test_unknown_measures_and_missing_expectations_are_named():
    with pytest.raises(ValueError, match="unknown pattern measures"):
        SpanPatterns(None, measures=["integrity", "evening"])
    with pytest.raises(ValueError, match="expected repeat share"):
        SpanPatterns(None, measures=["repeat_share"]).results()


def test_state_grows_with_distinct_keys_not_with_days():
    """A full population over 5 and then 20 days: the per-user and per-object arrays keep their
    size; what grows is the set of distinct (user, object) keys and one run of IDs per day."""
    settings, days, users, objects = simulated_days(8, date(2027, 6, 1), 20, interactions_per_day=3_000)
    accumulator = SpanPatterns(settings, users, objects)
    sizes = []
    for count, day in enumerate(days, start=1):
        accumulator.add_day(day)
        if count in (5, 20):
            sizes.append((accumulator.state_nbytes(), len(accumulator.keys), len(accumulator.user_events)))
    (early, early_keys, early_users), (late, late_keys, late_users) = sizes
    assert late_users == early_users == len(users) + 1  # every user, and the missing user's slot
    events = sum(len(day) for day in days[5:])
    assert late - early <= 8 * (late_keys - early_keys) + 16 * 15 < 8 * events


def test_users_and_objects_in_another_order():
    """Codes follow the tables' rows; the correlation still sums its users in User_ID order."""
    settings, days, users, objects = simulated_days(6, date(2026, 10, 1), 10, **BIGGER)
    shuffled_users = users.sample(frac=1, random_state=1).reset_index(drop=True)
    shuffled_objects = objects.sample(frac=1, random_state=2).reset_index(drop=True)
    assert_accumulates_like_the_concatenation(settings, days, shuffled_users, shuffled_objects)


def test_aware_timestamps(month):
    """Hours are local to the timestamps' zone; sign-up and the last day compare UTC days."""
    settings, days, users, objects = month
    aware = [day.assign(Timestamp=day["Timestamp"].dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo")) for day in days]
    assert_accumulates_like_the_concatenation(settings, aware, users, objects)


def test_each_days_integrity_adds_up_to_the_spans_and_names_the_day_of_a_repeated_id():
    """`add_day_with_integrity`: the day's own problems; an ID of an earlier day counts on the later one."""
    settings = SimulationSettings(num_users=80)
    model, objects, users = make_model(settings)
    days = [simulate_day(model, date(2026, 11, 10) + timedelta(days=d)) for d in range(3)]
    days[1].loc[0, "Object_ID"] = 99_999  # an unknown object on the second day
    days[2].loc[0, "Interaction_ID"] = days[0]["Interaction_ID"].iloc[5]  # the first day's ID again
    span = SpanPatterns(settings, users, objects, measures=["integrity"])
    each = [span.add_day_with_integrity(day) for day in days]
    assert [result.passed for result in each] == [True, False, False]
    assert each[1].details["unknown_objects"] == 1 and each[1].details["duplicate_interaction_ids"] == 0
    assert each[2].details["duplicate_interaction_ids"] == 1 and each[2].details["unknown_objects"] == 0
    whole = span.integrity()
    for name, value in whole.details.items():
        assert value == sum(result.details[name] for result in each), name
    with pytest.raises(ValueError, match="integrity"):
        SpanPatterns(settings, users, objects, measures=["type_mix"]).add_day_with_integrity(days[0])
