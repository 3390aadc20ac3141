"""A run's staging: published as a whole, or not at all; a publication cut at any step is finished by the next run."""

import json
import os
from pathlib import Path

import pytest

from poppy_pipeline.common import publication
from poppy_pipeline.common.publication import (
    JOURNAL_FILE,
    STAGING_FOLDER,
    Move,
    OutsideRoots,
    RunStaging,
    clear_stale,
    roll_forward,
)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden bookkeeping included), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def published_state(outputs: Path) -> dict[str, bytes]:
    return {name: data for name, data in tree(outputs).items() if not name.startswith(".")}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """A published folder: a table, a day, a bundle of two files, a quarantine file."""
    folder = tmp_path / "outputs"
    write(folder / "users.csv", "old users\n")
    write(folder / "daily" / "2026-03-01.csv", "old day 1\n")
    write(folder / "daily" / "2026-03-02.csv", "old day 2\n")
    write(folder / "bundle" / "model.onnx", "old model\n")
    write(folder / "bundle" / "gone.js", "dropped by the new bundle\n")
    write(folder / "quarantine" / "users" / "log.csv", "old rejected rows\n")
    return folder


def stage_a_run(outputs: Path, run_id: str = "run-1") -> RunStaging:
    staging = RunStaging(outputs, run_id)
    staging.begin()
    write(staging.staged(outputs / "users.csv"), "new users\n")
    write(staging.staged(outputs / "daily" / "2026-03-02.csv"), "new day 2\n")
    write(staging.staged(outputs / "daily" / "2026-03-03.csv"), "new day 3\n")
    write(staging.staged(outputs / "daily" / ".2026-03-04.host.1.abc.staged"), "a writer's temporary file\n")
    bundle = staging.whole_folder(outputs / "bundle")
    write(bundle / "model.onnx", "new model\n")
    write(bundle / "page.html", "new page\n")
    staging.remove_when_published(outputs / "quarantine" / "users" / "log.csv")
    return staging


EXPECTED = {
    "users.csv": b"new users\n",
    "daily/2026-03-01.csv": b"old day 1\n",  # a day the run did not make stays
    "daily/2026-03-02.csv": b"new day 2\n",
    "daily/2026-03-03.csv": b"new day 3\n",
    "bundle/model.onnx": b"new model\n",  # the bundle replaced as a whole: gone.js is gone
    "bundle/page.html": b"new page\n",
}


def test_a_run_is_published_whole_and_leaves_no_staging_or_journal(outputs: Path):
    staging = stage_a_run(outputs)
    before = published_state(outputs)
    assert staging.readable(outputs / "users.csv").read_text() == "new users\n"  # the run reads its own first
    assert staging.readable(outputs / "daily" / "2026-03-01.csv") == outputs / "daily" / "2026-03-01.csv"
    assert published_state(outputs) == before  # nothing changes before publication
    changed = staging.publish()
    assert tree(outputs) == EXPECTED
    assert {str(path.relative_to(outputs)) for path in changed} == {
        "users.csv",
        "daily/2026-03-02.csv",
        "daily/2026-03-03.csv",
        "bundle",
        "quarantine/users/log.csv",
    }


def test_a_failed_run_changes_nothing_and_keeps_only_its_rejected_rows(outputs: Path):
    staging = stage_a_run(outputs)
    write(staging.staged(outputs / "quarantine" / "log" / "events.csv"), "rejected now\n")
    before = published_state(outputs)
    kept = staging.discard(keep_rejected=True)
    assert published_state(outputs) == before
    assert kept == outputs / STAGING_FOLDER / "run-1" / "quarantine"
    assert {str(p.relative_to(outputs)) for p in (outputs / STAGING_FOLDER).rglob("*") if p.is_file()} == {
        f"{STAGING_FOLDER}/run-1/quarantine/log/events.csv"
    }
    assert clear_stale(outputs, current_run="run-2") == ["run-1"]  # the next run removes them
    assert not (outputs / STAGING_FOLDER).exists()


