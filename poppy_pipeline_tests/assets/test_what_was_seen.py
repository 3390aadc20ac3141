"""Issue 23's cases, rebuilt from its descriptions, through the assets: rows conserved and IDs
unchanged, or one sentence naming the file, the line and the column."""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.definitions import defs
from poppy_pipeline.engagement.engine_exports import LAYER_2_FILE
from poppy_pipeline.sources.snapshots import SourceSnapshot
from poppy_pipeline_tests.assets.test_real_logs import FEBRUARY, SOURCES_AND_SUMMARIES
from poppy_pipeline_tests.support.seed002 import write_pings_folder

NOVEMBER = {"dagster/asset_partition_range_start": "2025-11-01", "dagster/asset_partition_range_end": "2025-11-30"}
# IDs that look like numbers, or like missing values, to anything that guesses.
NUMERIC_LOOKING = ["7", "007", "5.0", "NA", "null", "0", "-1", "1e3", "0061120081", "x,y"]


def materialize(source: InteractionSourceResource, tags: dict, names: list[str] = SOURCES_AND_SUMMARIES, **extra):
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in names]
    return dg.materialize(
        [*assets, *(defs.asset_checks or [])],
        resources={**defs.resources, "interaction_source": source, **extra},
        tags=tags,
        raise_on_error=False,
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step's sentence (a `dg.Failure`'s description, else the error)."""
    failures = [e.step_failure_data for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return [f.user_failure_data.description if f.user_failure_data else f.error.message for f in failures]


def as_text(path: Path) -> pd.DataFrame:
    """A CSV's values exactly as written (nothing read as missing, nothing converted)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rename_ids(folder: Path, users: dict[str, str], pings: dict[str, str]) -> None:
    for name, columns in (
        ("users.csv", {"user_id": users}),
        ("pings.csv", {"ping_id": pings, "creator_id": users}),
        ("interactions.csv", {"user_id": users, "ping_id": pings}),
    ):
        frame = as_text(folder / name)
        for column, renamed in columns.items():
            frame[column] = frame[column].map(renamed)
        frame.to_csv(folder / name, index=False)


def test_pings_ids_that_look_like_numbers_or_missing_values_come_back_as_written(data_dir: Path, tmp_path: Path):
    """Case 1: a pings log whose IDs look numeric (`7`, `007`, `5.0`) or missing (`NA`, `null`)."""
    folder = write_pings_folder(tmp_path / "log")
    users = {f"u{i}": NUMERIC_LOOKING[i - 1] if i <= len(NUMERIC_LOOKING) else str(i) for i in range(1, 21)}
    pings = {f"p{i}": f"0{i}" if i % 3 == 0 else str(i) for i in range(1, 41)}
    rename_ids(folder, users, pings)
    result = materialize(InteractionSourceResource(path=str(folder), format="pings"), FEBRUARY)
    assert result.success, failure_messages(result)
    metadata = result.asset_materializations_for_node("simulated_interactions")[0].metadata
    assert metadata["input_rows"].value == 400 and metadata["quarantined_rows"].value == 0
    assert set(as_text(data_dir / "users.csv")["User_ID"]) == set(users.values())
    days = pd.concat([as_text(p) for p in (data_dir / "simulated_interactions").glob("*.csv")])
    log = as_text(folder / "interactions.csv")
    assert len(days) == 400
    pairs = sorted(zip(days["User_ID"], days["Object_ID"], strict=True))
    assert pairs == sorted(zip(log["user_id"], log["ping_id"], strict=True))
    scores = as_text(data_dir / "engagement_scores.csv")
    assert set(scores["User_ID"]) <= set(users.values()) and set(scores["Object_ID"]) <= set(pings.values())
    assert set(as_text(data_dir / "trending_objects.csv")["Object_ID"]) <= set(pings.values())
    # The UI shows each table's schema: declared on the asset, concrete on the materialization.
    columns = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
    assert columns["User_ID"] == columns["Object_ID"] == "string" and columns["Interaction_ID"] == "int64"
    declared = defs.resolve_assets_def("users").specs_by_key[dg.AssetKey("users")].metadata["dagster/column_schema"]
    assert {c.name: c.type for c in declared.columns}["User_ID"] == "id (int64 or string)"


