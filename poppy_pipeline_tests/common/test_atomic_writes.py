"""The one atomic writer (`paths.replaced_atomically`): files and folders, alone and concurrently."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from poppy_pipeline.common.paths import replaced_atomically

CHUNK = b"x" * 65_536


def _write_file(path: Path, marker: bytes, barrier: threading.Barrier) -> None:
    with replaced_atomically(path) as temporary:
        with temporary.open("wb") as handle:
            handle.write(marker + CHUNK)
            barrier.wait()  # both writers are half-way through their file at the same time
            handle.write(CHUNK + marker)
        barrier.wait()  # and rename at the same time


def _write_folder(path: Path, marker: str, barrier: threading.Barrier) -> None:
    with replaced_atomically(path) as temporary:
        (temporary / "nested").mkdir(parents=True)
        (temporary / "a.txt").write_text(marker)
        barrier.wait()
        (temporary / "nested" / "b.txt").write_text(marker)
        barrier.wait()


def _run_together(writer, path: Path, markers: list) -> None:
    barrier = threading.Barrier(len(markers), timeout=30)
    with ThreadPoolExecutor(len(markers)) as pool:
        for future in [pool.submit(writer, path, marker, barrier) for marker in markers]:
            future.result()  # both finish without an error


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_writers_of_one_file_leave_one_complete_version(tmp_path: Path, round_: int):
    path = tmp_path / "table.csv"
    path.write_bytes(b"previous")
    _run_together(_write_file, path, [b"A", b"B"])
    assert path.read_bytes() in (b"A" + CHUNK * 2 + b"A", b"B" + CHUNK * 2 + b"B")
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary left behind


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_writers_of_one_folder_leave_one_complete_version(tmp_path: Path, round_: int):
    path = tmp_path / "bundle"
    path.mkdir()
    (path / "a.txt").write_text("previous")
    _run_together(_write_folder, path, ["A", "B"])
    marker = (path / "a.txt").read_text()
    assert marker in ("A", "B")
    assert (path / "nested" / "b.txt").read_text() == marker  # not a mix of the two writers
    assert sorted(p.relative_to(path).as_posix() for p in path.rglob("*")) == ["a.txt", "nested", "nested/b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # staging and retired folders are gone


@pytest.mark.parametrize("make", ["file", "folder"])
def test_a_failed_write_keeps_the_previous_version(tmp_path: Path, make: str):
    path = tmp_path / "out"
    path.write_text("previous") if make == "file" else (path.mkdir(), (path / "a.txt").write_text("previous"))
    with pytest.raises(RuntimeError, match="half-way"), replaced_atomically(path) as temporary:
        if make == "file":
            temporary.write_text("half")
        else:
            temporary.mkdir()
            (temporary / "a.txt").write_text("half")
        raise RuntimeError("half-way")
    assert (path if make == "file" else path / "a.txt").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_folder_writer_that_loses_the_race_retires_the_winner_and_lands(tmp_path: Path, monkeypatch):
    """Writer B lands its folder just after writer A moved the previous one aside: A still finishes."""
    path = tmp_path / "bundle"
    path.mkdir()
    (path / "a.txt").write_text("previous")
    real_rename = Path.rename
    interrupted = []

    def rename_then_let_b_in(self: Path, target: Path) -> Path:
        moved = real_rename(self, target)
        if Path(target).name.endswith(".old") and not interrupted:
            interrupted.append(True)
            with replaced_atomically(path) as other:
                other.mkdir()
                (other / "a.txt").write_text("B")
        return moved

    monkeypatch.setattr(Path, "rename", rename_then_let_b_in)
    with replaced_atomically(path) as temporary:
        temporary.mkdir()
        (temporary / "a.txt").write_text("A")
    assert interrupted and (path / "a.txt").read_text() == "A"  # the last rename wins
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