@pytest.mark.parametrize("killed_after", range(6))
def test_a_publication_killed_after_any_step_is_finished_by_the_next_run(
    outputs: Path, killed_after: int, monkeypatch: pytest.MonkeyPatch
):
    """The journal is written before the first rename; every step can be made again."""
    staging = stage_a_run(outputs)
    moves = staging.moves()
    assert len(moves) == 5
    real_apply, done = Move.apply, []

    def apply_then_die(self: Move, run_id: str) -> bool:
        if len(done) == killed_after:
            raise KeyboardInterrupt("killed")  # as far as the folder knows, the process died here
        done.append(self)
        return real_apply(self, run_id)

    monkeypatch.setattr(Move, "apply", apply_then_die)
    if killed_after < len(moves):
        with pytest.raises(KeyboardInterrupt):
            staging.publish()
        assert json.loads((outputs / JOURNAL_FILE).read_text())["run_id"] == "run-1"
        monkeypatch.setattr(Move, "apply", real_apply)
        run_id, changed = roll_forward(outputs)
        assert run_id == "run-1" and len(changed) == len(moves) - killed_after
    else:
        staging.publish()
    assert tree(outputs) == EXPECTED
    assert roll_forward(outputs) is None


def test_a_folder_swap_cut_between_its_two_renames_is_finished(outputs: Path):
    staging = stage_a_run(outputs)
    record = {"run_id": "run-1", "moves": [vars(move) for move in staging.moves()]}
    (outputs / JOURNAL_FILE).write_text(json.dumps(record))
    (outputs / "bundle").rename(outputs / ".bundle.run-1.poppy_old")  # the first rename of the swap, then killed
    roll_forward(outputs)
    assert tree(outputs) == EXPECTED


def test_an_operator_root_outside_the_outputs_is_staged_beside_its_files_and_published_with_the_run(
    outputs: Path, tmp_path: Path
):
    engine = tmp_path / "engine"
    write(engine / "Layer_2.csv", "old list\n")
    staging = RunStaging(outputs, "run-1", roots=[engine])
    staging.begin()
    staged = staging.staged(engine / "Layer_2.csv")
    assert staged == engine / STAGING_FOLDER / "run-1" / "Layer_2.csv"  # same filesystem as its place: a rename
    write(staged, "new list\n")
    assert staging.published(staged) == engine / "Layer_2.csv"
    with pytest.raises(OutsideRoots, match="outside the outputs folder"):
        staging.staged(tmp_path / "elsewhere" / "x.csv")
    assert RunStaging(outputs, "run-1").staging_roots() == [outputs, engine]  # recorded for the publisher
    staging.publish()
    assert (engine / "Layer_2.csv").read_text() == "new list\n"
    assert not (engine / STAGING_FOLDER).exists() and not (outputs / STAGING_FOLDER).exists()


def test_stale_staging_of_dead_runs_is_cleared_under_every_root(outputs: Path, tmp_path: Path):
    engine = tmp_path / "engine"
    dead = RunStaging(outputs, "dead", roots=[engine])
    dead.begin()
    write(dead.staged(engine / "Layer_2.csv"), "half\n")
    write(dead.staged(outputs / "users.csv"), "half\n")
    current = RunStaging(outputs, "current")
    current.begin()
    before = published_state(outputs)
    assert clear_stale(outputs, current_run="current") == ["dead"]
    assert published_state(outputs) == before
    assert not (engine / STAGING_FOLDER).exists()
    assert current.active and not dead.active


def test_moves_skip_hidden_files_and_follow_the_tree_in_order(outputs: Path):
    staging = stage_a_run(outputs)
    kinds = [(move.kind, os.path.relpath(move.final, outputs)) for move in staging.moves()]
    assert kinds == [
        ("folder", "bundle"),
        ("file", "users.csv"),
        ("file", os.path.join("daily", "2026-03-02.csv")),
        ("file", os.path.join("daily", "2026-03-03.csv")),
        ("remove", os.path.join("quarantine", "users", "log.csv")),
    ]


def test_nothing_staged_publishes_nothing_and_writes_no_journal(outputs: Path, monkeypatch: pytest.MonkeyPatch):
    staging = RunStaging(outputs, "empty")
    staging.begin()
    before = tree(outputs)
    monkeypatch.setattr(publication, "replaced_atomically", None)  # a journal would need it
    assert staging.publish() == []
    assert tree(outputs) == before and not (outputs / STAGING_FOLDER).exists()
