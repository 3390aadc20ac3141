"""`sliding_window_features`: seed 001's 20 window features per day, the label, the oracle, and checks.

The windows come from `poppy_pipeline/windows.py` (the oracle from `oracle.py`, on the sessions
regenerated for a simulated day); the window settings are this asset's config and travel with
each day's file (`SETTINGS_ATTR`), which is where `click_model` reads them. Two blocking checks
guard each day (finite features, windows inside their sessions); seed 001's targets
(`window_targets.py`) are measured on the run's window and reported, not blocking.
"""

from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from poppy_pipeline.behaviour import TICK_MS, UserTraits, draw_traits
from poppy_pipeline.dagster_support.checks import not_applicable, window_check_specs
from poppy_pipeline.dagster_support.metadata import markdown_table, plain_metadata
from poppy_pipeline.dagster_support.partitions import daily_partitions, single_run
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource
from poppy_pipeline.oracle import ranking_auc, recorded_day
from poppy_pipeline.session_simulation import unsimulable
from poppy_pipeline.window_membership import CheckedWindows, checked_windows
from poppy_pipeline.window_targets import positive_share, profiles_present
from poppy_pipeline.windows import FEATURE_NAMES, StreamMismatch, WindowSpec

# Each day's windows carry the settings they were made with (`DataFrame.attrs`, stored beside the
# CSV by the IO manager), so whoever reads them (click_model) gets them from the data itself.
SETTINGS_ATTR = "window_settings"
FINITE_CHECK = "features_finite"
MEMBERSHIP_CHECK = "windows_within_sessions"
TARGET_CHECKS = {
    "positive_share": "4-8% of windows are positive (simulated): fails only when the 90% interval of a bootstrap"
    " over users (a user's windows are not independent) lies entirely outside.",
    "profiles_present": "Every browsing profile with users has windows (simulated).",
}
# Measured in the step on the windows in hand (not by reading the window's CSVs back).
TARGET_SPECS = window_check_specs("sliding_window_features", TARGET_CHECKS, blocking=set(), inputs=["users"])


class SlidingWindowConfig(dg.Config):
    """Windows of `sliding_window_features` (seed 001: 2-minute windows every 10 s)."""

    window_seconds: float = Field(default=120.0, description="Window length: [end − window, end].")
    step_seconds: float = Field(
        default=10.0, description="Between window ends; the first is one step after the session's first action."
    )
    horizon_seconds: float = Field(
        default=10.0, description="Label = 1 when a click_ad happens in (end, end + horizon]."
    )
    min_actions: int = Field(default=5, description="A window is kept when it holds at least this many actions.")

    def spec(self) -> WindowSpec:
        return WindowSpec.from_seconds(
            self.window_seconds,
            self.step_seconds,
            self.horizon_seconds,
            self.min_actions,
            prefix="sliding_window_features.",
        )


@dg.asset(
    group_name="behaviour",
    kinds={"pandas", "csv"},
    io_manager_key="csv_io_manager",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    tags={"layer": "features"},
    check_specs=[
        dg.AssetCheckSpec(
            FINITE_CHECK,
            asset="sliding_window_features",
            description="Every feature is finite, Label is 0/1, Oracle_Probability is in [0, 1] or empty.",
            blocking=True,
            partitions_def=daily_partitions,
        ),
        dg.AssetCheckSpec(
            MEMBERSHIP_CHECK,
            asset="sliding_window_features",
            description="Every window's actions, recounted from session_actions, belong to its session and user,"
            " number what interaction_density says and at least min_actions; its end lies inside the session.",
            blocking=True,
            partitions_def=daily_partitions,
        ),
        *TARGET_SPECS,
    ],
)
def sliding_window_features(
    context: dg.AssetExecutionContext,
    config: SlidingWindowConfig,
    simulation: SimulationResource,
    action_source: ActionSourceResource,
    session_actions: dict[str, pd.DataFrame],
    simulated_interactions: dict[str, pd.DataFrame],
    users: pd.DataFrame,
):  # -> MaterializeResult; with check_specs, Dagster would read an annotation as the output type
    """One CSV per day: `Session_ID, User_ID, Window_End`, the 20 features of seed 001 (see
    `poppy_pipeline/windows.py`), `Label` (a click_ad in the horizon after the end) and
    `Oracle_Probability` (the generator's exact probability of that label given its state at the
    end; empty for a real action log).
    """
    spec = config.spec()
    simulated = not action_source.is_real
    if simulated:
        _require_tick_grid(spec)
    days: dict[str, pd.DataFrame] = {}
    problems: dict[str, int] = {}
    traits = draw_traits(simulation.seed, users) if simulated and not users["Profile"].isna().any() else None
    for key in context.partition_keys:
        actions = session_actions[key]
        if traits is not None:
            checked = _simulated_day(simulation, traits, simulated_interactions[key], users, actions, key, spec)
        else:
            checked = checked_windows(actions, spec)
        days[key] = checked.frame
        days[key].attrs[SETTINGS_ATTR] = spec.settings()
        for name, count in checked.problems.items():  # recounted from the actions, sorted once for both
            problems[name] = problems.get(name, 0) + count
    every_day = pd.concat(days.values(), ignore_index=True) if len(days) > 1 else next(iter(days.values()))
    return dg.MaterializeResult(
        value=days,
        metadata=_summary(every_day, users, spec, simulated),
        check_results=[
            _finite_check(every_day),
            _membership_check(problems),
            *_target_checks(context, action_source, every_day, users),
        ],
    )


