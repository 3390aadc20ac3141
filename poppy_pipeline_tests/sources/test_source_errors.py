"""A source that cannot be used fails with one sentence that never repeats the file's own text (a path
may name any readable file: `/etc/shadow`), naming at most a few column-like names found once the
file parsed as CSV; and the mapping's misspelt keys are refused by name."""

import re
from pathlib import Path

import pytest

from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.sources.csv_log import read_mapping
from poppy_pipeline.sources.log_files import read_poppy_log
from poppy_pipeline.sources.raw_csv import SourceError, read_raw_csv
from poppy_pipeline_tests.assets.test_what_was_seen import NOVEMBER, failure_messages, materialize

SECRET = "root:$6$Zx81pQ$secrethash:19000:0:99999:7:::"


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (
            f"{SECRET}\ndaemon:*:19000:0:99999:7:::\n",
            "the first line has 1 field(s), none of them a column name of this format",
        ),
        (f"{SECRET},token=abc123\nx,y\n", "the first line has 2 field(s), none of them a column name of this format"),
        ("when,who,what,where,why,how,which\n1,2,3,4,5,6,7\n", "found: when, who, what, where, why and 2 more"),
        (f"when,{SECRET}\n1,2\n", "found: when and 1 more"),
    ],
)
def test_a_missing_column_never_repeats_the_files_text(tmp_path: Path, content: str, found: str):
    path = tmp_path / "shadow"
    path.write_text(content)
    with pytest.raises(SourceError) as raised:
        read_poppy_log(path)
    message = str(raised.value)
    assert (
        message == f"{path} line 1: missing column(s) Interaction_ID, User_ID, Object_Type, Object_ID,"
        f" Interaction_Type, Interaction_Rating, Timestamp ({found})"
    )
    assert "secrethash" not in message and "abc123" not in message


def test_a_file_that_is_not_csv_is_named_without_its_content(tmp_path: Path):
    path = tmp_path / "binary"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(128, 256)) * 4)
    with pytest.raises(SourceError) as raised:
        read_poppy_log(path)
    assert str(raised.value).startswith(f"{path} line 1") and "not UTF-8" in str(raised.value)
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('a,b\n"unclosed,' + "secret-value\n" * 3)
    rows = read_raw_csv(quoted, ["a", "b"])  # a quote never closed: its record is set aside, not echoed in an error
    assert rows.problems.notna().all()


def test_a_header_alone_without_its_line_break_is_an_empty_log(tmp_path: Path):
    path = tmp_path / "log.csv"
    path.write_text("Interaction_ID,User_ID,Object_Type,Object_ID,Interaction_Type,Interaction_Rating,Timestamp")
    assert len(read_poppy_log(path).frame) == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("user: u\nitem: i\ntimestamp: t\nobject_type: {colum: kind}\n", "object_type has unknown key(s) ['colum']"),
        ("user: u\nitem: i\ntimestamp: t\nobject_type: {}\n", "object_type has no key(s) ['column']"),
        (
            "user: u\nitem: i\ntimestamp: t\nevent_type: {column: a, map: {x: View}, mapp: {}}\n",
            "event_type has unknown key(s) ['mapp']",
        ),
    ],
)
def test_a_misspelt_mapping_key_is_refused_by_name(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    with pytest.raises(SourceError, match=re.escape(problem)):
        read_mapping(path)


def test_a_source_path_naming_another_file_fails_without_repeating_it(data_dir: Path, tmp_path: Path):
    path = tmp_path / "shadow"
    path.write_text(f"{SECRET}\n")
    result = materialize(InteractionSourceResource(path=str(path), format="poppy"), NOVEMBER, ["users"])
    assert not result.success
    (message,) = failure_messages(result)
    assert message.startswith(f"{path} line 1: missing column(s) Interaction_ID") and "secrethash" not in message
