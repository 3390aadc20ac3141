"""Figures as PNG bytes, the same way for every report (interactions, the click model, fidelity)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (see below)
    from matplotlib.axes import Axes

# 432 × 259 px: the width the Dagster UI's metadata table gives an inline image on a 1600-px-wide window.
FIGURE_DPI = 72


def render_figure(draw: Callable[[Axes], None]) -> bytes:
    """PNG bytes of one figure drawn by `draw(axes)`: headless, and the same data gives the same bytes."""
    # Imported here: only the figure-drawing assets pay for matplotlib (a run of other assets does not).
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers and CI
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.6), dpi=FIGURE_DPI)
    try:
        draw(axes)
        figure.tight_layout()
        buffer = io.BytesIO()
        # No timestamps in the file, so the same data gives the same bytes.
        figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)
