"""`session_actions`: a day of browsing actions per partition (simulated, or a real log), and its checks.

Simulated by `poppy_pipeline/behaviour/sessions.py` for the sessions of `simulated_interactions`, or read
from the `action_source` resource's log (rejected rows quarantined). A real interaction log
without an action log skips this asset and the behaviour branch after it.
"""

from collections.abc import Callable, Iterator
from datetime import date

import dagster as dg
import pandas as pd

from poppy_pipeline.behaviour.day_tallies import add_counts
from poppy_pipeline.behaviour.session_measures import (
    ActionTotals,
    action_problems,
    session_problems,
    session_shape_problems,
)
from poppy_pipeline.behaviour.sessions import no_actions, sessions_with_actions, simulate_sessions, unsimulable
from poppy_pipeline.dagster_support.checks import day_check_specs, not_applicable, per_day
from poppy_pipeline.dagster_support.column_schemas import column_schema_metadata
from poppy_pipeline.dagster_support.metadata import readable_json
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import daily_partitions, single_run
from poppy_pipeline.dagster_support.quarantine_checks import QUARANTINE_CHECK, Intake, quarantine, quarantine_spec
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource, sentences
from poppy_pipeline.dagster_support.staged_days import DayFiles
from poppy_pipeline.sources.action_logs import split_actions_by_day

ACTION_CHECKS = {
    "integrity": "The day's known actions only, scroll amounts ≥ 0, one user per session, timestamps on the day;"
    " simulated: exactly the sessions (the action_session_share of them) and users of simulated_interactions,"
    " every interaction inside its session.",
    "session_shape": "Simulated sessions last 10-300 s, open with focus_window and end with their only close_tab.",
}
ACTION_SPECS = day_check_specs(
    "session_actions", ACTION_CHECKS, blocking={"integrity"}, inputs=["simulated_interactions"]
)


@dg.asset(
    group_name="behaviour",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    metadata=column_schema_metadata("session_actions"),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    tags={"layer": "events"},
    output_required=False,  # skipped (with its downstream) for a real log without actions
    check_specs=[quarantine_spec("session_actions", daily_partitions), *ACTION_SPECS],
)
def session_actions(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    action_source: ActionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    simulated_interactions: DayFiles,
    users: pd.DataFrame,
) -> Iterator[dg.MaterializeResult | dg.Output | dg.AssetCheckEvaluation]:  # none when the branch is skipped
    """One CSV per day: `Session_ID, User_ID, Timestamp, Action, Scroll_Amount`, in time order.

    Simulated for the sessions of `simulated_interactions` (same IDs, users and day; every
    interaction inside its session; timestamps to the millisecond), each user following their
    browsing profile (see `poppy_pipeline/behaviour/model.py`); or the days of a real action log when
    `action_source` has a path. A simulated day depends only on the seed, the users and that
    day's interactions, so any window backfills in one run and gives byte-identical files.
    """
    keys = context.partition_keys
    if interaction_source.is_real and not action_source.is_real:
        context.log.info(
            f"Skipping the behaviour-model branch (session_actions and everything after it): the"
            f" {interaction_source.kind} log {interaction_source.path} has no browsing-action stream."
            " Set POPPY_ACTIONS_PATH to a CSV of Session_ID, User_ID, Timestamp, Action, Scroll_Amount to include it."
        )
        why = "the behaviour-model branch is skipped (no action log)."
        skipped = dg.AssetCheckKey(context.asset_key, QUARANTINE_CHECK)
        for key in (skipped, *(spec.key for spec in ACTION_SPECS)):
            yield from per_day(
                context, dict.fromkeys(keys, not_applicable(key, why, "", "when session_actions is made"))
            )
        return
    with csv_io_manager.staging("session_actions") as staging:
        if action_source.is_real:
            days, metadata, intakes, accounting = _read_log(context, action_source, keys)
        else:
            simulate, metadata = _simulator(context, simulation, users)
            intakes, accounting = [], {}
        # One day at a time: made (or taken from the log), checked, staged, dropped.
        totals, staged = ActionTotals(), {}
        problems: dict[str, dict[str, dict[str, int]]] = {}  # by day, by check
        for key in keys:
            interactions = None if action_source.is_real else simulated_interactions[key]
            actions = days.pop(key) if interactions is None else simulate(key, interactions)
            problems[key] = _problems(simulation, actions, interactions, key)
            totals.add_day(actions)
            staged[key] = staging.stage(key, actions)
            del actions, interactions
        if not action_source.is_real:
            context.log.info(f"simulated the actions of {len(keys)} days ({keys[0]}..{keys[-1]})")
        counts, quarantined = quarantine(
            context, "session_actions", intakes, action_source.max_quarantine_share, accounting, outputs=outputs
        )
        _require_integrity(problems, keys)
    yield dg.MaterializeResult(
        value=staged,
        metadata={
            "source": action_source.kind,
            "days": len(staged),
            "first_day": keys[0],
            "last_day": keys[-1],
            "sessions": totals.session_count(),
            "actions": totals.actions,
            "action_mix": dg.MetadataValue.json(readable_json(totals.action_mix())),
            **metadata,
            **counts,
        },
    )
    # The intake's share is the run's (one log read for all its days): each day reports it.
    yield from per_day(context, dict.fromkeys(keys, quarantined))
    for spec in ACTION_SPECS:
        yield from per_day(
            context, {key: _day_check(spec, action_source, found, key) for key, found in problems.items()}
        )


