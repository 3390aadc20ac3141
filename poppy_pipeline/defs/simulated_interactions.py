"""`simulated_interactions`: a day of simulated interactions per partition, and its checks.

A simulated day comes from `poppy_pipeline/simulation/interactions.py`; a real log's days come through the
`interaction_source` resource, its rejected rows quarantined (the blocking `quarantine_share`).
The pattern checks measure seed 000's claims on the run's window, a day at a time as the days are
made (`poppy_pipeline/simulation/span_patterns.py`); of those only `integrity` blocks.
"""

import math
from dataclasses import dataclass
from datetime import date

import dagster as dg
import pandas as pd

from poppy_pipeline.dagster_support.checks import not_applicable, span_check_specs
from poppy_pipeline.dagster_support.io_managers import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import daily_partitions, single_run
from poppy_pipeline.dagster_support.quarantine_checks import quarantine, quarantine_spec
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource, read_log_days, sentences
from poppy_pipeline.dagster_support.staged_days import DayStaging, StagedDay
from poppy_pipeline.simulation import patterns
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.repeats import expected_repeat_share, feasible_repeat_shares, revisit_probability
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.span_patterns import MEASURES, SpanPatterns

INTEGRITY = "integrity"
PATTERN_CHECKS = {
    INTEGRITY: "Every Object_ID in celestial_objects, every User_ID in users (signed up by then),"
    " Interaction_ID unique across the window.",
    "type_mix": "View/Click/Favorite/Rate shares within 2 points of interaction_type_weights.",
    "rating_distribution": "Ratings 1-5 only on Rate events, at least 80% of them 3-5.",
    "rating_bias_correlation": "A user's mean rating follows their Rating_Bias (corr ≥ 0.5, users with ≥ 5 ratings).",
    "preferred_type_share": "Users with a preferred type put preferred_type_share (±5 points) of interactions on it.",
    "repeat_share": "repeat_share (±5 points) of interactions, in timestamp order, repeat an earlier"
    " (user, type, object) of the window.",
    "activity_concentration": "Top 10% of users and top 10% of objects each make ≥ 30% of interactions.",
    "evening_peak": "≥ 35% of interactions between 18:00 and 24:00, < 20% between 00:00 and 06:00.",
    "volume": "The span holds the interactions the model expects (interactions_per_day a day from"
    " signup_start on: seed 000's 10,000 in 30 days) within 15%.",
}


@dataclass(frozen=True)
class Expected:
    """What the simulated span's own model expects: the repeat share and the number of interactions."""

    repeats: float
    events: float


PATTERN_SPECS = span_check_specs(
    "simulated_interactions", PATTERN_CHECKS, blocking={INTEGRITY}, inputs=["celestial_objects", "users"]
)


@dg.asset(
    group_name="sources",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    check_specs=[quarantine_spec("simulated_interactions", daily_partitions), *PATTERN_SPECS],
)
def simulated_interactions(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
):  # -> MaterializeResult; with check_specs, Dagster reads an annotation as the output type
    """One CSV per day: `Interaction_ID, User_ID, Object_Type, Object_ID, Interaction_Type,
    Interaction_Rating, Timestamp, Session_ID, Watch_Time_Sec`.

    Simulated, or the days of a real log when `interaction_source` has a path. A simulated day
    depends only on the seed, the catalog, the users and its own date, so any window backfills
    in one run (or in parallel) and gives byte-identical files.
    """
    keys = context.partition_keys
    settings = interaction_source.simulation_settings(
        simulation.settings(), outputs.path()
    )  # fitted when simulating instead
    # A real log owes nothing to seed 000's claims; only its integrity is checked.
    window = SpanPatterns(
        settings, users, celestial_objects, measures=[INTEGRITY] if interaction_source.is_real else MEASURES
    )
    # Each day is staged as it is made and counted into the window's pattern measures; the IO manager
    # puts the staged days in place once the window's checks let them (an integrity failure discards them).
    with csv_io_manager.staging("simulated_interactions") as staging:
        if interaction_source.is_real:
            with sentences():
                days, metadata, intakes, accounting = read_log_days(
                    context, interaction_source, celestial_objects, users, keys
                )
            staged = {key: _stage(staging, window, key, days.pop(key)) for key in keys}
            expected = None
        else:
            staged, metadata, expected = _simulate(context, settings, celestial_objects, users, keys, staging, window)
            intakes, accounting = [], {}
        counts, check = quarantine(
            context,
            "simulated_interactions",
            intakes,
            interaction_source.max_quarantine_share,
            accounting,
            outputs=outputs,
        )
        patterns_checked = _pattern_checks(context, interaction_source, window, keys, expected)
    return dg.MaterializeResult(
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
        check_results=[check, *patterns_checked],
    )


