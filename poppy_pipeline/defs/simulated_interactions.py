"""`simulated_interactions`: a day of simulated interactions per partition, and its checks."""

from datetime import date

import dagster as dg
import pandas as pd

from poppy_pipeline import patterns
from poppy_pipeline.defs.partitions import daily_partitions, single_run
from poppy_pipeline.defs.resources import SimulationResource
from poppy_pipeline.interactions import (
    build_model,
    expected_repeat_share,
    feasible_repeat_shares,
    revisit_probability,
    simulate_day,
)


@dg.asset(
    group_name="simulation",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    tags={"layer": "events"},
)
def simulated_interactions(
    context: dg.AssetExecutionContext,
    simulation: SimulationResource,
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
) -> dg.MaterializeResult[dict[str, pd.DataFrame]]:
    """One CSV per day: `Interaction_ID, User_ID, Object_Type, Object_ID, Interaction_Type,
    Interaction_Rating, Timestamp, Session_ID, Watch_Time_Sec`.

    Each day depends only on the seed, the catalog, the users and its own date, so any window
    backfills in one run (or in parallel) and gives byte-identical files.
    """
    settings = simulation.settings()
    model = build_model(settings, celestial_objects, users)
    keys = context.partition_keys
    days: dict[str, pd.DataFrame] = {}
    for i, key in enumerate(keys, start=1):
        day = date.fromisoformat(key)
        frame = simulate_day(model, day)
        guard = patterns.integrity(frame, users, celestial_objects)
        if not guard.passed:  # a generator bug: fail before anything is written
            raise dg.Failure(f"simulated_interactions {key}: {guard.describe()} {guard.details}")
        days[key] = frame
        if i == len(keys) or i % max(1, len(keys) // 10) == 0:
            context.log.info(f"simulated {i}/{len(keys)} days (last: {key}, {len(frame)} interactions)")
    last_day = date.fromisoformat(keys[-1])
    lowest, highest = feasible_repeat_shares(model, last_day)
    if not lowest <= settings.repeat_share <= highest:
        context.log.warning(
            f"repeat_share {settings.repeat_share} is out of reach for these users and objects:"
            f" between {lowest:.3f} and {highest:.3f} over {settings.repeat_reference_days} days"
        )
    return dg.MaterializeResult(
        value=days,
        metadata={
            "days": len(days),
            "first_day": keys[0],
            "last_day": keys[-1],
            "revisit_probability_last_day": revisit_probability(model, last_day),
            "reachable_repeat_share": f"{lowest:.3f}..{highest:.3f}",
            "seed": settings.seed,
        },
    )


INTEGRITY = "integrity"
PATTERN_CHECKS = {
    INTEGRITY: "Every Object_ID in celestial_objects, every User_ID in users (signed up by then),"
    " Interaction_ID unique across the window.",
    "type_mix": "View/Click/Favorite/Rate shares within 2 points of interaction_type_weights.",
    "rating_distribution": "Ratings 1-5 only on Rate events, at least 80% of them 3-5.",
    "rating_bias_correlation": "A user's mean rating follows their Rating_Bias (corr ≥ 0.5, users with ≥ 3 ratings).",
    "preferred_type_share": "Users with a preferred type put preferred_type_share (±5 points) of interactions on it.",
    "repeat_share": "repeat_share (±5 points) of interactions, in timestamp order, repeat an earlier"
    " (user, type, object) of the window.",
    "activity_concentration": "Top 10% of users and top 10% of objects each make ≥ 30% of interactions.",
    "evening_peak": "≥ 35% of interactions between 18:00 and 24:00, < 20% between 00:00 and 06:00.",
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name,
            asset="simulated_interactions",
            description=description,
            blocking=name == INTEGRITY,
            partitions_def=daily_partitions,
            additional_deps=["celestial_objects", "users"],
        )
        for name, description in PATTERN_CHECKS.items()
    ],
    ins={name: dg.AssetIn() for name in ("simulated_interactions", "celestial_objects", "users")},
    can_subset=True,
)
def simulated_interactions_patterns(
    context: dg.AssetCheckExecutionContext,
    simulation: SimulationResource,
    simulated_interactions: dict[str, pd.DataFrame],
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
):
    """Measure seed 000's claims on the window just materialized (one step, one load).

    Share tolerances widen to four standard errors on windows too small for the spec's own
    tolerance (a single scheduled day); on the default 30 days the spec's tolerances apply.
    """
    settings = simulation.settings()
    keys = sorted(simulated_interactions)
    window = pd.concat([simulated_interactions[k] for k in keys], ignore_index=True)
    model = build_model(settings, celestial_objects, users)
    expected_repeats = expected_repeat_share(model, date.fromisoformat(keys[-1]), len(keys))
    results = {
        INTEGRITY: patterns.integrity(window, users, celestial_objects),
        "type_mix": patterns.type_mix(window, settings),
        "rating_distribution": patterns.rating_distribution(window),
        "rating_bias_correlation": patterns.rating_bias_correlation(window, users),
        "preferred_type_share": patterns.preferred_type_share(window, users, settings),
        "repeat_share": patterns.repeat_share(window, expected_repeats),
        "activity_concentration": patterns.concentration(window, users, celestial_objects),
        "evening_peak": patterns.hour_profile(window),
    }
    for spec in context.selected_asset_check_keys:
        result = results[spec.name]
        context.log.info(result.describe())
        yield dg.AssetCheckResult(
            check_name=spec.name,
            asset_key=spec.asset_key,
            passed=bool(result.passed),
            metadata={
                "measured": dg.MetadataValue.float(float(result.value)),
                "target": result.target,
                "window": f"{keys[0]}..{keys[-1]} ({len(keys)} days, {len(window)} interactions)",
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
