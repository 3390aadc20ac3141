"""The Dagster code location: `dagster dev` (via workspace.yaml), `dg`, or `-m poppy_pipeline.definitions`.

Every definition is found in `poppy_pipeline/defs/` (`dg.load_from_defs_folder`: assets with
their checks, `defs/resources.py`'s resources, `defs/schedules.py`'s jobs and schedules); the
executor every job runs on is set here, once.
"""

from pathlib import Path

import dagster as dg

from poppy_pipeline.dagster_support.run_lock_executor import folder_locked_executor

defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
    dg.Definitions(executor=folder_locked_executor),
)
