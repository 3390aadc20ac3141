"""Shared shapes of the project's asset checks.

Two kinds, by what they are about:

- **a day**: a daily asset's checks are partitioned (`day_check_specs`) and report one result
  per day of the step (`per_day`), so the UI's check list, lineage node and partition view show
  each day's own result. Dagster's `AssetCheckResult` has no partition: in a step over a range of
  days it records one result without a day, and the days planned at the run's start then read
  "Skipped". `per_day` records `AssetCheckEvaluation`s that name their day instead.
- **a span**: checks of a claim over many days (seed 000's patterns, seed 001's targets) belong to
  the summary asset that reads that span (interaction_report, click_model), unpartitioned.

`publish` gives a model's value only when its blocking checks pass (click_model, click_model_onnx).
"""

from collections.abc import Iterator, Mapping

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationTargetMaterializationData

from poppy_pipeline.dagster_support.metadata import readable
from poppy_pipeline.dagster_support.partitions import daily_partitions


def day_check_specs(
    asset: str, descriptions: dict[str, str], blocking: set[str], inputs: list[str] | None = None
) -> list[dg.AssetCheckSpec]:
    """Partitioned checks of a daily asset, each measured on each day it makes."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=asset,
            description=description,
            blocking=name in blocking,
            partitions_def=daily_partitions,
            additional_deps=inputs or [],
        )
        for name, description in descriptions.items()
    ]


def per_day(
    context: dg.AssetExecutionContext, results: Mapping[str, dg.AssetCheckResult]
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """Each day's result of one check (`results`: by partition key, each naming its check), as the
    step's check output and one evaluation per day; nothing when the run did not select the check.

    A blocking check that fails on any day still fails the step (Dagster raises after the step
    for every failed blocking evaluation), after every day's result is recorded.
    """
    if not results:
        return
    first = next(iter(results.values()))
    key = dg.AssetCheckKey(first.asset_key or context.asset_key, first.check_name or "")
    if key not in context.selected_asset_check_keys:
        return
    spec = context.assets_def.get_spec_for_check_key(key)
    targets = _materialized_days(context, key.asset_key, list(results))
    yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(key))
    for day, result in results.items():
        yield dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=result.passed,
            metadata=result.metadata,
            target_materialization_data=targets.get(day),
            severity=result.severity,
            description=result.description,
            blocking=spec.blocking,
            partition=day,
        )


def _materialized_days(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, days: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Each day's materialization by this run (when the step wrote it), which the day's result is
    about: the UI shows a day's check status only while it targets the day's latest materialization."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=days), limit=len(days)
    ).records
    targets: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:  # the latest first
        if record.run_id == context.run.run_id and record.partition_key and record.partition_key not in targets:
            targets[record.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
            )
    return targets


def publish(
    context: dg.AssetExecutionContext,
    value: object,
    metadata: dict,
    checks: list[dg.AssetCheckResult],
    others: list[dg.AssetCheckResult] | None = None,
) -> Iterator[dg.MaterializeResult | dg.AssetObservation | dg.AssetCheckResult]:
    """The value and its checks when every blocking check (`checks`) passes; else the checks alone,
    so nothing is written. `others` (not blocking) are reported either way.

    With `output_required=False` an asset that yields no value writes no file: the previously
    published one stays, byte for byte, and the assets downstream do not run.
    """
    others = others or []
    failed = [check for check in checks if not check.passed]
    if not failed:
        yield dg.MaterializeResult(value=value, metadata=metadata, check_results=[*checks, *others])
        return
    asset = context.asset_key.to_user_string()
    context.log.error(
        f"{asset} not published, the previous file stays: blocking checks failed: "
        + "; ".join(f"{check.check_name} ({check.description or _short(check.metadata)})" for check in failed)
    )
    yield dg.AssetObservation(asset_key=context.asset_key, metadata={**metadata, "published": False})
    yield from checks
    yield from others


def _short(metadata: Mapping) -> str:
    """The first few metadata entries, numbers to four significant digits."""
    values = {key: getattr(value, "value", value) for key, value in list(metadata.items())[:4]}
    return ", ".join(f"{key} {readable(value)}" for key, value in values.items())


def not_applicable(
    key: dg.AssetCheckKey,
    why: str,
    span: str,
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
        metadata={"applies": applies, "span": span, **({"details": details} if details else {})},
    )
