"""The Dagster layer: assets, checks, IO managers, resources, jobs and schedules.

Each asset lives in the module of its own name (with its checks), so `celestial_objects` is in
`defs/celestial_objects.py`. The computation itself is in the pure modules of `poppy_pipeline`.
"""

import warnings

import dagster as dg

# Two features used on purpose, flagged as beta/preview in Dagster 1.13: a single-run backfill
# policy (a window backfills in one process) and partitioned asset checks (a check measures the
# window just materialized). Silenced by message so other warnings still show.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
