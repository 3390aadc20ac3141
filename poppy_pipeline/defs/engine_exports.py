"""`engine_exports`: the trending list, published where the back end's C# engine reads it."""

from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.dagster_support.metadata import counts_json, markdown_table
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.run_refusals import config_path_refusal
from poppy_pipeline.engagement.engine_exports import (
    EngineExportError,
    engine_export_dir,
    not_the_engines_ids,
    write_layer_2,
)


class EngineExportConfig(dg.Config):
    folder: str = Field(
        default="",
        description="Where the engine's files go, inside the outputs folder (a relative path is under it) or"
        " $POPPY_ENGINE_EXPORT_DIR; empty = $POPPY_ENGINE_EXPORT_DIR, default <outputs folder>/engine_exports.",
    )


@dg.asset(group_name="engagement", kinds={"csv"}, backfill_policy=single_run)
def engine_exports(
    context: dg.AssetExecutionContext,
    config: EngineExportConfig,
    outputs: OutputsResource,
    trending_objects: pd.DataFrame,
) -> dg.MaterializeResult:
    """`Layer_2_Top_Trending_Per_Type.csv` with the columns the engine's `Layer2_Interaction_Object`
    binds, written atomically. It runs only after `trending_objects` (and its blocking checks) succeed,
    so a bad list never replaces the published one; and it is published with the rest of the run. Not
    applicable, the file left as it was, when the log's object IDs are text: the engine binds integers."""
    if reason := not_the_engines_ids(trending_objects):
        context.log.info(f"engine_exports not applicable: {reason}; the engine's file is left as it was")
        return dg.MaterializeResult(metadata={"not_applicable": reason, "rows": 0})
    folder = _export_folder(config, outputs)
    try:
        with outputs.writing(folder):
            path = outputs.published_path(write_layer_2(trending_objects, outputs.write_path(folder)))
    except EngineExportError as error:
        raise dg.Failure(str(error)) from None
    context.log.info(f"published {path} ({len(trending_objects)} rows)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path.resolve())),
            "rows": len(trending_objects),
            "per_type": counts_json(trending_objects["Object_Type"]),
            "preview": dg.MetadataValue.md(markdown_table(trending_objects.head(10))),
        }
    )


def _export_folder(config: EngineExportConfig, outputs: OutputsResource) -> Path:
    """The configured folder, refused (one sentence) unless inside the outputs folder or $POPPY_ENGINE_EXPORT_DIR."""
    if not config.folder:
        return engine_export_dir(outputs.path())
    folder = outputs.path() / Path(config.folder).expanduser()  # an absolute folder stays as it is
    refused = config_path_refusal({"ops": {"engine_exports": {"config": {"folder": config.folder}}}}, outputs.path())
    if refused:
        raise dg.Failure(description=refused, allow_retries=False)
    return folder
