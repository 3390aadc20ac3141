"""The daily schedule materializes yesterday's partition of the daily assets."""

from datetime import UTC, datetime

import dagster as dg

from poppy_pipeline.definitions import defs


def test_daily_schedule_requests_the_day_that_just_ended():
    schedule = defs.resolve_schedule_def("daily_partitions_job_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 1, 0, tzinfo=UTC))
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-11-21"]


def test_daily_job_covers_the_daily_assets_their_inputs_and_the_window_summaries():
    job = defs.resolve_job_def("daily_partitions_job")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert keys == {
        "celestial_objects",
        "users",
        "simulated_interactions",
        "engagement_scores",
        "trending_objects",
        "user_preferences",
        "category_preferences_mf",
        "category_preferences_nn",
        "engine_exports",
        "interaction_report",
        "session_actions",
        "sliding_window_features",
    }
