"""Small helpers that turn results into Dagster metadata."""

import dagster as dg
import pandas as pd


def plain_metadata(values: dict) -> dict:
    """Plain values as metadata: lists and dicts as JSON, the rest as they are."""
    return {
        name: dg.MetadataValue.json(value) if isinstance(value, list | dict) else value
        for name, value in values.items()
    }


def markdown_table(frame: pd.DataFrame, max_rows: int = 20) -> str:
    """A Markdown table of the first `max_rows` rows (empty cells for missing values)."""
    head = frame.head(max_rows)
    cells = head.astype(object).where(head.notna(), "")
    header = "| " + " | ".join(map(str, cells.columns)) + " |"
    rule = "|" + "---|" * len(cells.columns)
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in cells.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
