"""Pickles from the outputs folder are loaded with an allow-list: a forged one never runs code."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from poppy_pipeline.behaviour.features import WindowSpec
from poppy_pipeline.click_model import training
from poppy_pipeline.common import safe_pickle


class Forged:
    """What an attacker would place as click_model.pkl: unpickling it runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def trained_model() -> training.TrainedModel:
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(400, 20)), (rng.random(400) < 0.2).astype(int)
    return training.TrainedModel(
        pipeline=training.fit_calibrated(features, labels),
        days=("2026-11-20", "2026-11-21"),
        held_out_users=(3, 4),
        window=WindowSpec(),
        seed=7,
    )


def test_the_model_the_pipeline_writes_loads_back_whole():
    model = trained_model()
    loaded = safe_pickle.loads(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), "click_model.pkl", "click_model")
    assert isinstance(loaded, training.TrainedModel) and loaded.window == model.window
    features = np.random.default_rng(1).normal(size=(50, 20))
    assert np.array_equal(loaded.probabilities(features), model.probabilities(features))


def test_a_forged_pickle_that_runs_code_is_refused_before_it_runs(tmp_path: Path):
    marker = tmp_path / "ran"
    payload = pickle.dumps(Forged(marker))
    with pytest.raises(safe_pickle.RefusedPickle) as refused:
        safe_pickle.loads(payload, "outputs/click_model.pkl", "click_model")
    assert not marker.exists()
    assert str(refused.value) == (
        "outputs/click_model.pkl names posix.system, which the pipeline never writes and which could run code when"
        " loaded, so it is not loaded: delete it and materialize click_model again."
    )
    pickle.loads(payload)  # the same bytes, unpickled as before: they do run code
    assert marker.exists()


@pytest.mark.parametrize(
    ("module", "name"), [("poppy_pipeline.click_model", "TrainedModel"), ("poppy_pipeline.windows", "WindowSpec")]
)
def test_a_pickle_of_the_layout_before_is_refused_with_a_sentence_to_retrain(module: str, name: str):
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")\x81."  # GLOBAL, an empty tuple, NEWOBJ, STOP
    with pytest.raises(
        safe_pickle.RefusedPickle, match=f"earlier version of the pipeline \\(it names {module}.{name},"
    ):
        safe_pickle.loads(payload, "click_model.pkl", "click_model")
    with pytest.raises(safe_pickle.RefusedPickle, match="materialize click_model again to retrain it"):
        safe_pickle.loads(payload, "click_model.pkl", "click_model")


def test_plain_values_need_no_allow_list():
    value = {"weights": [1.5, 2.5], "name": "x", "pair": (1, None)}
    assert safe_pickle.loads(pickle.dumps(value), "thing.pkl", "thing") == value