def _simulator(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    users: pd.DataFrame,
) -> tuple[Callable[[str, pd.DataFrame], pd.DataFrame], dict]:
    """A function that simulates one day's actions from that day's interactions, and the metadata."""
    behaviour = simulation.behaviour()

    def simulate(key: str, day_interactions: pd.DataFrame) -> pd.DataFrame:
        reason = unsimulable(day_interactions, users)
        if reason:  # e.g. `make run` on a real interaction log: no sessions to browse in
            context.log.warning(f"session_actions {key}: no actions: {reason}; set POPPY_ACTIONS_PATH to an action log")
            return no_actions()
        return simulate_sessions(behaviour, simulation.seed, users, day_interactions, date.fromisoformat(key)).actions

    return simulate, {"seed": simulation.seed, "ad_click_base_rate": behaviour.ad_click_base_rate}


def _read_log(
    context: dg.AssetExecutionContext, source: ActionSourceResource, keys: list[str]
) -> tuple[dict[str, pd.DataFrame], dict, list[Intake], dict[str, int]]:
    """The run's days of the log (failing, before anything is written, when it has no valid row)."""
    with sentences():
        rows = split_actions_by_day(source.read(), keys).require_rows()
    context.log.info(rows.describe())
    log = rows.checked
    metadata = {"log": str(log.source_file), "source_timezone": source.source_timezone}
    return rows.days, metadata, [Intake(log.source_file, log.input_rows, log.rejected)], rows.counts()


def _problems(
    simulation: SimulationResource, actions: pd.DataFrame, interactions: pd.DataFrame | None, key: str
) -> dict[str, dict[str, int]]:
    """A day's problems by check (against its own interactions when simulated)."""
    found: dict[str, dict[str, int]] = {name: {} for name in ACTION_CHECKS}
    integrity = action_problems(actions, date.fromisoformat(key))
    if interactions is not None:
        with_actions = sessions_with_actions(simulation.behaviour(), simulation.seed, interactions)
        integrity |= session_problems(actions, with_actions)
        add_counts(found["session_shape"], session_shape_problems(actions) if len(actions) else {})
    add_counts(found["integrity"], integrity)
    return found


def _require_integrity(problems: dict[str, dict[str, dict[str, int]]], keys: list[str]) -> None:
    """Integrity problems (a generator bug, or a log the reader let through) fail the step: no day is put in place."""
    failed = {key: found["integrity"] for key, found in problems.items() if any(found["integrity"].values())}
    if failed:
        total: dict[str, int] = {}
        for found in failed.values():
            add_counts(total, found)
        raise dg.Failure(
            f"session_actions {keys[0]}..{keys[-1]}: integrity fails, nothing written: {total}; on {', '.join(failed)}"
        )


def _day_check(
    spec: dg.AssetCheckSpec, action_source: ActionSourceResource, found: dict[str, dict[str, int]], key: str
) -> dg.AssetCheckResult:
    if spec.name == "session_shape" and action_source.is_real:
        return not_applicable(spec.key, "the actions are a real log.", key)
    problems = found[spec.name]
    return dg.AssetCheckResult(
        check_name=spec.name,
        asset_key=spec.asset_key,
        passed=not any(problems.values()),
        metadata={"problems": dg.MetadataValue.json(problems)},
    )
