"""The interaction report's figures: a title on each, and a group without users is said, not drawn empty."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from poppy_pipeline.engagement.report import figure_drawings
from poppy_pipeline.engagement.report_totals import ReportTotals
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline_tests.conftest import WINDOW, make_model, simulate_window


def drawn(draw) -> tuple[str, list[str]]:
    """The title and x tick labels of one figure."""
    figure, axes = plt.subplots()
    try:
        draw(axes)
        return axes.get_title(), [tick.get_text() for tick in axes.get_xticklabels()]
    finally:
        plt.close(figure)


def report_of(days) -> tuple[dict, dict]:
    model, objects, users = make_model(SimulationSettings(num_users=60))
    totals = ReportTotals(objects, users, "View", ["View", "Click", "Favorite", "Rate"], "Rate")
    frame = simulate_window(model, days)
    totals.add(frame)
    scores = pd.DataFrame({"Object_Type": ["Star"], "Object_ID": [1], "engagement_score": [1.0]})
    return totals.figure_data(), totals.report(scores)


def test_every_report_figure_has_a_title():
    data, report = report_of(WINDOW[-7:])
    for stem, draw in figure_drawings(data, report).items():
        assert drawn(draw)[0], stem


def test_no_new_users_is_said_in_the_title_not_drawn_as_an_empty_half():
    data, report = report_of(WINDOW[-7:])
    groups = report["new_vs_existing"]
    groups["new"] = {"avg_watch_time_ratio": None, "n_interacted_objects": None, "num_users": 0}
    title, ticks = drawn(figure_drawings(data, report)["new_vs_existing_users"])
    assert title == "New vs existing users: no new users in this span"
    assert ticks == [f"existing ({groups['existing']['num_users']} users)"]
    groups["new"]["num_users"] = 3
    title, ticks = drawn(figure_drawings(data, report)["new_vs_existing_users"])
    assert title == "New vs existing users" and len(ticks) == 2
