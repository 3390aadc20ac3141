"""Shared shapes of the project's asset checks."""

import dagster as dg

from poppy_pipeline.dagster_support.partitions import daily_partitions


def span_check_specs(
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


def not_applicable(
    key: dg.AssetCheckKey,
    why: str,
    window: str,
    applies: str = "simulation only",
    details: dg.MetadataValue | None = None,
) -> dg.AssetCheckResult:
    """A check that cannot measure anything here (real data, too little data): passed, and said so.

    The description starts with "Not applicable", which the run summary of `make run` lists.
    """
    return dg.AssetCheckResult(
        check_name=key.name,
        asset_key=key.asset_key,
        passed=True,
        description=f"Not applicable: {why}",
        metadata={"applies": applies, "window": window, **({"details": details} if details else {})},
    )