def test_csv_item_ids_with_leading_zeros_are_text_on_every_day(data_dir: Path, tmp_path: Path):
    """Case 1: ISBN-like IDs where one day holds only all-digit ones (`0061120081`, not 61120081)."""
    mapping = tmp_path / "books.yaml"
    mapping.write_text("user: user\nitem: isbn\ntimestamp: time\nrating: stars\n")
    rng = np.random.default_rng(3)
    digits_only = ["0061120081", "0439023483", "0316769487", "0743273567"]
    isbns = [*digits_only, "043942089X"]
    rows = [
        {"user": f"reader{rng.integers(1, 30)}", "stars": rng.integers(1, 6),
         "isbn": digits_only[i % 4] if day == 1 else isbns[i % 5],  # the first day: digits only
         "time": f"2025-11-{day:02d} {rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}:00"}
        for day in range(1, 31) for i in range(12)
    ]  # fmt: skip
    log = tmp_path / "books.csv"
    pd.DataFrame(rows).to_csv(log, index=False)
    names = [*SOURCES_AND_SUMMARIES, "engine_exports"]
    source = InteractionSourceResource(path=str(log), format="csv", mapping=str(mapping))
    result = materialize(source, NOVEMBER, names)
    assert result.success, failure_messages(result)
    assert set(as_text(data_dir / "celestial_objects.csv")["Object_ID"]) == set(isbns)
    assert set(as_text(data_dir / "trending_objects.csv")["Object_ID"]) == set(isbns)
    assert set(as_text(data_dir / "engagement_scores.csv")["Object_ID"]) == set(isbns)
    # The engine binds integer IDs: its file does not apply, and is not written.
    exports = result.asset_materializations_for_node("engine_exports")[0].metadata
    assert "not the integer IDs" in exports["not_applicable"].value
    assert not (data_dir / "engine_exports" / LAYER_2_FILE).exists()


def poppy_log(
    path: Path, rows: int = 3_001, stamps: dict[int, str] | None = None, last_line: str | None = None
) -> Path:
    """A seed-000 log of November 2025; `stamps` replaces some rows' timestamps; `last_line` ends the
    file without a line break."""
    rng = np.random.default_rng(7)
    kinds = rng.choice(["View", "Click", "Favorite", "Rate"], rows)
    frame = pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, rows + 1),
            "User_ID": rng.integers(1, 60, rows),
            "Object_Type": "Star",
            "Object_ID": rng.integers(1, 201, rows),
            "Interaction_Type": kinds,
            "Interaction_Rating": np.where(kinds == "Rate", rng.integers(1, 6, rows).astype(str), ""),
            "Timestamp": (
                pd.Timestamp("2025-11-01") + pd.to_timedelta(rng.integers(0, 29 * 86_400, rows), unit="s")
            ).astype(str),
        }
    )
    for row, stamp in (stamps or {}).items():
        frame.loc[row, "Timestamp"] = stamp
    text = frame.to_csv(index=False, lineterminator="\n")
    if last_line is not None:
        text += last_line
    path.write_text(text)
    return path


