"""What a finished run says, read from its events over GraphQL: its failure as one sentence (never a
stack trace), and where its rows came from (the database, or a simulation instead of too few rows)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SENTENCE_CHARS = 400
SOURCE_ASSET = "simulated_interactions"  # records the source and the database decision in its metadata
CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"  # a step whose blocking check failed

_ERROR = "message className causes { message className }"
QUERY = f"""query($id: ID!) {{ logsForRun(runId: $id, limit: 100000) {{ ... on EventConnection {{ events {{
  __typename
  ... on ExecutionStepFailureEvent {{ stepKey error {{ {_ERROR} }} }}
  ... on RunFailureEvent {{ message error {{ {_ERROR} }} }}
  ... on AssetCheckEvaluationEvent {{ stepKey evaluation {{ checkName assetKey {{ path }} success severity description
      metadataEntries {{ label ... on TextMetadataEntry {{ text }} ... on FloatMetadataEntry {{ floatValue }}
      ... on IntMetadataEntry {{ intValue }} }} }} }}
  ... on MaterializationEvent {{ assetKey {{ path }} metadataEntries {{ label ... on TextMetadataEntry {{ text }} }} }}
}} }} ... on Error {{ message }} }} }}"""


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: str
    failure: str  # one sentence; empty when the run succeeded
    source: str  # where the rows came from: "database", "simulation", ...; empty when unknown
    decision: str  # the database decision's sentence (rows in the span, simulated instead), when there is one

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS" and not self.failure


def outcome(run_id: str, status: str, events: list[dict]) -> RunOutcome:
    source, decision = _source(events)
    failure = "" if status == "SUCCESS" else _failure(run_id, status, events)
    return RunOutcome(run_id, status, failure, source, decision)


def _source(events: list[dict]) -> tuple[str, str]:
    for event in events:
        if event.get("__typename") == "MaterializationEvent" and event["assetKey"]["path"] == [SOURCE_ASSET]:
            entries = {entry["label"]: entry.get("text") or "" for entry in event["metadataEntries"]}
            return entries.get("source", ""), entries.get("database_decision", "")
    return "", ""


def _failure(run_id: str, status: str, events: list[dict]) -> str:
    """The first failed blocking check, else the first failed step, else the run's own failure."""
    step_failures = [event for event in events if event.get("__typename") == "ExecutionStepFailureEvent"]
    checked = {event["stepKey"] for event in step_failures if _class(event["error"]) == CHECK_FAILED_ERROR}
    for event in events:
        evaluation = event.get("evaluation")
        if not evaluation:
            continue
        failed = not evaluation["success"] and evaluation["severity"] == "ERROR"
        if failed and event.get("stepKey") in checked:
            return _bounded(f"Run {run_id} failed: {_check_sentence(evaluation)}")
    if step_failures:
        first = step_failures[0]
        return _bounded(f"Run {run_id} failed in step {first['stepKey']}: {_error_sentence(first['error'])}")
    for event in events:
        if event.get("__typename") == "RunFailureEvent":
            text = _error_sentence(event["error"]) if event.get("error") else _one_line(event.get("message") or "")
            return _bounded(f"Run {run_id} failed: {text}")
    return f"Run {run_id} ended {status}."


def _check_sentence(evaluation: dict) -> str:
    asset = "/".join(evaluation["assetKey"]["path"])
    values = {entry["label"]: _entry_value(entry) for entry in evaluation["metadataEntries"]}
    if "measured" in values:
        measured = f"measured {values['measured']}, target {values.get('target', '?')}"
    else:
        measured = ", ".join(f"{label} {value}" for label, value in values.items() if value is not None)
    detail = "; ".join(part for part in (_one_line(evaluation.get("description") or ""), measured) if part)
    return f"the blocking check {asset} / {evaluation['checkName']} failed" + (f" ({detail})." if detail else ".")


def _entry_value(entry: dict) -> str | None:
    for key in ("text", "floatValue", "intValue"):
        if entry.get(key) is not None:
            value = entry[key]
            return f"{value:.4g}" if isinstance(value, float) else str(value)
    return None


def _class(error: dict | None) -> str:
    return (error or {}).get("className") or ""


def _error_sentence(error: dict) -> str:
    """The innermost error's message on one line, without its class's prefix: the user's own
    exception (`dg.Failure`'s description, a `SourceError`), not Dagster's wrapper."""
    innermost = (error.get("causes") or [error])[-1]
    text = _one_line(innermost.get("message") or "") or "(no message)"
    name = innermost.get("className") or ""
    prefix, _, rest = text.partition(": ")
    return rest if name and rest and prefix.endswith(name) else text


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _bounded(sentence: str) -> str:
    return sentence if len(sentence) <= MAX_SENTENCE_CHARS else sentence[: MAX_SENTENCE_CHARS - 1] + "…"
