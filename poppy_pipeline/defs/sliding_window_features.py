"""`sliding_window_features`: seed 001's 20 window features per day, the label, the oracle, and checks.

The windows come from `poppy_pipeline/behaviour/windows.py` (the oracle from `oracle.py`, read from the
recorded actions and the day's plan); each day is written part by part as its chunks of sessions
are made, checked and counted (`window_stream.py`). The window settings are this asset's config
and travel with each day's file (`SETTINGS_ATTR`), which is where `click_model` reads them. Two
blocking checks guard each day, reported per partition (finite features, windows inside their
sessions); seed 001's targets (positive share, every profile present) are about a span of days:
they are checks of `click_model`, which reads the span it trains on.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.behaviour.day_tallies import FiniteTally, add_counts
from poppy_pipeline.behaviour.features import FEATURE_NAMES, WINDOW_COLUMNS, WindowSpec
from poppy_pipeline.behaviour.model import TICK_MS, UserTraits, draw_traits
from poppy_pipeline.behaviour.oracle import RecordedDay, recorded_day
from poppy_pipeline.behaviour.sessions import unsimulable
from poppy_pipeline.behaviour.window_membership import checked_arrays
from poppy_pipeline.behaviour.window_stream import streamable, write_windows
from poppy_pipeline.behaviour.window_targets import WindowSummary
from poppy_pipeline.behaviour.windows import SessionArrays, StreamMismatch, session_arrays
from poppy_pipeline.common.threads import in_background
from poppy_pipeline.dagster_support.checks import day_check_specs, per_day
from poppy_pipeline.dagster_support.column_schemas import column_schema_metadata
from poppy_pipeline.dagster_support.metadata import markdown_table, plain_metadata
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import daily_partitions, single_run
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource
from poppy_pipeline.dagster_support.staged_days import PREVIEW_ROWS, DayFiles, DayStaging, StagedDay, WrittenTable

# Each day's windows carry the settings they were made with (`DataFrame.attrs`, stored beside the
# CSV by the IO manager), so whoever reads them (click_model) gets them from the data itself.
SETTINGS_ATTR = "window_settings"
FINITE_CHECK = "features_finite"
MEMBERSHIP_CHECK = "windows_within_sessions"
DAY_CHECKS = day_check_specs(
    "sliding_window_features",
    {
        FINITE_CHECK: "Every feature of the day's windows is finite, Label is 0/1, Oracle_Probability is in [0, 1]"
        " or empty.",
        MEMBERSHIP_CHECK: "Every window's actions, recounted from session_actions, belong to its session and user,"
        " number what interaction_density says and at least min_actions; its end lies inside the session.",
    },
    blocking={FINITE_CHECK, MEMBERSHIP_CHECK},
)


class SlidingWindowConfig(dg.Config):
    """Windows of `sliding_window_features` (seed 001: 2-minute windows every 10 s)."""

    window_seconds: float = Field(default=120.0, description="Window length: [end − window, end].")
    step_seconds: float = Field(
        default=10.0, description="Between window ends; the first is one step after the session's first action."
    )
    horizon_seconds: float = Field(
        default=10.0, description="Label = 1 when a click_ad happens in (end, end + horizon]."
    )
    min_actions: int = Field(default=5, description="A window is kept when it holds at least this many actions.")

    def spec(self) -> WindowSpec:
        return WindowSpec.from_seconds(
            self.window_seconds,
            self.step_seconds,
            self.horizon_seconds,
            self.min_actions,
            prefix="sliding_window_features.",
        )


@dg.asset(
    group_name="behaviour",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    metadata=column_schema_metadata("sliding_window_features"),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    tags={"layer": "features"},
    output_required=False,  # not yielded when a blocking check fails: the previous days stay
    check_specs=DAY_CHECKS,
)
def sliding_window_features(
    context: dg.AssetExecutionContext,
    config: SlidingWindowConfig,
    simulation: SimulationResource,
    action_source: ActionSourceResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    session_actions: DayFiles,
    simulated_interactions: DayFiles,
    users: pd.DataFrame,
) -> Iterator[dg.MaterializeResult | dg.Output | dg.AssetCheckEvaluation]:  # or only the failed checks
    """One CSV per day: `Session_ID, User_ID, Window_End`, the 20 features of seed 001 (see
    `poppy_pipeline/behaviour/windows.py`), `Label` (a click_ad in the horizon after the end) and
    `Oracle_Probability` (the generator's exact probability of that label given its state at the
    end; empty for a real action log).
    """
    spec = config.spec()
    simulated = not action_source.is_real
    if simulated:
        _require_tick_grid(spec)
    # The users' traits (for the oracle) are drawn on a thread of their own while the first day is read.
    profiled = simulated and not users["Profile"].isna().any()
    drawn = in_background(lambda: draw_traits(simulation.seed, users)) if profiled else None
    summary = WindowSummary(users, simulated)
    finite: dict[str, FiniteTally] = {}  # by day
    problems: dict[str, dict[str, int]] = {}  # the windows' recount, by day
    # One day at a time: windows made, checked, counted into the span's summary, staged, dropped.
    with csv_io_manager.staging("sliding_window_features") as staging:
        staged = {}
        for key in context.partition_keys:
            arrays = session_arrays(session_actions[key])  # the sorted columns: the frame read is dropped
            traits = drawn.result() if drawn is not None else None
            recorded = None
            if traits is not None:
                recorded = _recorded_day(simulation, traits, simulated_interactions[key], users, key)
            finite[key], problems[key] = FiniteTally(FEATURE_NAMES), {}
            try:
                staged[key] = _stage_day(staging, key, arrays, spec, recorded, (finite[key], summary), problems[key])
            except StreamMismatch as mismatch:
                raise dg.Failure(
                    f"sliding_window_features {key}: session_actions is not what the generator makes with these"
                    f" settings ({mismatch}; materialized with another seed?); materialize session_actions again"
                ) from None
            del arrays
        finite_checks = {key: _finite_check(tally) for key, tally in finite.items()}
        membership_checks = {key: _membership_check(found) for key, found in problems.items()}
        failed = sorted(
            {str(r.check_name) for r in (*finite_checks.values(), *membership_checks.values()) if not r.passed}
        )
        if failed:
            # No day is put in place: each day's checks are reported and the failed ones fail the step
            # (they block), and the previous good files stay.
            staging.discard()
            context.log.error(f"sliding_window_features: {', '.join(failed)} failed, so no day is put in place")
    if not failed:
        yield dg.MaterializeResult(value=staged, metadata=_summary(summary, spec, simulated))
    yield from per_day(context, finite_checks)
    yield from per_day(context, membership_checks)


def _require_tick_grid(spec: WindowSpec) -> None:
    for name, value in (("step_seconds", spec.step_ms), ("horizon_seconds", spec.horizon_ms)):
        if value % TICK_MS:
            raise dg.Failure(
                f"sliding_window_features.{name} must be a multiple of {TICK_MS / 1000} s for simulated actions"
                f" (the generator's time step, on which its oracle is exact), got {value / 1000}"
            )


def _recorded_day(
    simulation: SimulationResource, traits: UserTraits, interactions: pd.DataFrame, users: pd.DataFrame, key: str
) -> RecordedDay | None:
    """The day's plan, from which the oracle reads the generator's state (None: nothing was simulated,
    which session_actions logged)."""
    if unsimulable(interactions, users):
        return None
    return recorded_day(simulation.behaviour(), simulation.seed, traits, interactions, date.fromisoformat(key))


def _stage_day(
    staging: DayStaging,
    key: str,
    arrays: SessionArrays,
    spec: WindowSpec,
    recorded: RecordedDay | None,
    tallies: tuple[FiniteTally, WindowSummary],
    problems: dict[str, int],
) -> StagedDay:
    """The day's windows staged, counted into `tallies` and their recount's `problems`: written part by
    part while the next are made (`window_stream.py`), or made whole when their IDs are text."""
    attrs = {SETTINGS_ATTR: spec.settings()}

    def observe(windows: pd.DataFrame) -> None:
        for tally in tallies:
            tally.add_day(windows)

    if not streamable(arrays):
        checked = checked_arrays(arrays, spec, recorded)
        checked.frame.attrs.update(attrs)
        add_counts(problems, checked.problems)
        observe(checked.frame)
        return staging.stage(key, checked.frame)

    def write(path: str) -> WrittenTable:
        with open(path, "wb") as sink:
            written = write_windows(arrays, spec, recorded, sink, observe, PREVIEW_ROWS)
        add_counts(problems, written.problems)
        return WrittenTable(written.rows, tuple(WINDOW_COLUMNS), written.head, attrs)

    return staging.stage_written(key, write)


def _finite_check(finite: FiniteTally) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=FINITE_CHECK,
        passed=finite.passed,
        metadata={
            "windows": finite.windows,
            "not_finite": dg.MetadataValue.json(finite.not_finite_by_feature()),
            "labels_not_0_1": finite.bad_labels,
            "oracle_outside_0_1": finite.bad_oracle,
        },
    )


def _membership_check(problems: dict[str, int]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=MEMBERSHIP_CHECK,
        passed=not any(problems.values()),
        metadata={"problems": dg.MetadataValue.json(problems)},
    )


def _summary(summary: WindowSummary, spec: WindowSpec, simulated: bool) -> dict:
    """The span's windows by profile first (a short table the UI shows inline), then its numbers."""
    found = summary.metadata()
    by_profile = found.pop("by_profile", None)
    table = {"by_profile": dg.MetadataValue.md(markdown_table(by_profile))} if by_profile is not None else {}
    return table | plain_metadata(
        {
            "windows": found.pop("windows"),
            "positive_share": found.pop("positive_share"),
            **spec.settings(),
            "oracle": "exact (generator's latent state)" if simulated else "none (real action log)",
            **found,
        }
    )
