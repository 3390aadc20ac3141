"""Overlay figures of the fidelity report: the real log and its simulation on the same axes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from poppy_pipeline.common.figures import render_figure
from poppy_pipeline.fidelity.closeness import profiles

REAL, SIMULATED = "real", "simulated"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def draw_overlays(real: pd.DataFrame, simulated: pd.DataFrame) -> dict[str, bytes]:
    """PNG bytes by file stem (`fidelity_*`)."""
    a, b = profiles(real), profiles(simulated)
    drawings = {
        "fidelity_events_per_user": lambda ax: _ccdf(ax, a["per_user"], b["per_user"], "events per user in the window"),
        "fidelity_object_popularity": lambda ax: _rank_frequency(ax, a["per_object"], b["per_object"]),
        "fidelity_gaps": lambda ax: _log_histogram(ax, a["gaps"], b["gaps"]),
        "fidelity_hours": lambda ax: _bars(ax, a["hours"], b["hours"], [str(h) for h in range(24)], "hour (UTC)"),
        "fidelity_weekdays": lambda ax: _bars(ax, a["weekdays"], b["weekdays"], WEEKDAYS, "weekday"),
        "fidelity_ratings": lambda ax: _bars(ax, a["ratings"], b["ratings"], ["1", "2", "3", "4", "5"], "rating"),
    }
    return {name: render_figure(draw) for name, draw in drawings.items()}


def _ccdf(ax, real: np.ndarray, simulated: np.ndarray, what: str) -> None:
    for values, label in ((real, REAL), (simulated, SIMULATED)):
        ordered = np.sort(values)
        ax.step(ordered, 1 - np.arange(len(ordered)) / max(len(ordered), 1), where="post", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(what)
    ax.set_ylabel("share of users with at least")
    ax.legend()


def _rank_frequency(ax, real: np.ndarray, simulated: np.ndarray) -> None:
    for values, label in ((real, REAL), (simulated, SIMULATED)):
        ordered = np.sort(values)[::-1] / max(values.sum(), 1)
        ax.plot(np.arange(1, len(ordered) + 1), ordered, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("object rank")
    ax.set_ylabel("share of events")
    ax.legend()


def _log_histogram(ax, real: np.ndarray, simulated: np.ndarray) -> None:
    bins = np.linspace(0, 7, 36)
    for values, label in ((real, REAL), (simulated, SIMULATED)):
        ax.hist(np.log10(1 + values), bins=bins, density=True, histtype="step", label=label)
    ax.set_xlabel("log10(1 + seconds since the user's previous event)")
    ax.set_ylabel("density")
    ax.legend()


def _bars(ax, real: np.ndarray, simulated: np.ndarray, labels: list[str], what: str) -> None:
    x = np.arange(len(labels))
    for offset, values, label in ((-0.2, real, REAL), (0.2, simulated, SIMULATED)):
        ax.bar(x + offset, values / max(values.sum(), 1), width=0.4, label=label)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_xlabel(what)
    ax.set_ylabel("share")
    ax.legend()
