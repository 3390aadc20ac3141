"""The Dagster helpers the definitions in `poppy_pipeline/defs/` share: partitions, the span of days a
summary reads, IO managers, resource classes, check shapes, the executor and the run summary.

`defs/` holds only definitions; the computation is in the core subpackages, which never import
Dagster. ARCHITECTURE.md lists every module.
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
