"""Shared shapes of the project's asset checks."""

import dagster as dg

from poppy_pipeline.defs.partitions import daily_partitions


def window_check_specs(
    asset: str, descriptions: dict[str, str], blocking: set[str], inputs: list[str]
) -> list[dg.AssetCheckSpec]:
    """Partitioned checks of a daily asset that measure the window just materialized."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=asset,
            description=description,
            blocking=name in blocking,
            partitions_def=daily_partitions,
            additional_deps=inputs,
        )
        for name, description in descriptions.items()
    ]


def not_applicable(key: dg.AssetCheckKey, why: str, window: str) -> dg.AssetCheckResult:
    """A check that measures a property of simulated data, run on real data: passed, and said so."""
    return dg.AssetCheckResult(
        check_name=key.name,
        asset_key=key.asset_key,
        passed=True,
        description=f"Not applicable: {why}",
        metadata={"applies": "simulation only", "window": window},
    )
