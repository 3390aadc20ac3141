"""One version of each source file per run: reads after the first must find the same bytes."""

from pathlib import Path

import pytest

from poppy_pipeline.sources.raw_csv import SourceError
from poppy_pipeline.sources.snapshots import SourceSnapshot


def test_a_file_rewritten_between_two_reads_is_refused_naming_it(tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("a,b\n1,2\n")
    snapshot = SourceSnapshot()
    assert snapshot.read(path) == b"a,b\n1,2\n" and snapshot.read(path) == b"a,b\n1,2\n"
    path.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(SourceError) as raised:
        snapshot.read(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: changed during the run: this step first read 8 bytes modified ")
    assert "this step now reads 12 bytes" in message and "\n" not in message


def test_a_later_step_holds_its_read_to_what_the_tables_were_made_from(tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("a,b\n1,2\n")
    first = SourceSnapshot()
    first.read(path)
    made_from = first.recorded()
    assert list(made_from) == [str(path)] and made_from[str(path)]["size"] == 8
    later = SourceSnapshot()  # another step, perhaps another process
    later.expect(made_from, "users")
    assert later.read(path) == b"a,b\n1,2\n"
    path.write_text("a,b\n1,2\n3,4\n")
    again = SourceSnapshot()
    again.expect(made_from, "users")
    with pytest.raises(SourceError, match="changed during the run: users was made from 8 bytes"):
        again.read(path)
