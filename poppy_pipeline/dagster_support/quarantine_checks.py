"""Rejected input rows: written to the quarantine folder, counted, and checked."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd

from poppy_pipeline.common.paths import quarantine_dir
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.sources.quarantine import write_quarantine

QUARANTINE_CHECK = "quarantine_share"


@dataclass
class Intake:
    """One input file's rows: how many came in and which were rejected (with a reason)."""

    source_file: Path
    input_rows: int
    rejected: pd.DataFrame


def quarantine_spec(asset: str, partitions_def: dg.PartitionsDefinition | None = None) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        QUARANTINE_CHECK,
        asset=asset,
        description="The share of input rows quarantined stays within the source's max_quarantine_share (default 1%).",
        blocking=True,
        partitions_def=partitions_def,
    )


def quarantine(
    context: dg.AssetExecutionContext,
    asset: str,
    intakes: list[Intake],
    threshold: float,
    accounting: dict[str, int] | None = None,
    *,
    outputs: OutputsResource,
) -> tuple[dict, dg.AssetCheckResult]:
    """Write each intake's rejected rows (under `quarantine/` of the outputs, with the run), log them, and
    return (metadata, check result). A source with no rejected row any more loses its old file.

    `accounting`: for a daily asset, `input_rows = valid_rows_in_window + rows_outside_window +
    quarantined_rows`, recorded with the counts.
    """
    files = {}
    for intake in intakes:
        with outputs.writing():
            written = write_quarantine(outputs.write_root(), asset, intake.source_file.name, intake.rejected)
        files[intake.source_file.name] = {"input_rows": intake.input_rows, "quarantined": len(intake.rejected)}
        published = quarantine_dir(outputs.path(), asset) / f"{intake.source_file.stem}.csv"
        if not written and published.exists():
            outputs.remove_when_published(published)
        if written:
            first = intake.rejected["reason"].iloc[0]
            context.log.warning(
                f"{len(intake.rejected)} of {intake.input_rows} rows of {intake.source_file}"
                f" quarantined in {outputs.published_path(written)}; first: {first}"
            )
    total = sum(i.input_rows for i in intakes)
    rejected = sum(len(i.rejected) for i in intakes)
    share = rejected / total if total else 0.0
    metadata = {"input_rows": total, **(accounting or {}), "quarantined_rows": rejected, "quarantined_share": share}
    result = dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        asset_key=asset,
        passed=share <= threshold,
        metadata={**metadata, "threshold": threshold, "files": dg.MetadataValue.json(files)},
    )
    return metadata, result
