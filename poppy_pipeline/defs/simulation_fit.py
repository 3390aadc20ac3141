"""`simulation_fit`: the simulation's parameters estimated from a span of the log."""

import dagster as dg
import pandas as pd
import yaml
from pydantic import Field

from poppy_pipeline.common.paths import replaced_atomically, write_json
from poppy_pipeline.common.user_sample import in_user_sample, user_sample_share
from poppy_pipeline.dagster_support.day_span import SpanConfig, load_span, span_days
from poppy_pipeline.dagster_support.metadata import markdown_table
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import DEFAULT_PARTITIONS_START, single_run
from poppy_pipeline.dagster_support.source_resources import PARTITIONS_START, InteractionSourceResource
from poppy_pipeline.fidelity.fit import (
    FIT_FILE,
    FIT_RUN_CONFIG_FILE,
    fit_log,
    regenerate_command,
    regenerated_folder,
    run_config,
    scaled_to_population,
)
from poppy_pipeline.fidelity.fit_validation import DEFAULT_MAX_SIMULATED_USERS, FitError, checked_fit

# Users a fit reads at most (~2 GB of memory at 40,000 users and 10M events); the default run has 100.
MAX_FIT_USERS = 20_000


class FitConfig(SpanConfig):
    seed: int = Field(default=42, description="Seed written into the run config for the simulation from the fit.")
    scale_users: float = Field(
        default=1.0, gt=0, description="Users (and traffic) of the run config relative to the log: 10 = ten times."
    )
    max_simulated_users: int = Field(
        default=DEFAULT_MAX_SIMULATED_USERS,
        description="The most users the fitted simulation may have (after scale_users); a fit with more is not"
        " written.",
    )
    max_users: int = Field(
        default=MAX_FIT_USERS,
        description="A log with more known users is fitted on a fixed hash sample of about this many (memory grows"
        " with the sample, not the log); num_users and interactions_per_day are scaled back to the whole log.",
    )


@dg.asset(
    group_name="fidelity",
    kinds={"python", "json", "yaml"},
    deps=["simulated_interactions"],
    backfill_policy=single_run,
)
def simulation_fit(
    context: dg.AssetExecutionContext,
    config: FitConfig,
    interaction_source: InteractionSourceResource,
    outputs: OutputsResource,
    csv_io_manager: dg.ResourceParam[PartitionedUPathIOManager],
    celestial_objects: pd.DataFrame,
    users: pd.DataFrame,
) -> dg.MaterializeResult:
    """`<outputs>/simulation_fit.json` (each parameter's value and method, and what the log
    cannot inform) and `simulation_fit.yaml`, a run config: `make run CONFIG=…/simulation_fit.yaml`
    simulates more data like the log. A run that simulates instead of too few database rows
    keeps the previous fit (the fallback simulates from it)."""
    if interaction_source.simulating_instead:  # a fit of the simulation would replace the real rows' fit
        context.log.info("not fitted: the run simulated instead of reading the database; the last fit is kept")
        return dg.MaterializeResult(metadata={"skipped": "simulated instead of too few database rows"})
    days = span_days(context, config)
    known = (pd.to_datetime(users["Signup_Date"]) <= pd.Timestamp(days[-1])).to_numpy()
    share = user_sample_share(int(known.sum()), config.max_users)
    if share < 1:
        context.log.info(f"fitting on a {share:.4g} sample of the {int(known.sum())} known users (max_users)")
    events = load_span(context, csv_io_manager, "simulated_interactions", days, user_share=share)
    population = int((known & in_user_sample(users["User_ID"], share)).sum())
    fit = scaled_to_population(fit_log(events, celestial_objects, days, population=population), share)
    fit["window"] |= {"source": interaction_source.kind, "log": interaction_source.fitted_log()}
    try:  # a fit the simulation cannot run is not written; the last good one stays
        checked_fit(fit, config.seed, config.scale_users, config.max_simulated_users)
    except FitError as error:
        raise dg.Failure(f"simulation_fit not written: {error}.", allow_retries=False) from None
    json_path, yaml_path = outputs.path() / FIT_FILE, outputs.path() / FIT_RUN_CONFIG_FILE
    folder = regenerated_folder(str(outputs.path()), fit)
    weights = dict(interaction_source.spec().event_weights)
    header = (
        f"# More data like the {interaction_source.kind} log {days[0]}..{days[-1]}, written to {folder}"
        " (the log's own fit, report, users and catalog stay as they are):\n"
        # A log older than the default partitions needs POPPY_PARTITIONS_START in any shell it is run from.
        f"# {regenerate_command(str(yaml_path), fit, max(PARTITIONS_START, DEFAULT_PARTITIONS_START))}\n"
    )
    config_file = run_config(fit, config.seed, config.scale_users, outputs_dir=folder, event_weights=weights)
    settings = yaml.safe_dump(config_file, sort_keys=False)
    with outputs.writing():
        write_json(fit, outputs.write_path(json_path))
        with replaced_atomically(outputs.write_path(yaml_path)) as temporary:
            temporary.write_text(header + settings)
    table = pd.DataFrame(
        [(name, _short(entry["value"]), entry["method"]) for name, entry in fit["parameters"].items()],
        columns=["parameter", "value", "method"],
    )
    context.log.info(f"fitted {len(table)} parameters on {len(events)} events; wrote {json_path} and {yaml_path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(json_path)),
            "run_config": dg.MetadataValue.path(str(yaml_path)),
            "span": f"{days[0]}..{days[-1]}",
            "events": len(events),
            "parameters": dg.MetadataValue.md(markdown_table(table, max_rows=40)),
            "not_informed": len(fit["not_informed"]),
        }
    )


def _short(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
