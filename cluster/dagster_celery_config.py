"""Settings of the Celery workers: `dagster_celery.app` imports this module when it is on the path.

cluster/cluster.py puts this folder on the workers' PYTHONPATH (what `dagster-celery worker start -y`
does with a generated file, but without writing the broker's password to disk).
"""

import os

broker_url = os.environ["POPPY_CELERY_BROKER_URL"]
result_backend = "rpc://"
# Acknowledge a step's message when it has run, not when it arrives: if a worker dies mid-step,
# RabbitMQ hands the message to another worker, which runs the step again.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# cluster.py starts the workers while RabbitMQ boots: they retry until it listens.
broker_connection_retry_on_startup = True
