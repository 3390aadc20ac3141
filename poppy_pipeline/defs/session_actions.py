"""`session_actions`: a day of browsing actions per partition (simulated, or a real log), and its checks.

Simulated by `poppy_pipeline/session_simulation.py` for the sessions of `simulated_interactions`, or read
from the `action_source` resource's log (rejected rows quarantined). A real interaction log
without an action log skips this asset and the behaviour branch after it.
"""

from datetime import date

import dagster as dg
import pandas as pd

from poppy_pipeline.action_logs import split_actions_by_day
from poppy_pipeline.behaviour import ACTIONS
from poppy_pipeline.dagster_support.checks import not_applicable, window_check_specs
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import daily_partitions, single_run
from poppy_pipeline.dagster_support.quarantine_checks import QUARANTINE_CHECK, Intake, quarantine, quarantine_spec
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource, sentences
from poppy_pipeline.session_measures import action_problems, session_problems, session_shape_problems
from poppy_pipeline.session_simulation import no_actions, sessions_with_actions, simulate_sessions, unsimulable

ACTION_CHECKS = {
    "integrity": "Known actions only, scroll amounts ≥ 0, one user per session, timestamps on the partition's day;"
    " simulated: exactly the sessions (the action_session_share of them) and users of simulated_interactions,"
    " every interaction inside its session.",
    "session_shape": "Simulated sessions last 10-300 s, open with focus_window and end with their only close_tab.",
}
ACTION_SPECS = window_check_specs(
    "session_actions", ACTION_CHECKS, blocking={"integrity"}, inputs=["simulated_interactions"]
)


@dg.asset(
    group_name="behaviour",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
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
    simulated_interactions: dict[str, pd.DataFrame],
    users: pd.DataFrame,
):  # yields a MaterializeResult, or nothing when the branch is skipped
    """One CSV per day: `Session_ID, User_ID, Timestamp, Action, Scroll_Amount`, in time order.

    Simulated for the sessions of `simulated_interactions` (same IDs, users and day; every
    interaction inside its session; timestamps to the millisecond), each user following their
    browsing profile (see `poppy_pipeline/behaviour.py`); or the days of a real action log when
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
        yield dg.AssetCheckResult(
            check_name=QUARANTINE_CHECK,
            passed=True,
            description="Not applicable: the behaviour-model branch is skipped (no action log).",
            metadata={"applies": "when session_actions is materialized"},
        )
        for spec in ACTION_SPECS:
            if spec.key in context.selected_asset_check_keys:
                yield not_applicable(spec.key, "the behaviour-model branch is skipped (no action log).", "")
        return
    if action_source.is_real:
        days, metadata, intakes, accounting = _read_log(context, action_source, keys)
    else:
        days, metadata = _simulate(context, simulation, simulated_interactions, users, keys)
        intakes, accounting = [], {}
    counts, check = quarantine(
        context, "session_actions", intakes, action_source.max_quarantine_share, accounting, outputs=outputs.path()
    )
    action_checks = _action_checks(context, simulation, action_source, days, simulated_interactions)
    frames = [frame for frame in days.values() if len(frame)]
    every_day = pd.concat(frames, ignore_index=True) if frames else next(iter(days.values()))
    mix = every_day["Action"].astype(str).value_counts(normalize=True).reindex(list(ACTIONS), fill_value=0.0)
    yield dg.MaterializeResult(
        value=days,
        metadata={
            "source": action_source.kind,
            "days": len(days),
            "first_day": keys[0],
            "last_day": keys[-1],
            "sessions": int(every_day["Session_ID"].nunique()),
            "actions": len(every_day),
            "action_mix": dg.MetadataValue.json({k: round(float(v), 4) for k, v in mix.items()}),
            **metadata,
            **counts,
        },
        check_results=[check, *action_checks],
    )


def _simulate(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    interactions: dict[str, pd.DataFrame],
    users: pd.DataFrame,
    keys: list[str],
) -> tuple[dict[str, pd.DataFrame], dict]:
    behaviour = simulation.behaviour()
    days = {}
    for key in keys:
        reason = unsimulable(interactions[key], users)
        if reason:  # e.g. `make run` on a real interaction log: no sessions to browse in
            context.log.warning(f"session_actions {key}: no actions: {reason}; set POPPY_ACTIONS_PATH to an action log")
            days[key] = no_actions()
        else:
            day = date.fromisoformat(key)
            days[key] = simulate_sessions(behaviour, simulation.seed, users, interactions[key], day).actions
    context.log.info(f"simulated the actions of {len(keys)} days ({keys[0]}..{keys[-1]})")
    return days, {"seed": simulation.seed, "ad_click_base_rate": behaviour.ad_click_base_rate}


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


def _action_checks(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    action_source: ActionSourceResource,
    session_actions: dict[str, pd.DataFrame],
    simulated_interactions: dict[str, pd.DataFrame],
) -> list[dg.AssetCheckResult]:
    """The window in hand, day by day (each day against its own interactions), before it is written.

    Integrity problems (a generator bug, or a log the reader let through) fail the step: nothing is written.
    """
    keys = sorted(session_actions)
    problems = {name: {} for name in ACTION_CHECKS}
    for key in keys:
        actions = session_actions[key]
        found = action_problems(actions, date.fromisoformat(key))
        if not action_source.is_real:
            with_actions = sessions_with_actions(simulation.behaviour(), simulation.seed, simulated_interactions[key])
            found |= session_problems(actions, with_actions)
            _add(problems["session_shape"], session_shape_problems(actions) if len(actions) else {})
        _add(problems["integrity"], found)
    span = f"{keys[0]}..{keys[-1]} ({len(keys)} days)"
    if any(problems["integrity"].values()):
        raise dg.Failure(f"session_actions {span}: integrity fails, nothing written: {problems['integrity']}")
    results = []
    for spec in ACTION_SPECS:
        if spec.key not in context.selected_asset_check_keys:
            continue
        if spec.name == "session_shape" and action_source.is_real:
            results.append(not_applicable(spec.key, "the actions are a real log.", span))
            continue
        found = problems[spec.name]
        context.log.info(f"session_actions {spec.name}: {found}")
        results.append(
            dg.AssetCheckResult(
                check_name=spec.name,
                asset_key=spec.asset_key,
                passed=not any(found.values()),
                metadata={"problems": dg.MetadataValue.json(found), "window": span},
            )
        )
    return results


def _add(total: dict[str, int], found: dict[str, int]) -> None:
    for name, count in found.items():
        total[name] = total.get(name, 0) + int(count)
