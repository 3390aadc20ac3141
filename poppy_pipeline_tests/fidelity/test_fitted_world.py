"""Logs as they are (issue 29): their own event types through fit and regeneration, seed 000's
claims not applicable to a fitted world, a log's own days named when they miss the run's, and a
run config of the fit that writes into a folder of its own."""

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.fidelity.fit import fit_log, regenerate_command, regenerated_folder, run_config, settings_from_fit
from poppy_pipeline.fidelity.regenerate import simulate_from_fit
from poppy_pipeline.fidelity.sdmetrics_scores import flattened, sdmetrics_scores
from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.pattern_results import MEASURES, SEED_CLAIMS
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.span_patterns import SpanPatterns
from poppy_pipeline.sources.daily_rows import split_by_day
from poppy_pipeline.sources.raw_csv import SourceError
from poppy_pipeline.sources.rows import Checked
from poppy_pipeline_tests.support.seed002 import EVENT_TYPES, write_pings_folder

FEBRUARY = [str(d.date()) for d in pd.date_range("2024-02-01", "2024-02-29")]


@pytest.fixture(scope="module")
def pings_fit(tmp_path_factory):
    folder = write_pings_folder(tmp_path_factory.mktemp("pings"), users=60, pings=80, events=3000)
    source = InteractionSourceResource(path=str(folder), format="pings")
    users, _ = source.log_users()
    objects, _ = source.log_objects(lambda: None)
    rows = source.log_days(objects, users, FEBRUARY)
    events = pd.concat([f for f in rows.days.values() if len(f)], ignore_index=True)
    fit = fit_log(events, objects, FEBRUARY, len(users))
    return events, fit, simulate_from_fit(fit, FEBRUARY)


def test_seed_002s_six_event_types_keep_their_identity(pings_fit):
    events, fit, simulated = pings_fit
    assert set(fit["parameters"]["interaction_type_labels"]["value"]) == set(EVENT_TYPES)
    assert set(simulated["Interaction_Type"].astype(str)) == set(EVENT_TYPES)
    real = events["Interaction_Type"].astype(str).value_counts(normalize=True)
    regenerated = simulated["Interaction_Type"].astype(str).value_counts(normalize=True)
    for kind in EVENT_TYPES:
        assert regenerated[kind] == pytest.approx(real[kind], abs=0.03), kind


def test_seed_000s_claims_are_not_applicable_to_a_fitted_world(pings_fit):
    _, fit, simulated = pings_fit
    fit = fit | {"window": fit["window"] | {"source": "pings"}}
    settings = settings_from_fit(fit)
    assert settings.fitted_to == "the pings log 2024-02-01..2024-02-29"
    users, objects = generate_users(settings), build_catalog(settings, None).objects
    patterns = SpanPatterns(settings, users, objects)
    patterns.add_day(simulated)
    expected_events = build_model(settings, objects, users).expected_span_events(
        date.fromisoformat(d) for d in FEBRUARY
    )
    results = patterns.results(expected_repeats=settings.repeat_share, expected_events=expected_events)
    assert set(results) == set(MEASURES)
    for name in SEED_CLAIMS:
        assert results[name].not_applicable.startswith("the world is fitted to the pings log"), name
    assert results["type_mix"].passed  # the log's six types, counted as the simulation's four
    assert results["preferred_type_share"].not_applicable  # nobody prefers a type of a one-type log
    assert not any(r.not_applicable is None and not r.passed for r in results.values())


def test_the_integrity_check_names_only_the_rules_it_applied(pings_fit):
    _, fit, _ = pings_fit
    settings = settings_from_fit(fit)
    patterns = SpanPatterns(settings, generate_users(settings), build_catalog(settings, None).objects, ["integrity"])
    assert "sign-up" not in patterns.integrity(check_signup=False).target
    assert "events_before_signup" not in patterns.integrity(check_signup=False).details
    assert "sign-up" in patterns.integrity(check_signup=True).target


def test_a_log_before_the_partitions_names_the_setting_and_its_own_days():
    stamps = pd.to_datetime(["1997-09-20 10:00:00", "1998-01-03 12:00:00", "1998-04-22 23:00:00"])
    valid = pd.DataFrame({"Timestamp": stamps, "Interaction_ID": [1, 2, 3]})
    checked = Checked(Path("u.data"), valid, pd.DataFrame({"reason": []}), 3)
    days = [str(date(2024, 1, 1) + timedelta(days=d)) for d in range(3)]
    with pytest.raises(SourceError) as raised:
        split_by_day(checked, days).require_rows("2024-01-01")
    message = str(raised.value)
    assert "no valid rows in 2024-01-01..2024-01-03" in message
    assert "the log runs 1997-09-20..1998-04-22, before the daily partitions start (2024-01-01)" in message
    assert "POPPY_PARTITIONS_START=1997-09-20" in message and "START=1997-09-20 END=1998-04-22" in message
    with pytest.raises(SourceError, match=r"the log runs 1997-09-20..1998-04-22: run START"):
        split_by_day(checked, days).require_rows("1990-01-01")


def test_the_fits_run_config_writes_to_a_folder_of_its_own(pings_fit, tmp_path: Path):
    _, fit, _ = pings_fit
    outputs = str(tmp_path / "outputs")
    folder = regenerated_folder(outputs, fit)
    assert folder == f"{outputs}/fitted-2024-02-01-2024-02-29"  # its own folder: no file of the outputs
    weights = {kind: 1.0 for kind in EVENT_TYPES}
    config = run_config(fit, outputs_dir=folder, event_weights=weights)
    assert config["resources"]["outputs"] == {"config": {"base_dir": folder}}
    assert config["resources"]["interaction_source"] == {"config": {"path": ""}}
    assert set(config["ops"]["engagement_scores"]["config"]["event_weights"]) == set(EVENT_TYPES)
    settings = SimulationResource(**config["resources"]["simulation"]["config"]).settings()
    assert set(settings.interaction_type_labels) == set(EVENT_TYPES)
    command = regenerate_command("fit.yaml", fit, "2024-01-01")
    assert command == "make run CONFIG=fit.yaml START=2024-02-01 END=2024-02-29"
    assert regenerate_command("fit.yaml", fit, "2025-01-01").startswith("POPPY_PARTITIONS_START=2024-02-01 ")


def test_sdmetrics_scores_a_log_against_itself_and_survives_values_one_side_lacks(pings_fit):
    events, _, simulated = pings_fit
    same = sdmetrics_scores(events, events)
    assert same["quality"] == pytest.approx(1.0, abs=1e-9)
    lacking = events[events["Timestamp"].dt.hour != 3]  # a small log without an hour the other has
    scores = sdmetrics_scores(lacking, simulated)
    assert 0 < scores["quality"] <= 1
    assert scores["logistic_detection"] is None or 0 <= scores["logistic_detection"] <= 1
    assert set(flattened(events).columns) == {"event_type", "rating", "hour", "weekday", "user_events", "object_events"}
