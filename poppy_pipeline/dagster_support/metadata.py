"""Results turned into Dagster metadata: figures first, then short readable numbers, then links.

The asset page shows a materialization's metadata as a table, top to bottom in the order given.
The UI shows a Markdown entry inline only when it is shorter than 1,000 characters, and hides
longer ones behind "[Show Markdown]"; a figure embedded as a data URI is tens of thousands. So
each figure is one short Markdown entry, an image whose PNG the Dagster webserver itself serves:
a copy kept with the run's logs (`<compute logs>/<run id>/figures/<asset>/<name>.png`, served at
`/logs/<run id>/figures/<asset>/<name>/png`, where the UI downloads a step's logs). The figures
under the outputs folder stay the ones to use; these copies are the run's record, kept and
deleted with its logs. When the instance keeps logs elsewhere than on this machine's disk (a
cloud log manager), the figures are one "[Show Markdown]" gallery instead.
"""

import base64
import math
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from poppy_pipeline.common.paths import replaced_atomically

SIGNIFICANT_DIGITS = 4


def plain_metadata(values: dict) -> dict:
    """Plain values as metadata: lists and dicts as JSON, floats to four significant digits."""
    return {
        name: dg.MetadataValue.json(readable_json(value)) if isinstance(value, list | dict) else readable(value)
        for name, value in values.items()
    }


def counts_json(values: pd.Series) -> dg.JsonMetadataValue:
    """How often each value occurs, most frequent first, as JSON metadata (`{"Star": 120, ...}`)."""
    return dg.MetadataValue.json({str(value): int(count) for value, count in values.value_counts().items()})


def readable_json(value: list | tuple | dict) -> list[object] | dict[str, object]:
    """`readable` of a list, tuple or dict, which stays a list or dict (JSON metadata)."""
    if isinstance(value, dict):
        return {str(key): readable(item) for key, item in value.items()}
    return [readable(item) for item in value]


def readable(value: object) -> object:
    """`value` with every float rounded to four significant digits (lists and dicts through), and
    numpy scalars as Python numbers: 0.6005336245236019 reads 0.6005."""
    if isinstance(value, list | tuple | dict):
        return readable_json(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def markdown_table(frame: pd.DataFrame, max_rows: int = 20) -> str:
    """A Markdown table of the first `max_rows` rows (empty cells for missing values, floats readable)."""
    head = frame.head(max_rows)
    cells = head.astype(object).where(head.notna(), "").map(readable)
    header = "| " + " | ".join(map(str, cells.columns)) + " |"
    rule = "|" + "---|" * len(cells.columns)
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in cells.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def figure_metadata(context: dg.AssetExecutionContext, figures: dict[str, bytes]) -> dict[str, dg.MetadataValue]:
    """The figures as the first metadata entries: one inline image each, or one gallery (see above)."""
    logs = context.instance.compute_log_manager
    if not isinstance(logs, LocalComputeLogManager):
        return {"figures": dg.MetadataValue.md(markdown_gallery(figures))}
    asset = context.asset_key.to_user_string()
    entries: dict[str, dg.MetadataValue] = {}
    for name, png in figures.items():
        log_key = [context.run.run_id, "figures", asset, name]
        with replaced_atomically(Path(logs.get_captured_local_path(log_key, "png"))) as temporary:
            temporary.write_bytes(png)
        entries[name] = dg.MetadataValue.md(f"![{name.replace('_', ' ')}](/logs/{'/'.join(log_key)}/png)")
    return entries


def markdown_gallery(figures: dict[str, bytes]) -> str:
    """Markdown that shows every figure inline (data URIs), behind the UI's "[Show Markdown]"."""
    parts = []
    for name, png in figures.items():
        encoded = base64.b64encode(png).decode()
        parts.append(f"**{name.replace('_', ' ')}**\n\n![{name}](data:image/png;base64,{encoded})")
    return "\n\n".join(parts)
