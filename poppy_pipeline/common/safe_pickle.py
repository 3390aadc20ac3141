"""Pickles read back with an allow-list: a file in the outputs folder never runs code when loaded.

An ordinary `pickle.loads` calls whatever the file names (`os.system`, `subprocess.Popen`, …), so
anyone able to write to the outputs folder could run code in the pipeline's process; a checksum
beside the file guards against damage, not against a forger who rewrites both. Here every class
or function a pickle names must be one the pipeline writes (`ALLOWED`: the click model's
`TrainedModel`, its scikit-learn pipeline, numpy arrays); any other name refuses the file before
anything in it is called. A pickle written before the layout change names the old modules of the
model's classes (`poppy_pipeline.click_model`, `poppy_pipeline.windows`): it is refused with a
sentence that says to retrain. A new pickled asset adds the classes it writes to `ALLOWED` (a
test pickles each asset's value and loads it back).
"""

from __future__ import annotations

import io
import pickle

# What the pipeline's pickles name: (module, name), as `pickle` records them.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("poppy_pipeline.click_model.training", "TrainedModel"),
        ("poppy_pipeline.behaviour.features", "WindowSpec"),
        ("sklearn.pipeline", "Pipeline"),
        ("sklearn.preprocessing._data", "StandardScaler"),
        ("sklearn.preprocessing._polynomial", "PolynomialFeatures"),
        ("sklearn.linear_model._logistic", "LogisticRegression"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.numeric", "_frombuffer"),
    }
)


class RefusedPickle(pickle.UnpicklingError):
    """A pickle that names something the pipeline never writes: not loaded."""


def loads(payload: bytes, source: str, asset: str) -> object:
    """The object pickled in `payload` (read from `source`, the value of `asset`), refused unless
    every class and function it names is in `ALLOWED`."""
    return _AllowListed(io.BytesIO(payload), source, asset).load()


class _AllowListed(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, source: str, asset: str) -> None:
        super().__init__(file)
        self._source = source
        self._asset = asset

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        if module == "poppy_pipeline" or module.startswith("poppy_pipeline."):
            raise RefusedPickle(
                f"{self._source} was written by an earlier version of the pipeline (it names {module}.{name},"
                f" which this version does not have), so it is not loaded: materialize {self._asset} again to"
                " retrain it."
            )
        raise RefusedPickle(
            f"{self._source} names {module}.{name}, which the pipeline never writes and which could run code when"
            f" loaded, so it is not loaded: delete it and materialize {self._asset} again."
        )

    def persistent_load(self, pid: object) -> object:
        raise RefusedPickle(f"{self._source} refers to objects outside the file, so it is not loaded.")
