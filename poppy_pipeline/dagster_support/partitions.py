"""Daily partitions of the event-level assets.

They start on `$POPPY_PARTITIONS_START` (default 2024-01-01; set it earlier for older real logs)
and end yesterday (UTC): a day is materialized once it is complete.
"""

import os

import dagster as dg

DEFAULT_PARTITIONS_START = "2024-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("POPPY_PARTITIONS_START") or DEFAULT_PARTITIONS_START,
    end_offset=0,
    timezone="UTC",
)

# Backfilling a window runs as one run: no process per day, and the IO manager still writes one
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