def _require_tick_grid(spec: WindowSpec) -> None:
    for name, value in (("step_seconds", spec.step_ms), ("horizon_seconds", spec.horizon_ms)):
        if value % TICK_MS:
            raise dg.Failure(
                f"sliding_window_features.{name} must be a multiple of {TICK_MS / 1000} s for simulated actions"
                f" (the generator's time step, on which its oracle is exact), got {value / 1000}"
            )


def _simulated_day(
    simulation: SimulationResource,
    traits: UserTraits,
    interactions: pd.DataFrame,
    users: pd.DataFrame,
    actions: pd.DataFrame,
    key: str,
    spec: WindowSpec,
) -> CheckedWindows:
    """Windows of a simulated day, with the oracle of the generator's state read from the recorded actions."""
    if unsimulable(interactions, users):  # nothing was simulated (session_actions logged why)
        return checked_windows(actions, spec)
    recorded = recorded_day(simulation.behaviour(), simulation.seed, traits, interactions, date.fromisoformat(key))
    try:
        return checked_windows(actions, spec, recorded)
    except StreamMismatch as mismatch:
        raise dg.Failure(
            f"sliding_window_features {key}: session_actions is not what the generator makes with these settings"
            f" ({mismatch}; materialized with another seed?); materialize session_actions again"
        ) from None


def _finite_check(windows: pd.DataFrame) -> dg.AssetCheckResult:
    values = windows[list(FEATURE_NAMES)].to_numpy(dtype=float)
    counts = (~np.isfinite(values)).sum(axis=0)
    not_finite = {name: int(count) for name, count in zip(FEATURE_NAMES, counts, strict=True) if count}
    oracle = pd.to_numeric(windows["Oracle_Probability"], errors="coerce")
    bad_labels = int((~windows["Label"].isin([0, 1])).sum())
    bad_oracle = int(((oracle < 0) | (oracle > 1)).sum())
    return dg.AssetCheckResult(
        check_name=FINITE_CHECK,
        passed=not not_finite and bad_labels == 0 and bad_oracle == 0,
        metadata={
            "windows": len(windows),
            "not_finite": dg.MetadataValue.json(not_finite),
            "labels_not_0_1": bad_labels,
            "oracle_outside_0_1": bad_oracle,
        },
    )


def _membership_check(problems: dict[str, int]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=MEMBERSHIP_CHECK,
        passed=not any(problems.values()),
        metadata={"problems": dg.MetadataValue.json(problems)},
    )


def _summary(windows: pd.DataFrame, users: pd.DataFrame, spec: WindowSpec, simulated: bool) -> dict:
    labels = windows["Label"].to_numpy()
    metadata = {
        "windows": len(windows),
        "positive_share": float(labels.mean()) if len(labels) else 0.0,
        **spec.settings(),
        "oracle": "exact (generator's latent state)" if simulated else "none (real action log)",
    }
    if simulated and len(labels) and 0 < labels.sum() < len(labels):
        oracle = windows["Oracle_Probability"].to_numpy(float)
        metadata["mean_oracle_probability"] = float(oracle.mean())
        metadata["oracle_auc"] = ranking_auc(labels, oracle)
        profiles = windows["User_ID"].map(users.set_index("User_ID")["Profile"]).rename("Profile")
        by_profile = windows.groupby(profiles).agg(
            windows=("Label", "size"), positive_share=("Label", "mean"), mean_oracle=("Oracle_Probability", "mean")
        )
        metadata["by_profile"] = dg.MetadataValue.md(markdown_table(by_profile.round(4).reset_index()))
    return metadata


def _target_checks(
    context: dg.AssetExecutionContext, action_source: ActionSourceResource, windows: pd.DataFrame, users: pd.DataFrame
) -> list[dg.AssetCheckResult]:
    """Seed 001's targets, measured on the window just made."""
    keys = context.partition_keys
    span = f"{keys[0]}..{keys[-1]} ({len(keys)} days, {len(windows)} windows)"
    real = action_source.is_real or users["Profile"].isna().all()
    results = []
    for spec in TARGET_SPECS:
        if spec.key not in context.selected_asset_check_keys:
            continue
        if real:
            results.append(not_applicable(spec.key, "real actions or users, not the simulation's profiles.", span))
            continue
        result = positive_share(windows) if spec.name == "positive_share" else profiles_present(windows, users)
        context.log.info(f"sliding_window_features {result.describe()}")
        results.append(
            dg.AssetCheckResult(
                check_name=spec.name,
                asset_key=spec.asset_key,
                passed=result.passed,
                metadata={
                    "measured": dg.MetadataValue.float(float(result.value)),
                    "target": result.target,
                    **plain_metadata(result.details),
                    "window": span,
                },
            )
        )
    return results
