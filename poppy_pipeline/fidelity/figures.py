"""Overlay figures of the fidelity report: the log and the simulation fitted to it, on the same axes.

Each line is named by what it is (`Overlay`): the log is `simulated_interactions` itself when the
pipeline simulates (a default run fits the simulation to its own output), or the real log it
read; the other is the simulation generated from the fit. Every figure has a title; a figure
with nothing to draw for one side says so in its legend, and one with nothing at all in its title.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poppy_pipeline.common.figures import render_figure
from poppy_pipeline.fidelity.closeness import profiles

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (`render_figure`)
    from matplotlib.axes import Axes

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
FITTED = "simulated from the fit"


@dataclass(frozen=True)
class Overlay:
    """The two sides of every figure and what to call them."""

    log: dict[str, np.ndarray]
    simulated: dict[str, np.ndarray]
    log_name: str

    def sides(self, measure: str) -> list[tuple[np.ndarray, str]]:
        """(values, legend label) of each side; a side without values says so in its label."""
        named = ((self.log[measure], self.log_name), (self.simulated[measure], FITTED))
        return [(values, label if _has(measure, values) else f"{label} (none)") for values, label in named]

    def empty(self, measure: str) -> bool:
        return not (_has(measure, self.log[measure]) or _has(measure, self.simulated[measure]))


def _has(measure: str, values: np.ndarray) -> bool:
    """Whether there is anything to draw: a gap of 0 s is one; a count of 0 is not."""
    return bool(len(values)) and (measure == "gaps" or bool(values.any()))


def log_name(source_kind: str) -> str:
    """What the fidelity report calls its log: a real log by its format, or the simulation's own days."""
    return "simulated_interactions (a simulation)" if source_kind == "simulation" else f"the {source_kind} log"


def draw_overlays(log: pd.DataFrame, simulated: pd.DataFrame, name: str = "the log") -> dict[str, bytes]:
    """PNG bytes by file stem (`fidelity_*`); `name`: what the log is (`log_name`)."""
    return {stem: render_figure(draw) for stem, draw in overlay_drawings(log, simulated, name).items()}


def overlay_drawings(log: pd.DataFrame, simulated: pd.DataFrame, name: str) -> dict[str, Callable[[Any], None]]:
    """Each figure's drawing function (of a matplotlib Axes), by file stem."""
    overlay = Overlay(profiles(log), profiles(simulated), name)
    return {
        "fidelity_events_per_user": lambda ax: _ccdf(ax, overlay, "per_user", "events per user in the span"),
        "fidelity_object_popularity": lambda ax: _rank_frequency(ax, overlay),
        "fidelity_gaps": lambda ax: _log_histogram(ax, overlay),
        "fidelity_hours": lambda ax: _bars(ax, overlay, "hours", [str(h) for h in range(24)], "hour (UTC)"),
        "fidelity_weekdays": lambda ax: _bars(ax, overlay, "weekdays", WEEKDAYS, "weekday"),
        "fidelity_ratings": lambda ax: _bars(ax, overlay, "ratings", ["1", "2", "3", "4", "5"], "rating"),
    }


TITLES = {
    "per_user": "Events per user",
    "per_object": "Object popularity",
    "gaps": "Time between a user's events",
    "hours": "Events by hour of day",
    "weekdays": "Events by weekday",
    "ratings": "Ratings",
}


def _title(ax: Axes, overlay: Overlay, measure: str) -> None:
    empty = overlay.empty(measure)
    ax.set_title(TITLES[measure] + (": none in this span" if empty else ""))


def _ccdf(ax: Axes, overlay: Overlay, measure: str, what: str) -> None:
    for values, label in overlay.sides(measure):
        ordered = np.sort(values)
        ax.step(ordered, 1 - np.arange(len(ordered)) / max(len(ordered), 1), where="post", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(what)
    ax.set_ylabel("share of users with at least")
    ax.legend(fontsize=7)
    _title(ax, overlay, measure)


def _rank_frequency(ax: Axes, overlay: Overlay) -> None:
    for values, label in overlay.sides("per_object"):
        ordered = np.sort(values)[::-1] / max(values.sum(), 1)
        ax.plot(np.arange(1, len(ordered) + 1), ordered, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("object rank")
    ax.set_ylabel("share of events")
    ax.legend(fontsize=7)
    _title(ax, overlay, "per_object")


def _log_histogram(ax: Axes, overlay: Overlay) -> None:
    bins = np.linspace(0, 7, 36).tolist()  # the same edges; matplotlib's stubs take a sequence, not an array
    for values, label in overlay.sides("gaps"):
        if len(values):
            ax.hist(np.log10(1 + values), bins=bins, density=True, histtype="step", label=label)
        else:
            ax.plot([], [], label=label)
    ax.set_xlabel("log10(1 + seconds since the user's previous event)")
    ax.set_ylabel("density")
    ax.legend(fontsize=7)
    _title(ax, overlay, "gaps")


def _bars(ax: Axes, overlay: Overlay, measure: str, labels: list[str], what: str) -> None:
    x = np.arange(len(labels))
    for offset, (values, label) in zip((-0.2, 0.2), overlay.sides(measure), strict=True):
        ax.bar(x + offset, values / max(values.sum(), 1), width=0.4, label=label)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_xlabel(what)
    ax.set_ylabel("share")
    ax.legend(fontsize=7)
    _title(ax, overlay, measure)
