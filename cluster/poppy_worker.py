"""The Celery workers' app (`celery -A poppy_worker worker`): dagster-celery's own `dagster_celery.app`,
with the cluster's code location loaded once in the worker's main process, before its pool process
is forked. The pool process inherits it, so the first step on each worker does not spend seconds
importing pandas, scikit-learn and the definitions. The settings stay in dagster_celery_config.py.
"""

from celery.signals import worker_init
from dagster_celery.app import app

__all__ = ["app"]


@worker_init.connect
def load_the_code_location(**_) -> None:
    from poppy_pipeline.cluster_definitions import defs

    defs.get_repository_def()  # cached on `defs`, which the steps' job pointer finds in sys.modules
