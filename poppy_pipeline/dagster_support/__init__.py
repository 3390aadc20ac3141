"""The Dagster helpers the definitions in `poppy_pipeline/defs/` are built from.

`defs/` holds only definitions (assets with their checks, resource instances, jobs, schedules);
what they share lives here:

- `partitions`: the daily partitions and the backfill policies;
- `day_window`: the window of days an unpartitioned asset reads from the daily assets;
- `io_managers`: the CSV, pickle and ONNX IO managers (one file per daily partition);
- `outputs_resource`: the `outputs` resource, the one folder every output goes under;
- `simulation_resource`, `source_resources`: the resource classes (`simulation`,
  `interaction_source`, `action_source`) and the reading of real logs into the run's days;
- `checks`, `quarantine_checks`, `metadata`: the shapes of asset checks and of metadata;
- `run_lock_executor`: the executor of every job (Dagster's default, holding the outputs folder);
- `run_report`: a finished run's check results, read from the instance (`make run`'s summary);
- `instance_storage`: the project-local instance's SQLite storage (`config/dagster.yaml`).

The computation itself is in the pure core (`poppy_pipeline/*.py`, no Dagster import).
"""

import warnings

import dagster as dg

# Two features used on purpose, flagged as beta/preview in Dagster 1.13: a single-run backfill
# policy (a window backfills in one process) and partitioned asset checks (a check measures the
# window just materialized). Silenced by message so other warnings still show; every definition
# module imports this package first (its partitions), so the filters are set before they run.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
