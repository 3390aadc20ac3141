"""What the two preference assets (`category_preferences_mf`, `category_preferences_nn`) share.

Each reads the span's interactions one day at a time (`day_span.span_frames`) into
`preferences/evidence.py`, judges its model against `user_preferences` (simulation) or held-out Likes
(real data), fits it on the whole span and writes its report, figures and check; when the check
passes, it publishes its table and the engine's file (`engagement/engine_exports.py`, atomically, in
`$POPPY_ENGINE_EXPORT_DIR` as `engine_exports` does). Each layer publishes its own file, so that a
layer that is held back (a model that lost to popularity, too few Likes) holds back no other. With the `database`
source the back end's rule holds: its preference jobs use the database from `min_real_interactions`
(500) Likes and ratings in the span on; below that, `interaction_source.when_too_few` decides, as for
the other assets: `fail`, or `simulate` (the span simulated with the fallback settings, as
`preferences/simulated_span.py` says).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.common.paths import write_json
from poppy_pipeline.dagster_support.checks import not_applicable, publish
from poppy_pipeline.dagster_support.day_span import SpanConfig, span_days, span_frames
from poppy_pipeline.dagster_support.metadata import figure_metadata, markdown_table
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource, sentences
from poppy_pipeline.engagement.engine_exports import EngineExportError, engine_export_dir, write_preferences
from poppy_pipeline.engagement.report import write_figures
from poppy_pipeline.fidelity.fit import FIT_FILE
from poppy_pipeline.preferences.evaluation import Fitter
from poppy_pipeline.preferences.evidence import Evidence, EvidenceBuilder
from poppy_pipeline.preferences.learning import Learned, evaluation_table, learn, truth_matrix
from poppy_pipeline.preferences.simulated_span import simulated_evidence
from poppy_pipeline.sources import database
from poppy_pipeline.sources.fallback import fallback_simulation

INTERACTIONS = "simulated_interactions"
CHECK = "beats_popularity"
HELD_OUT_SHARE = 0.2


class PreferencesConfig(SpanConfig):
    """The span (see `SpanConfig`), its held-out days, and the database's threshold."""

    held_out_share: float = Field(
        default=HELD_OUT_SHARE,
        description="Share of the span's days, its last ones (rounded; 6 of 30), never fitted, on which the"
        " models are judged; at least one day is fitted.",
    )
    min_real_interactions: int = Field(
        default=database.MIN_PREFERENCE_ROWS,
        description="Fewest Likes and ratings in the span for the database to be used (the back end's 500);"
        " below, interaction_source.when_too_few decides.",
    )
    compare_with_service: bool = Field(
        default=True, description="Judge the Poppy ML service's two models too (a few seconds), for the report."
    )


def check_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK,
        asset=asset,
        blocking=True,
        description="On held-out users and days, the model beats popularity (the population's mean preference):"
        " Spearman and NDCG@3 against the truth in simulation, the held-out Like AUC on real data. Else the"
        " table is not published and the engine's file stays as it was.",
    )


@dataclass
class Gathered:
    evidence: Evidence
    truth: pd.DataFrame | None
    origin: str


def gather(
    context: dg.AssetExecutionContext,
    config: PreferencesConfig,
    simulation: SimulationResource,
    source: InteractionSourceResource,
    store: PartitionedUPathIOManager,
    outputs: OutputsResource,
    objects: pd.DataFrame,
    users: pd.DataFrame,
    truth: pd.DataFrame,
) -> Gathered:
    """The span's evidence, with the truth when the data are simulated."""
    days = span_days(context, config)
    if not 0 <= config.held_out_share < 1:
        raise dg.Failure(f"held_out_share must be in [0, 1), got {config.held_out_share}")
    held_out = min(round(config.held_out_share * len(days)), len(days) - 1)
    if source.kind == database.DATABASE:
        with sentences():
            decision = database.decide(
                source.url(),
                days[0],
                days[-1],
                database.preference_event_types(source.event_types),
                config.min_real_interactions,
                source.when_too_few,
                source.zone(),
            )
        context.log.info(f"Likes and ratings (the preference jobs' rows): {decision.message}")
        if not decision.use_database:
            fit_path, minimum = outputs.read_path(outputs.path() / FIT_FILE), config.min_real_interactions
            fallback = fallback_simulation(simulation.settings(), fit_path, source.database_name(), days[0], minimum)
            evidence, simulated_truth = simulated_evidence(fallback.settings, objects, days, held_out, simulation.seed)
            return Gathered(evidence, simulated_truth, f"{fallback.description} ({decision.message})")
    builder = EvidenceBuilder(users, objects, days, held_out, simulation.seed)
    present = iter(_present(store, days))
    for frame in span_frames(context, store, INTERACTIONS, days):
        builder.add_day(frame, next(present))
    origin = source.kind if source.is_real else "simulation"
    return Gathered(builder.evidence(), None if source.is_real else truth, origin)


