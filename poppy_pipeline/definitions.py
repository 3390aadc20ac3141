"""The Dagster code location: `dg dev` / `dagster dev` (via workspace.yaml), `dg`, or `-m poppy_pipeline.definitions`.

Every definition is found in `poppy_pipeline/defs/` (`dg.load_from_defs_folder`: assets with
their checks, `defs/resources.py`'s resources, `defs/schedules.py`'s jobs and schedules); the
executor every job runs on is set here, once: Dagster's default executor holding the outputs
folder (`run_lock_executor.py`), in process unless a run's config asks for `multiprocess`. A
process per step would import pandas, scikit-learn and Dagster again for each step (2-3 s of CPU
each), so `dagster asset materialize`, `dg launch`, the UI's launches and the schedules all run
their steps in the run's own process; the cluster (`cluster_definitions.py`) keeps Celery.
"""

import gc
import logging
import warnings
from pathlib import Path

import dagster as dg

from poppy_pipeline.dagster_support.run_lock_executor import folder_locked_executor

# The same config as Dagster's default executor (`in_process` or `multiprocess`), defaulting to in_process.
in_process_by_default = folder_locked_executor.configured(
    lambda config: config,
    config_schema=dg.Field(folder_locked_executor.config_schema.config_type, default_value={"in_process": {}}),
)

defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
    dg.Definitions(executor=in_process_by_default),
)


class _SkippedBranchChecks(logging.Filter):
    """Drops Dagster's "Blocking asset check … emitted no result … will proceed without gating on it".

    Dagster logs it for each blocking check of a step that did not run, once per downstream step:
    a real log without actions skips the behaviour branch (session_actions yields nothing, so
    sliding_window_features and the model after it are skipped) and printed nine such lines. Every
    step of this project that runs reports all of its selected checks (the asset tests check it),
    and `make run`'s summary lists every check of the run that did not report.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "emitted no result in step" not in record.getMessage()


logging.getLogger("dagster._core.execution.plan.active").addFilter(_SkippedBranchChecks())
# Dagster's own parser of `--select '*'` / `--assets '*'` calls a beta parameter of its own
# (`AssetSelection.all(include_sources=…)`): not ours to fix, and not worth a line in every run.
warnings.filterwarnings("ignore", message="Parameter `include_sources` of function `AssetSelection.all`")

# The ~190,000 objects made so far (Dagster, pandas, these definitions) live as long as the process:
# the garbage collector need not walk them again in every full collection of a run, nor at exit
# (0.4-0.5 s of every `dagster` command's exit).
gc.freeze()
