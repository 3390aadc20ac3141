"""The vectorised check of the rows read from `Interactions` gives the shared row rules' verdict."""

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.common.columns import APP_INTERACTION_COLUMNS
from poppy_pipeline.sources import database, database_checks
from poppy_pipeline_tests.support.backend_tables import catalog_tables, interaction_rows

COLUMNS = APP_INTERACTION_COLUMNS


def catalog() -> pd.DataFrame:
    tables = catalog_tables()
    return pd.concat(
        [
            pd.DataFrame({"Object_Type": "Star", "Object_ID": tables["Stars"]["Star_ID"]}),
            pd.DataFrame({"Object_Type": "Planet", "Object_ID": tables["Planets"]["Planet_ID"]}),
            pd.DataFrame({"Object_Type": "Moon", "Object_ID": tables["Moons"]["Moon_ID"]}),
        ],
        ignore_index=True,
    )


def as_read(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows as the database source reads them: text, NULL as missing."""
    return rows.astype(object).where(rows.notna(), None).astype(str).where(rows.notna()).astype("str")


# Unusual spellings the shared rules accept or reject, and bad rows of every kind; each row is
# (Interaction_ID, User_ID, Object_Type, Object_Reference_ID, Interaction_Type, Interaction_Rating, timestamp).
ODD_ROWS = [
    ("+501", "3", "Star", "1", "View", None, "2024-02-01 10:00:00"),
    ("0502", " 3", "Star ", "2", "Rate", "4.0", "2024-02-01T10:00:00"),
    ("503", "3", "Moon", "3", "Like", " ", "2024-02-01 10:00:00.250"),
    ("504", "3", "Planet", "4", "Click", None, "2024-02-01 10:00:00+01:00"),
    ("505", "3", "Star", "1", " View", None, "2024-02-01 11:00:00"),
    ("506", "999", "Star", "1", "View", None, "2024-02-01 11:00:00"),
    ("507", "3", "Star", "999", "View", None, "2024-02-01 11:00:00"),
    ("508", "3", "Comet", "1", "View", None, "2024-02-01 11:00:00"),
    ("509", "3", "Star", "1", "Rate", None, "2024-02-01 11:00:00"),
    ("510", "3", "Star", "1", "Rate", "6", "2024-02-01 11:00:00"),
    ("511", "3", "Star", "1", "View", "2", "2024-02-01 11:00:00"),
    ("512", "3", "Star", "1", "View", None, "2024-02-30 10:00:00"),
    ("513", "3", "Star", "1", "View", None, "0000-01-01 00:00:00"),
    ("514", "3", "Star", "1", "View", None, None),
    ("515", "3", "Star", "1", "Share", None, "2024-02-01 12:00:00"),
    ("516", "3", "Star", "1", "View", None, "2024-03-31 02:30:00"),  # skipped in Paris
    ("517", "3", "Star", "1", "View", None, "2024-10-27 02:30:00"),  # repeated in Paris
    ("518", "-3", "Star", "1", "View", None, "2024-02-01 12:00:00"),
    ("-3", "3", "Star", "1", "View", None, "2024-02-01 12:00:00"),
    ("abc", "3", "Star", "1", "View", None, "2024-02-01 12:00:00"),
    (None, "3", "Star", "1", "View", None, "2024-02-01 12:00:00"),
    # Shared IDs: a bad row then a good one (the good one stays), two good ones (the second goes),
    # and one spelled differently (`0007` is 7).
    ("520", "3", "Star", "999", "View", None, "2024-02-01 08:00:00"),
    ("520", "3", "Star", "1", "View", None, "2024-02-01 09:00:00"),
    ("521", "3", "Star", "1", "View", None, "2024-02-01 08:00:00"),
    ("521", "4", "Star", "2", "View", None, "2024-02-01 09:00:00"),
    ("0007", "3", "Star", "1", "View", None, "2024-02-03 09:00:00"),
]


def mixed_rows(event_types: dict[str, str]) -> pd.DataFrame:
    good = as_read(interaction_rows(300, "2024-02-01", 3, seed=9))
    odd = pd.DataFrame(ODD_ROWS, columns=COLUMNS, dtype="str")
    rows = pd.concat([good, odd], ignore_index=True)
    # In ID, then timestamp order (as the checks judge rows that share an ID), sorted independently here.
    number = pd.to_numeric(rows["Interaction_ID"], errors="coerce")
    order = pd.DataFrame({"n": number, "t": rows["Interaction_Timestamp"]})
    return rows.loc[order.sort_values(["n", "t"], kind="stable", na_position="last").index].reset_index(drop=True)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
@pytest.mark.parametrize("event_types", [database.DEFAULT_EVENT_TYPES, {"View": "View", "Like": "Rate"}])
def test_the_vectorised_check_gives_the_shared_rules_verdict(zone, event_types):
    raw = mixed_rows(event_types)
    users = pd.DataFrame({"User_ID": np.arange(1, 41)})
    checked = database.check_interactions(raw, catalog(), users, event_types, zone)
    reference, rejected_at = database_checks._check_by_rules(raw, catalog(), users, event_types, zone)
    assert checked.input_rows == reference.input_rows == len(raw)
    pd.testing.assert_frame_equal(checked.valid, reference.valid)
    expected = raw.iloc[rejected_at].assign(reason=reference.rejected["reason"].to_numpy())
    pd.testing.assert_frame_equal(checked.rejected, expected.reset_index(drop=True))
    assert len(checked.rejected) >= 18  # the odd rows were judged, not waved through
    if event_types["Like"] == "Favorite":  # row 503, a like at 10:00:00.250, is valid: its fraction is kept
        assert checked.valid["Timestamp"].dtype == "datetime64[us]"


def test_rows_in_canonical_form_keep_whole_seconds_and_the_order_read():
    raw = as_read(interaction_rows(500, "2024-02-01", 2, seed=4)).sample(frac=1, random_state=1)
    users = pd.DataFrame({"User_ID": np.arange(1, 41)})
    checked = database.check_interactions(raw, catalog(), users, database.DEFAULT_EVENT_TYPES)
    reference, _ = database_checks._check_by_rules(
        raw.reset_index(drop=True), catalog(), users, database.DEFAULT_EVENT_TYPES, "UTC"
    )
    pd.testing.assert_frame_equal(checked.valid, reference.valid)
    assert checked.rejected.empty and checked.valid["Timestamp"].dtype == "datetime64[s]"
    assert checked.valid["Interaction_ID"].tolist() == raw["Interaction_ID"].astype(int).tolist()
