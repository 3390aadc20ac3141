"""`dagster-daemon run …` with a shorter pass for the backfill daemon, when `POPPY_DAEMON_PASS_SECONDS` is set.

Dagster 1.13 evaluates asset backfills every 30 s, a constant (`DEFAULT_DAEMON_INTERVAL_SECONDS`)
that `dagster.yaml` cannot set; a backfill waits a pass before its first run and one more before
the days downstream of its unpartitioned assets. The tests' cluster sets 2 s (each wait then
follows the runs, not the clock); `make cluster-up` leaves the variable unset, which runs Dagster's
own daemon unchanged. cluster/cluster.py starts the daemon through this file only when it is set.
"""

import os
import sys

from dagster._daemon import controller
from dagster._daemon.cli import main

if __name__ == "__main__":
    # A private constant: fail loudly if a Dagster upgrade renames it, rather than wait 30 s silently.
    if not hasattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS"):
        sys.exit(
            "cluster/daemon.py: Dagster's DEFAULT_DAEMON_INTERVAL_SECONDS is gone; unset POPPY_DAEMON_PASS_SECONDS"
        )
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = int(os.environ["POPPY_DAEMON_PASS_SECONDS"])
    sys.exit(main())
