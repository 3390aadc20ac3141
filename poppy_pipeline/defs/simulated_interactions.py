"""`simulated_interactions`: a day of simulated interactions per partition, and its checks.

A simulated day comes from `poppy_pipeline/simulation/interactions.py`; a real log's days come through the
`interaction_source` resource, its rejected rows quarantined (the blocking `quarantine_share`).
Its checks are about each day, measured as the day is made and reported per partition: the
blocking `integrity` (checked on the whole span first: a failure writes no day) and
`quarantine_share`. Seed 000's claimed patterns are about a span of days: they are checks of
`interaction_report`, which reads that span.
"""

from collections.abc import Callable, Iterator
from datetime import date

import dagster as dg
import pandas as pd

from poppy_pipeline.dagster_support.checks import day_check_specs, per_day
from poppy_pipeline.dagster_support.column_schemas import column_schema_metadata
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import daily_partitions, single_run
from poppy_pipeline.dagster_support.quarantine_checks import quarantine, quarantine_spec
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource, sentences
from poppy_pipeline.dagster_support.source_steps import read_log_days
from poppy_pipeline.dagster_support.staged_days import DayStaging, StagedDay
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.pattern_results import PatternResult
from poppy_pipeline.simulation.repeats import feasible_repeat_shares, revisit_probability
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.span_patterns import SpanPatterns

INTEGRITY = "integrity"
INTEGRITY_SPECS = day_check_specs(
    "simulated_interactions",
    {
        INTEGRITY: "The day's every Object_ID in celestial_objects, every User_ID in users (signed up by then),"
        " no Interaction_ID seen before in the day or in an earlier day of the run.",
    },
    blocking={INTEGRITY},
    inputs=["celestial_objects", "users"],
)


@dg.asset(
    group_name="sources",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    metadata=column_schema_metadata("simulated_interactions"),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    check_specs=[quarantine_spec("simulated_interactions", daily_partitions), *INTEGRITY_SPECS],
)
def simulated_interactions(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
) -> Iterator[dg.MaterializeResult | dg.Output | dg.AssetCheckEvaluation]:  # then each check per day
    """One CSV per day: `Interaction_ID, User_ID, Object_Type, Object_ID, Interaction_Type,
    Interaction_Rating, Timestamp, Session_ID, Watch_Time_Sec`.

    Simulated, or the days of a real log when `interaction_source` has a path. A simulated day
    depends only on the seed, the catalog, the users and its own date, so any span backfills
    in one run (or in parallel) and gives byte-identical files.
    """
    keys = context.partition_keys
    settings = interaction_source.simulation_settings(
        simulation.settings(), outputs.path()
    )  # fitted when simulating instead
    span = SpanPatterns(settings, users, celestial_objects, measures=[INTEGRITY])
    integrity: dict[str, PatternResult] = {}
    # Each day is staged as it is made and its integrity counted; the IO manager puts the staged days
    # in place once the step returns (an integrity failure raises first and discards them).
    with csv_io_manager.staging("simulated_interactions") as staging:

        def stage(key: str, frame: pd.DataFrame) -> StagedDay:
            return _stage(staging, span, integrity, key, frame, check_signup=not interaction_source.is_real)

        if interaction_source.is_real:
            with sentences():
                days, metadata, intakes, accounting = read_log_days(
                    context, interaction_source, celestial_objects, users, keys
                )
            staged = {key: stage(key, days.pop(key)) for key in keys}
        else:
            staged, metadata = _simulate(context, settings, celestial_objects, users, keys, stage)
            intakes, accounting = [], {}
        counts, quarantined = quarantine(
            context,
            "simulated_interactions",
            intakes,
            interaction_source.max_quarantine_share,
            accounting,
            outputs=outputs,
        )
        _require_integrity(span, integrity, keys, check_signup=not interaction_source.is_real)
    yield dg.MaterializeResult(
        value=staged,
        metadata={
            "source": interaction_source.kind,
            **interaction_source.decision_metadata(),
            "days": len(staged),
            "first_day": keys[0],
            "last_day": keys[-1],
            **metadata,
            **counts,
        },
    )
    # The intake's share is the run's (one log read for all its days): each day reports it.
    yield from per_day(context, dict.fromkeys(keys, quarantined))
    yield from per_day(context, {key: _integrity_result(result) for key, result in integrity.items()})


def _stage(
    staging: DayStaging,
    span: SpanPatterns,
    integrity: dict[str, PatternResult],
    key: str,
    frame: pd.DataFrame,
    check_signup: bool,
) -> StagedDay:
    """The day written to its staged file while its integrity is counted (into the span's too)."""

    def count() -> None:
        integrity[key] = span.add_day_with_integrity(frame, check_signup)

    return staging.stage(key, frame, meanwhile=count)


def _simulate(
    context: dg.AssetExecutionContext,
    settings: SimulationSettings,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    keys: list[str],
    stage: Callable[[str, pd.DataFrame], StagedDay],
) -> tuple[dict[str, StagedDay], dict]:
    model = build_model(settings, objects, users)
    staged: dict[str, StagedDay] = {}
    for i, key in enumerate(keys, start=1):
        staged[key] = stage(key, simulate_day(model, date.fromisoformat(key)))
        if i == len(keys) or i % max(1, len(keys) // 10) == 0:
            context.log.info(f"simulated {i}/{len(keys)} days (last: {key}, {staged[key].rows} interactions)")
    last_day = date.fromisoformat(keys[-1])
    lowest, highest = feasible_repeat_shares(model, last_day)
    if not lowest <= settings.repeat_share <= highest:
        context.log.warning(
            f"repeat_share {settings.repeat_share} is out of reach for these users and objects:"
            f" between {lowest:.3f} and {highest:.3f} over {settings.repeat_reference_days} days"
        )
    metadata = {
        "seed": settings.seed,
        "revisit_probability_last_day": round(revisit_probability(model, last_day), 4),
        "reachable_repeat_share": f"{lowest:.3f}..{highest:.3f}",
    }
    return staged, metadata


def _require_integrity(
    span: SpanPatterns, integrity: dict[str, PatternResult], keys: list[str], check_signup: bool
) -> None:
    """A generator bug or a broken log: the step fails before any day is put in place, naming the days."""
    verdict = span.integrity(check_signup)
    if verdict.passed:
        return
    failed = {key: result.details for key, result in integrity.items() if not result.passed}
    raise dg.Failure(
        f"simulated_interactions {keys[0]}..{keys[-1]}: integrity fails, nothing written: {verdict.details};"
        f" by day: {failed}"
    )


def _integrity_result(result: PatternResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=INTEGRITY,
        asset_key="simulated_interactions",
        passed=result.passed,
        metadata={name: int(value) for name, value in result.details.items()},
    )
