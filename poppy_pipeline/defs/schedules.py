"""Jobs and schedules (off until switched on in the UI, under *Automation*).

The jobs name their assets by key, so this module holds no asset of its own.
"""

import dagster as dg

# The daily assets and what they are built from (cheap and deterministic to rebuild), then the
# window summaries that read them: in one run, so they refresh once the day has landed (and not
# when its blocking checks fail).
daily_job = dg.define_asset_job(
    "daily_partitions_job",
    selection=dg.AssetSelection.assets(
        "simulated_interactions", "session_actions", "sliding_window_features"
    ).upstream()
    | dg.AssetSelection.assets(
        "engagement_scores",
        "trending_objects",
        "user_preferences",
        "category_preferences_mf",
        "category_preferences_nn",
        "engine_exports",
        "interaction_report",
    ),
    description="Materialize yesterday's partition of the daily assets, then refresh engagement_scores, "
    "trending_objects (published by engine_exports), the Layer 3 and 4 preferences (each publishing its"
    " engine file) and interaction_report over their trailing window.",
)

# Shortly after midnight UTC, materialize the day that just ended.
daily_schedule = dg.build_schedule_from_partitioned_job(daily_job, hour_of_day=1, minute_of_hour=0)

weekly_model_job = dg.define_asset_job(
    "weekly_click_model_job",
    selection=dg.AssetSelection.assets("click_model", "click_model_onnx", "browser_bundle"),
    description="Retrain click_model on the trailing window of sliding_window_features, export it to ONNX and"
    " rebuild the browser bundle (each step only when the blocking checks before it pass).",
)

# Mondays 03:00 UTC, after the daily run has landed Sunday; stopped until turned on in the UI.
weekly_model_schedule = dg.ScheduleDefinition(
    name="weekly_click_model_schedule",
    job=weekly_model_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