@pytest.mark.parametrize("odd", ["2025-11-02T10Z", "2025-11-02 10:00:00+0"])
def test_one_odd_timestamp_keeps_the_whole_log(data_dir: Path, tmp_path: Path, odd: str):
    """Case 2: one row stamped `…T10Z` or `…10:00:00+0` among 3,001 (poppy and pings layouts)."""
    log = poppy_log(tmp_path / "log.csv", stamps={1_500: odd})
    result = materialize(InteractionSourceResource(path=str(log), format="poppy"), NOVEMBER, SOURCES_AND_SUMMARIES[:3])
    assert result.success, failure_messages(result)
    metadata = result.asset_materializations_for_node("simulated_interactions")[0].metadata
    assert metadata["input_rows"].value == 3_001 and metadata["valid_rows_in_window"].value == 3_001
    day = as_text(data_dir / "simulated_interactions" / "2025-11-02.csv")
    assert day.loc[day["Interaction_ID"] == "1501", "Timestamp"].tolist() == ["2025-11-02 10:00:00"]

    folder = write_pings_folder(tmp_path / "pings")
    events = as_text(folder / "interactions.csv")
    events.loc[200, "event_timestamp"] = odd.replace("2025-11-02", "2024-02-10")
    events.to_csv(folder / "interactions.csv", index=False)
    result = materialize(
        InteractionSourceResource(path=str(folder), format="pings"), FEBRUARY, SOURCES_AND_SUMMARIES[:3]
    )
    assert result.success, failure_messages(result)
    metadata = result.asset_materializations_for_node("simulated_interactions")[0].metadata
    assert metadata["quarantined_rows"].value == 0 and metadata["valid_rows_in_window"].value == 400


def test_truncated_values_are_quarantined_not_completed(data_dir: Path, tmp_path: Path):
    """Case 3: a last line cut to `2025-11-04 21:4` (no line break), and `2025-11`."""
    last = "3002,5,Star,7,View,,2025-11-04 21:4"
    log = poppy_log(tmp_path / "log.csv", stamps={10: "2025-11"}, last_line=last)
    source = InteractionSourceResource(path=str(log), format="poppy", max_quarantine_share=0.01)
    result = materialize(source, NOVEMBER, SOURCES_AND_SUMMARIES[:3])
    assert result.success, failure_messages(result)
    rejected = as_text(data_dir / "quarantine" / "simulated_interactions" / "log.csv")
    assert rejected["reason"].tolist() == [
        "line 12: Timestamp '2025-11' is not an ISO 8601 date-time",
        "line 3003: Timestamp '2025-11-04 21:4' is not an ISO 8601 date-time",
    ]
    metadata = result.asset_materializations_for_node("simulated_interactions")[0].metadata
    assert metadata["input_rows"].value == 3_002 and metadata["quarantined_rows"].value == 2
    # Cut at its seconds (`21:40`, a time too), it is refused as cut short, never kept as 21:40:00.
    log = poppy_log(tmp_path / "cut.csv", last_line="3002,5,Star,7,View,,2025-11-04 21:40")
    checked = InteractionSourceResource(path=str(log), format="poppy")
    result = materialize(checked, NOVEMBER, SOURCES_AND_SUMMARIES[:3])
    rejected = as_text(data_dir / "quarantine" / "simulated_interactions" / "cut.csv")
    assert rejected["reason"].tolist() == [
        "line 3003: Timestamp '2025-11-04 21:40' is cut short: the file ends inside this line, shorter than every"
        " other Timestamp"
    ]


