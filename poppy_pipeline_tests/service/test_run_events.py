"""A finished run's events (as the webserver's GraphQL API gives them) as one sentence and a source."""

from __future__ import annotations

from poppy_pipeline.service.run_events import MAX_SENTENCE_CHARS, outcome


def step_failure(step: str, class_name: str, message: str, causes: list[dict] | None = None) -> dict:
    error = {"message": message, "className": class_name, "causes": causes or []}
    return {"__typename": "ExecutionStepFailureEvent", "stepKey": step, "error": error}


def check(step: str, name: str, success: bool, severity: str = "ERROR", **metadata: object) -> dict:
    entries = [
        {"label": label, "floatValue": value} if isinstance(value, float) else {"label": label, "text": value}
        for label, value in metadata.items()
    ]
    evaluation = {
        "checkName": name,
        "assetKey": {"path": [step]},
        "success": success,
        "severity": severity,
        "description": None,
        "metadataEntries": entries,
    }
    return {"__typename": "AssetCheckEvaluationEvent", "stepKey": step, "evaluation": evaluation}


def source(kind: str, decision: str) -> dict:
    entries = [{"label": "source", "text": kind}, {"label": "database_decision", "text": decision}]
    return {"__typename": "MaterializationEvent", "assetKey": {"path": ["simulated_interactions"]},
            "metadataEntries": entries}  # fmt: skip


def test_a_failed_blocking_check_is_named_with_what_it_measured():
    events = [
        check("simulated_interactions", "type_mix", False, severity="WARN", measured=0.3),
        check("simulated_interactions", "quarantine_share", False, measured=0.0909, target="≤ 0.01"),
        step_failure("simulated_interactions", "DagsterAssetCheckFailedError", "1 blocking asset check failed\nx: y"),
    ]
    result = outcome("r1", "FAILURE", events)
    assert result.failure == (
        "Run r1 failed: the blocking check simulated_interactions / quarantine_share failed"
        " (measured 0.0909, target ≤ 0.01)."
    )
    assert not result.ok


def test_a_failed_step_is_its_innermost_error_on_one_line_without_the_trace():
    cause = {"message": "Failure: Interactions holds 0 rows in 2026-01-01..2026-01-10,\n fewer than 300.",
             "className": "Failure"}  # fmt: skip
    events = [step_failure("users", "DagsterExecutionStepExecutionError", "Error occurred while executing", [cause])]
    result = outcome("r2", "FAILURE", events)
    assert result.failure == (
        "Run r2 failed in step users: Interactions holds 0 rows in 2026-01-01..2026-01-10, fewer than 300."
    )


def test_a_run_that_failed_before_any_step_says_why():
    events = [{"__typename": "RunFailureEvent", "message": "Run failed", "error": {"message": "x" * 1000,
               "className": "DagsterError", "causes": []}}]  # fmt: skip
    result = outcome("r3", "FAILURE", events)
    assert result.failure.startswith("Run r3 failed: xxx") and len(result.failure) == MAX_SENTENCE_CHARS
    assert outcome("r4", "CANCELED", []).failure == "Run r4 ended CANCELED."


def test_a_successful_run_says_where_its_rows_came_from():
    result = outcome("r5", "SUCCESS", [source("simulation", "holds 3 rows: simulating instead")])
    assert result.ok and result.failure == ""
    assert (result.source, result.decision) == ("simulation", "holds 3 rows: simulating instead")
    assert outcome("r6", "SUCCESS", []).source == ""
