"""The Dagster code location: `dagster dev` (via workspace.yaml), `dg`, or `-m poppy_pipeline.definitions`.

Every definition is found in `poppy_pipeline/defs/` (`dg.load_from_defs_folder`: assets with
their checks, `defs/resources.py`'s resources, `defs/schedules.py`'s jobs and schedules); the
executor every job runs on is set here, once.
"""

import gc
from pathlib import Path

import dagster as dg

from poppy_pipeline.dagster_support.run_lock_executor import folder_locked_executor

defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
    dg.Definitions(executor=folder_locked_executor),
)

# The ~190,000 objects made so far (Dagster, pandas, these definitions) live as long as the process:
# the garbage collector need not walk them again in every full collection of a run, nor at exit
# (0.4-0.5 s of every `dagster` command's exit).
gc.freeze()
