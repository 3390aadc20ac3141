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