def _present(store: PartitionedUPathIOManager, days: list[str]) -> list[str]:
    """The days `span_frames` yields (those materialized), in its order."""
    return [day for day in days if store.path_exists(store.partition_path(INTERACTIONS, day))]


def preference_events(
    context: dg.AssetExecutionContext,
    name: str,
    fit: Fitter,
    gathered: Gathered,
    seed: int,
    config: PreferencesConfig,
    outputs: OutputsResource,
    engine_file: str,
) -> Iterator[dg.MaterializeResult | dg.AssetObservation | dg.AssetCheckResult]:
    """What a preference asset yields: its table and check (`run`, `publish`); or, when no event of the
    span is on one of the engine's categories (a log whose objects are not the engine's, such as seed
    002's), not applicable: nothing written, the engine's file left as it was, the run not failed."""
    evidence = gathered.evidence
    if len(evidence.user_ids):
        yield from publish(context, *run(context, name, fit, gathered, seed, config, outputs, engine_file))
        return
    days = [*evidence.fitting_days, *evidence.held_out_days]
    span = f"{days[0]}..{days[-1]}" if days else "the span"
    reason = f"no event of {span} falls on one of the engine's 21 categories ({gathered.origin}); nothing to learn"
    context.log.info(f"{name} not applicable: {reason}; the engine's {engine_file} is left as it was")
    yield dg.AssetObservation(asset_key=context.asset_key, metadata={"not_applicable": reason, "published": False})
    yield not_applicable(
        dg.AssetCheckKey(context.asset_key, CHECK),
        f"{reason}.",
        span,
        applies="logs of objects in the engine's categories",
    )


def run(
    context: dg.AssetExecutionContext,
    name: str,
    fit: Fitter,
    gathered: Gathered,
    seed: int,
    config: PreferencesConfig,
    outputs: OutputsResource,
    engine_file: str,
) -> tuple[pd.DataFrame, dict, list[dg.AssetCheckResult]]:
    """The table, its metadata (figures first) and its blocking check; the engine's file written (in
    `$POPPY_ENGINE_EXPORT_DIR`, published with the rest of the run) when the check passes."""
    evidence = gathered.evidence
    learned = learn(
        name, fit, evidence, truth_matrix(gathered.truth, evidence.user_ids), seed, config.compare_with_service
    )
    learned.report["data"] = gathered.origin
    learned.report["published"] = learned.verdict.passed
    with outputs.writing():
        paths = [outputs.published_path(p) for p in write_figures(learned.figures, outputs.write_root() / "figures")]
        report_path = outputs.published_path(write_json(learned.report, outputs.write_root() / f"{name}_report.json"))
    context.log.info(f"{name}: {learned.verdict.message}; {len(learned.table)} users; wrote {report_path}")
    metadata = _metadata(context, learned, report_path, paths)
    if learned.verdict.passed:
        folder = engine_export_dir(outputs.path())
        try:
            with outputs.writing(folder):
                written = write_preferences(learned.table, outputs.write_path(folder), engine_file)
                published = outputs.published_path(written)
        except EngineExportError as error:
            raise dg.Failure(str(error)) from None
        context.log.info(f"published {published} ({len(learned.table)} users)")
        metadata["engine_file"] = dg.MetadataValue.path(str(published.resolve()))
    return learned.table, metadata, [_check(learned)]


def _metadata(context: dg.AssetExecutionContext, learned: Learned, report_path: Path, paths: list[Path]) -> dict:
    report = learned.report
    return {
        **figure_metadata(context, learned.figures),
        "evaluation": dg.MetadataValue.md(markdown_table(evaluation_table(report))),
        "verdict": report["verdict"]["message"],
        "users": report["users"],
        "events": report["events"],
        "events_outside_categories": report["events_outside_categories"],
        "fitting_days": str(report["fitting_days"]),
        "held_out_days": str(report["held_out_days"]),
        "data": report["data"],
        "preview": dg.MetadataValue.md(markdown_table(learned.table.head(10))),
        "report_path": dg.MetadataValue.path(str(report_path)),
        "figures_folder": dg.MetadataValue.path(str(paths[0].parent)),
    }


def _check(learned: Learned) -> dg.AssetCheckResult:
    verdict = learned.verdict
    description = verdict.message if verdict.applicable else f"Not applicable: {verdict.message}."
    return dg.AssetCheckResult(
        check_name=CHECK,
        passed=verdict.passed,
        description=description,
        metadata={"measures": dg.MetadataValue.json(verdict.measures)},
    )
