"""The click model's figures: ROC against the oracle, reliability, top coefficients (PNG bytes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (`render_figure`)
    from matplotlib.axes import Axes


def draw_figures(held_out: pd.DataFrame, coefficients: pd.DataFrame, bins: int = 10) -> dict[str, bytes]:
    """PNG bytes: ROC (model and oracle), reliability diagram, top coefficients."""
    from poppy_pipeline.common.figures import render_figure

    return {
        "click_model_roc": render_figure(lambda ax: _roc(ax, held_out)),
        "click_model_reliability": render_figure(lambda ax: _reliability(ax, held_out, bins)),
        "click_model_coefficients": render_figure(lambda ax: _coefficients(ax, coefficients.head(15))),
    }


def _roc(ax: Axes, held_out: pd.DataFrame) -> None:
    from sklearn.metrics import roc_auc_score, roc_curve  # here: loading the definitions skips scikit-learn

    labels = held_out["Label"].to_numpy()
    curves = {"model": held_out["Probability"]}
    oracle = pd.to_numeric(held_out["Oracle_Probability"], errors="coerce")
    if oracle.notna().all():
        curves["oracle"] = oracle
    for name, values in curves.items():
        fpr, tpr, _ = roc_curve(labels, values.to_numpy(dtype=float))
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, values):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC on held-out users")
    ax.legend(fontsize=8)


def _reliability(ax: Axes, held_out: pd.DataFrame, bins: int) -> None:
    probabilities = held_out["Probability"].to_numpy(dtype=float)
    edges = np.unique(np.quantile(probabilities, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, probabilities, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": which, "p": probabilities, "y": held_out["Label"].to_numpy()})
    means = frame.groupby("bin").mean()
    top = max(means["p"].max(), means["y"].max()) * 1.05
    ax.plot([0, top], [0, top], linestyle=":", color="grey", label="perfectly calibrated")
    ax.plot(means["p"], means["y"], marker="o", label="model (deciles of prediction)")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed positive share")
    ax.set_title("Reliability on held-out users")
    ax.legend(fontsize=8)


def _coefficients(ax: Axes, top: pd.DataFrame) -> None:
    colours = np.where(top["coefficient"] > 0, "#c0504d", "#4f81bd")
    ax.barh(top["term"][::-1], top["coefficient"][::-1], color=colours[::-1])
    ax.set_xlabel("coefficient (standardised features)")
    ax.set_title("Top terms of the logistic regression")
    ax.tick_params(axis="y", labelsize=6)
