"""Jobs and schedules."""

import dagster as dg

from poppy_pipeline.defs.simulated_interactions import simulated_interactions

# The daily assets and what they are built from (cheap and deterministic to rebuild).
daily_job = dg.define_asset_job(
    "daily_partitions_job",
    selection=dg.AssetSelection.assets(simulated_interactions).upstream(),
    description="Materialize one day of every daily-partitioned asset, with its checks.",
)

# Shortly after midnight UTC, materialize the day that just ended.
daily_schedule = dg.build_schedule_from_partitioned_job(daily_job, hour_of_day=1, minute_of_hour=0)
