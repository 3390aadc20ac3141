"""The preference assets' figures: predicted against true values (or the predictions alone)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from poppy_pipeline.common.figures import render_figure
from poppy_pipeline.preferences.evaluation import Judged

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (`render_figure`)
    from matplotlib.axes import Axes

HEATMAP_USERS = 40


def draw_figures(model: str, judged: Judged, categories: Sequence[str]) -> dict[str, bytes]:
    """`<model>_vs_truth` (a 2-D histogram of held-out users' predicted against true values), or, without
    a truth, `<model>_values` (the predictions of the first held-out users, category by category)."""
    if judged.truth is not None and len(judged.values):
        return {f"{model}_vs_truth": render_figure(lambda ax: _against_truth(ax, model, judged))}
    return {f"{model}_values": render_figure(lambda ax: _values(ax, model, judged, categories))}


def _against_truth(ax: Axes, model: str, judged: Judged) -> None:
    assert judged.truth is not None  # drawn only where there is a truth (`draw_figures`)
    known = np.isfinite(judged.truth).all(axis=1)
    true, predicted = judged.truth[known].ravel(), judged.values[known].ravel()
    _, _, _, image = ax.hist2d(true, predicted, bins=20, range=[[0, 10], [0, 10]], cmap="viridis", cmin=1)
    ax.figure.colorbar(image, ax=ax, label="user × category cells")
    ax.plot([0, 10], [0, 10], color="white", linewidth=0.8, linestyle="--")
    ax.set_xlabel("true preference (0-10)")
    ax.set_ylabel("predicted (0-10)")
    ax.set_title(f"{model}: held-out users, predicted vs true", fontsize=9)


def _values(ax: Axes, model: str, judged: Judged, categories: Sequence[str]) -> None:
    shown = judged.values[:HEATMAP_USERS]
    image = ax.imshow(shown, aspect="auto", cmap="viridis", vmin=0, vmax=10, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="predicted preference")
    ax.set_xlabel("category")
    ax.set_ylabel("held-out user")
    ax.set_xticks(range(shown.shape[1]))
    ax.set_xticklabels(list(categories)[: shown.shape[1]], rotation=90, fontsize=6)
    ax.set_title(f"{model}: predictions of held-out users (no truth)", fontsize=9)
