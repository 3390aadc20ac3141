"""The fidelity report's figures: a title on each, both sides named by what they are, no empty panel."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from poppy_pipeline.fidelity.figures import FITTED, draw_overlays, log_name, overlay_drawings
from poppy_pipeline_tests.fidelity.test_fit import DAYS, KNOWN, simulate


@pytest.fixture(scope="module")
def week():
    events, *_ = simulate(KNOWN, DAYS[:7])
    return events


def drawn(draw) -> tuple[str, list[str]]:
    """The title and legend labels of one figure."""
    figure, axes = plt.subplots()
    try:
        draw(axes)
        return axes.get_title(), [text.get_text() for text in axes.get_legend().get_texts()]
    finally:
        plt.close(figure)


def test_every_figure_has_a_title_and_names_its_sides(week):
    name = log_name("simulation")
    assert name == "simulated_interactions (a simulation)" and log_name("pings") == "the pings log"
    for stem, draw in overlay_drawings(week, week.sample(frac=0.5, random_state=1), name).items():
        title, labels = drawn(draw)
        assert title and "none" not in title, stem
        assert labels == [name, FITTED], stem
    figures = draw_overlays(week, week, name)
    assert len(figures) == 6 and all(png.startswith(b"\x89PNG") for png in figures.values())


def test_a_measure_with_nothing_to_draw_says_so(week):
    unrated = week.assign(Interaction_Rating=float("nan"))
    half_rated = overlay_drawings(week, unrated, "the poppy log")["fidelity_ratings"]
    title, labels = drawn(half_rated)
    assert title == "Ratings" and labels == ["the poppy log", f"{FITTED} (none)"]
    title, labels = drawn(overlay_drawings(unrated, unrated, "the poppy log")["fidelity_ratings"])
    assert title == "Ratings: none in this span"
    assert labels == ["the poppy log (none)", f"{FITTED} (none)"]
