"""`simulation_fit`: the simulation's parameters estimated from the run's window of the log."""

import dagster as dg
import pandas as pd
import yaml
from pydantic import Field

from poppy_pipeline.dagster_support.day_window import WindowConfig, load_window, window_days
from poppy_pipeline.dagster_support.io_managers import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.metadata import markdown_table
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import single_run
from poppy_pipeline.dagster_support.source_resources import InteractionSourceResource
from poppy_pipeline.fit import fit_log, run_config
from poppy_pipeline.paths import replaced_atomically, write_json


class FitConfig(WindowConfig):
    seed: int = Field(default=42, description="Seed written into the run config for the simulation from the fit.")
    scale_users: float = Field(
        default=1.0, gt=0, description="Users (and traffic) of the run config relative to the log: 10 = ten times."
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
    simulates more data like the log."""
    days = window_days(context, config)
    events = load_window(context, csv_io_manager, "simulated_interactions", days)
    known = int((pd.to_datetime(users["Signup_Date"]) <= pd.Timestamp(days[-1])).sum())
    fit = fit_log(events, celestial_objects, days, population=known)
    fit["window"]["source"] = interaction_source.kind
    json_path = write_json(fit, outputs.path() / "simulation_fit.json")
    yaml_path = outputs.path() / "simulation_fit.yaml"
    with replaced_atomically(yaml_path) as temporary:
        header = f"# More data like {interaction_source.kind} log {days[0]}..{days[-1]}: make run CONFIG={yaml_path}\n"
        temporary.write_text(header + yaml.safe_dump(run_config(fit, config.seed, config.scale_users), sort_keys=False))
    table = pd.DataFrame(
        [(name, _short(entry["value"]), entry["method"]) for name, entry in fit["parameters"].items()],
        columns=["parameter", "value", "method"],
    )
    context.log.info(f"fitted {len(table)} parameters on {len(events)} events; wrote {json_path} and {yaml_path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(json_path)),
            "run_config": dg.MetadataValue.path(str(yaml_path)),
            "window": f"{days[0]}..{days[-1]}",
            "events": len(events),
            "parameters": dg.MetadataValue.md(markdown_table(table, max_rows=40)),
            "not_informed": dg.MetadataValue.json(fit["not_informed"]),
            "measured": dg.MetadataValue.json(fit["measured"]),
        }
    )


def _short(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.3f}" for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3f}" for k, v in value.items())
    return str(value)