def test_a_log_that_changes_during_the_run_fails_with_a_sentence_naming_it(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Case 5: rows appended to the log while the run reads it (after its first read)."""
    log = poppy_log(tmp_path / "log.csv")
    first_read = SourceSnapshot.read

    def read_then_append(self: SourceSnapshot, path: Path) -> bytes:
        data = first_read(self, path)
        with path.open("a", newline="") as handle:  # another program goes on writing the log
            csv.writer(handle, lineterminator="\n").writerow(
                [len(data), 99, "Star", 1, "View", "", "2025-11-05 10:00:00"]
            )
        return data

    monkeypatch.setattr(SourceSnapshot, "read", read_then_append)
    result = materialize(InteractionSourceResource(path=str(log), format="poppy"), NOVEMBER, SOURCES_AND_SUMMARIES[:3])
    assert not result.success
    (message,) = {m for m in failure_messages(result) if "changed during the run" in m}
    assert message.startswith(f"{log}: changed during the run: ") and "\n" not in message
    quarantined = data_dir / "quarantine" / "simulated_interactions" / "log.csv"
    assert not quarantined.exists() or "not a known user" not in quarantined.read_text()


def test_a_log_changed_since_the_users_were_made_from_it_is_refused(data_dir: Path, tmp_path: Path):
    """The same in another run (or another process): the step holds its read to the files `users` and
    `celestial_objects` were made from, recorded beside them."""
    log = poppy_log(tmp_path / "log.csv")
    source = InteractionSourceResource(path=str(log), format="poppy")
    assert materialize(source, NOVEMBER, SOURCES_AND_SUMMARIES[:2]).success
    with log.open("a") as handle:
        handle.write("3002,99,Star,1,View,,2025-11-05 10:00:00\n")
    assets = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.key.to_user_string() in SOURCES_AND_SUMMARIES[:3]
    ]
    result = dg.materialize(
        [*assets, *(defs.asset_checks or [])],
        resources={**defs.resources, "interaction_source": source},
        tags=NOVEMBER,
        selection=["simulated_interactions"],
        raise_on_error=False,
    )
    assert not result.success
    (message,) = failure_messages(result)
    assert message.startswith(f"{log}: changed during the run: users was made from ") or message.startswith(
        f"{log}: changed during the run: celestial_objects was made from "
    )


def test_a_fit_the_simulation_cannot_run_is_not_written(data_dir: Path, tmp_path: Path):
    """Case 6: 80 regular users and 2,600 users with one event each."""
    rng = np.random.default_rng(11)
    regular = np.repeat(np.arange(1, 81), 60)
    once = np.arange(1_000, 3_600)
    users = np.concatenate([regular, once])
    stamps = pd.Timestamp("2025-11-01") + pd.to_timedelta(rng.integers(0, 30 * 86_400, len(users)), unit="s")
    frame = pd.DataFrame(
        {
            "Interaction_ID": np.arange(1, len(users) + 1),
            "User_ID": users,
            "Object_Type": "Star",
            "Object_ID": rng.integers(1, 201, len(users)),
            "Interaction_Type": "View",
            "Interaction_Rating": "",
            "Timestamp": stamps.astype(str),
        }
    )
    log = tmp_path / "log.csv"
    frame.to_csv(log, index=False)
    names = [*SOURCES_AND_SUMMARIES[:3], "simulation_fit"]
    result = materialize(InteractionSourceResource(path=str(log), format="poppy"), NOVEMBER, names)
    assert not result.success
    (message,) = failure_messages(result)
    assert message.startswith("simulation_fit not written: num_users: the estimated share of users active")
    assert not (data_dir / "simulation_fit.json").exists() and not (data_dir / "simulation_fit.yaml").exists()


def test_the_smaller_cases(data_dir: Path, tmp_path: Path):
    """Case 8: IDs `-1` and `0` (text, so not the engine's), a watch time of 1.7e308 (refused), a line
    over 3 MB (refused, naming its line)."""
    mapping = tmp_path / "map.yaml"
    mapping.write_text("user: user\nitem: item\ntimestamp: time\nwatch_time: watched\nevent_type: View\n")
    rows = [f"u{i % 7},{i % 11 - 1},2025-11-{1 + i % 28:02d} 10:00:00,{i % 50}" for i in range(600)]
    rows[5] = "u1,3,2025-11-03 10:00:00,1.7e308"
    rows[9] = "u1,3,2025-11-03 10:00:00," + "9" * 3_200_000
    log = tmp_path / "log.csv"
    log.write_text("user,item,time,watched\n" + "\n".join(rows) + "\n")
    names = [*SOURCES_AND_SUMMARIES, "engine_exports"]
    source = InteractionSourceResource(path=str(log), format="csv", mapping=str(mapping))
    result = materialize(source, NOVEMBER, names)
    assert result.success, failure_messages(result)
    rejected = as_text(data_dir / "quarantine" / "simulated_interactions" / "log.csv")["reason"].tolist()
    assert rejected == [
        "line 7: watched '1.7e308' is more than a year (31,622,400 s)",
        "line 11: is 3,200,025 bytes long, more than a record may be (1,048,576)",
    ]
    assert {"-1", "0"} <= set(as_text(data_dir / "celestial_objects.csv")["Object_ID"])
    assert "inf" not in (data_dir / "engagement_scores.csv").read_text()
    exports = result.asset_materializations_for_node("engine_exports")[0].metadata
    assert "not_applicable" in exports