def _stage(staging: DayStaging, window: SpanPatterns, key: str, frame: pd.DataFrame) -> StagedDay:
    """The day written to its staged file while it is counted into the window's pattern measures."""
    return staging.stage(key, frame, meanwhile=lambda: window.add_day(frame))


def _simulate(
    context,
    settings: SimulationSettings,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    keys: list[str],
    staging: DayStaging,
    window: SpanPatterns,
):
    model = build_model(settings, objects, users)
    staged: dict[str, StagedDay] = {}
    for i, key in enumerate(keys, start=1):
        staged[key] = _stage(staging, window, key, simulate_day(model, date.fromisoformat(key)))
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
        "revisit_probability_last_day": revisit_probability(model, last_day),
        "reachable_repeat_share": f"{lowest:.3f}..{highest:.3f}",
    }
    expected = Expected(
        repeats=expected_repeat_share(model, last_day, len(keys)),
        events=model.expected_span_events(date.fromisoformat(key) for key in keys),
    )
    return staged, metadata, expected


def _pattern_checks(
    context: dg.AssetExecutionContext,
    interaction_source: InteractionSourceResource,
    window: SpanPatterns,
    keys: list[str],
    expected: Expected | None,
) -> list[dg.AssetCheckResult]:
    """Seed 000's claims, measured day by day as the days were made (not read back from the files).

    A failed integrity check fails the step before any day is put in place. Share tolerances widen
    to four standard errors on windows too small for the spec's own tolerance (a single
    scheduled day); on the default 30 days the spec's tolerances apply.
    """
    span = f"{keys[0]}..{keys[-1]} ({len(keys)} days, {window.events} interactions)"
    # Real users may act before their recorded sign-up, so that rule is the simulation's alone; a
    # simulated window's repeat share is measured against what its own model expects.
    is_real = interaction_source.is_real
    results = (
        window.results(check_signup=False)
        if is_real or expected is None
        else window.results(expected.repeats, expected_events=expected.events)
    )
    if not results[INTEGRITY].passed:  # a generator bug or a broken log: nothing is written
        raise dg.Failure(f"simulated_interactions {span}: {results[INTEGRITY].describe()} {results[INTEGRITY].details}")
    selected = {key.name for key in context.selected_asset_check_keys}
    return [
        _check_result(context, spec.key, results.get(spec.name), interaction_source, span)
        for spec in PATTERN_SPECS
        if spec.name in selected
    ]


def _check_result(
    context: dg.AssetExecutionContext,
    key: dg.AssetCheckKey,
    result: patterns.PatternResult | None,
    interaction_source: InteractionSourceResource,
    span: str,
) -> dg.AssetCheckResult:
    if result is None:
        return not_applicable(key, f"the interactions are a real {interaction_source.kind} log.", span)
    if result.not_applicable or not math.isfinite(result.value):  # too little data: no verdict, no failure
        why = result.not_applicable or f"too little data to measure it; it needs {result.target}."
        context.log.info(f"{key.name} not applicable on {span}: {why}")
        details = dg.MetadataValue.json(_jsonable(result.details))
        return not_applicable(key, why, span, applies="windows with enough data", details=details)
    context.log.info(result.describe())
    return dg.AssetCheckResult(
        check_name=key.name,
        asset_key=key.asset_key,
        passed=bool(result.passed),
        metadata={
            "measured": dg.MetadataValue.float(float(result.value)),
            "target": result.target,
            "window": span,
            "details": dg.MetadataValue.json(_jsonable(result.details)),
        },
    )


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
