"""threads.py: work started side by side or in the background gives its results, or its error, to the caller."""

import threading

import pytest

from poppy_pipeline.common import threads


def test_side_by_side_returns_each_result_in_order(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    names: list[str] = []

    def named(value: int):
        def call() -> int:
            names.append(threading.current_thread().name)
            return value

        return call

    assert threads.side_by_side(named(1), named(2), named(3)) == (1, 2, 3)  # a tuple, unpacked by type
    assert threading.current_thread().name not in names  # on the pool's threads


def test_work_in_the_background_gives_its_result_or_its_error():
    release = threading.Event()
    started = threads.in_background(lambda: release.wait(5) and 42)
    assert not started.done()  # the caller went on meanwhile
    release.set()
    assert started.result(timeout=5) == 42

    def failing() -> None:
        raise ValueError("users has unknown Profile values")

    with pytest.raises(ValueError, match="unknown Profile"):
        threads.in_background(failing).result(timeout=5)
