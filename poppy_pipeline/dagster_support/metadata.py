"""Small helpers that turn results into Dagster metadata."""

import pandas as pd


def markdown_table(frame: pd.DataFrame, max_rows: int = 20) -> str:
    """A Markdown table of the first `max_rows` rows (empty cells for missing values)."""
    head = frame.head(max_rows)
    cells = head.astype(object).where(head.notna(), "")
    header = "| " + " | ".join(map(str, cells.columns)) + " |"
    rule = "|" + "---|" * len(cells.columns)
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in cells.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
