"""sampling.beta_quantiles: computed by scipy once, then the very table from the disk cache."""

from pathlib import Path

import numpy as np
import pytest

from poppy_pipeline.simulation import sampling

SHAPE = (2.5, 7.25)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(sampling.CACHE_DIR, str(tmp_path / "cache"))
    sampling.beta_quantiles.cache_clear()  # the in-process cache would answer first
    yield tmp_path / "cache"
    sampling.beta_quantiles.cache_clear()


def _scipy_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_):
        raise AssertionError("computed again")

    monkeypatch.setattr(sampling, "betaincinv", fail)


def test_a_later_process_loads_the_table_scipy_computed(cache: Path, monkeypatch: pytest.MonkeyPatch):
    computed = sampling.beta_quantiles(*SHAPE).copy()
    assert [path.name.endswith(".npy") for path in cache.iterdir()] == [True]
    sampling.beta_quantiles.cache_clear()
    _scipy_fails(monkeypatch)
    loaded = sampling.beta_quantiles(*SHAPE)
    assert np.array_equal(loaded, computed) and not loaded.flags.writeable


@pytest.mark.parametrize("damage", [b"not a table", None])
def test_a_damaged_cache_file_is_computed_again(cache: Path, damage: bytes | None):
    computed = sampling.beta_quantiles(*SHAPE).copy()
    (path,) = cache.iterdir()
    if damage is None:  # a valid file, but not quantiles: decreasing
        np.save(path, computed[::-1].copy())
    else:
        path.write_bytes(damage)
    sampling.beta_quantiles.cache_clear()
    assert np.array_equal(sampling.beta_quantiles(*SHAPE), computed)
    assert np.array_equal(np.load(path), computed)  # and saved again


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(sampling.CACHE_DIR, str(blocker / "cache"))  # under a file: no folder there
    sampling.beta_quantiles.cache_clear()
    try:
        table = sampling.beta_quantiles(*SHAPE)
    finally:
        sampling.beta_quantiles.cache_clear()
    assert table.shape == (sampling.ATOMS,) and np.all(np.diff(table) > 0)
    assert list(tmp_path.iterdir()) == [blocker]
