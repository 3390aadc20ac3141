"""The cluster profile's code location (cluster/workspace.yaml): the same assets, steps on Celery workers.

Two things differ from `poppy_pipeline.definitions`: the executor (Celery; the broker from
`$POPPY_CELERY_BROKER_URL`) and the daily assets' backfill policy (`$POPPY_BACKFILL_DAYS_PER_RUN`
days per run), both set by cluster/cluster.py.
"""

import dagster as dg
from dagster_celery import celery_executor

from poppy_pipeline import definitions
from poppy_pipeline.dagster_support.partitions import daily_backfill_policy

celery = celery_executor.configured(
    {
        "broker": {"env": "POPPY_CELERY_BROKER_URL"},
        "backend": "rpc://",
        # As on the workers (cluster/dagster_celery_config.py): a step lost with its worker is redelivered.
        "config_source": {"task_acks_late": True, "task_reject_on_worker_lost": True},
    },
    name="celery",
)


def _on_celery(embedded: dg.Definitions) -> dg.Definitions:
    policy = daily_backfill_policy()
    return dg.Definitions(
        assets=[
            asset.with_attributes(backfill_policy=policy)
            if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def
            else asset
            for asset in embedded.assets or []
        ],
        asset_checks=embedded.asset_checks,
        jobs=embedded.jobs,
        schedules=embedded.schedules,
        resources=embedded.resources,
        executor=celery,
    )


defs = _on_celery(definitions.defs)
