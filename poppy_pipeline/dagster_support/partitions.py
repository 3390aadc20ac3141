"""Daily partitions of the event-level assets.

They start where data can exist: `$POPPY_PARTITIONS_START`, by default the first day of the
simulated app's growth period (2025-10-01, `SimulationSettings.signup_start`'s default, when new
users begin to arrive); set it earlier for older real logs (e.g. seed 002's pings, from 2024-01-01).
They end yesterday (UTC): a day is materialized once it is complete. A recent start keeps the UI's
partition views and the Materialize dialog (which opens on the last 90 days) to days that can hold
data, not two years of empty ones.
"""

import os

import dagster as dg

DEFAULT_PARTITIONS_START = "2025-10-01"
PARTITIONS_START_ENV = "POPPY_PARTITIONS_START"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get(PARTITIONS_START_ENV) or DEFAULT_PARTITIONS_START,
    end_offset=0,
    timezone="UTC",
)

# Backfilling a span runs as one run: no process per day, and the IO manager still writes one
# file per partition.
single_run = dg.BackfillPolicy.single_run()

BACKFILL_DAYS_PER_RUN_ENV = "POPPY_BACKFILL_DAYS_PER_RUN"


def daily_backfill_policy() -> dg.BackfillPolicy:
    """`$POPPY_BACKFILL_DAYS_PER_RUN` days per run when set (read when the definitions load), else one run.

    The cluster profile (poppy_pipeline/cluster_definitions.py) gives it to the daily assets, so a long
    backfill becomes several runs spread over the Celery workers; `make run` keeps `single_run`.
    """
    raw = (os.environ.get(BACKFILL_DAYS_PER_RUN_ENV) or "").strip()
    if not raw:
        return single_run
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{BACKFILL_DAYS_PER_RUN_ENV} must be a whole number of days ≥ 1, got {raw!r}")
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=int(raw))
