"""The span of days a summary reads from the daily assets, taken from what launched its run.

A summary (engagement_scores, click_model, …) is unpartitioned: one artifact over a span of days.
Its span, in order of precedence:

1. the asset's `start`/`end` config, when given;
2. the run's partition range (`make run START=… END=…`, `dg launch --partition-range`): those days;
3. the run's partition (the daily schedule's tick, a job's backfill): the `trailing_days` ending on it;
4. the run's backfill (`dagster/backfill` tag; an asset backfill launched from the UI runs the
   summaries in a run of their own, without partition tags): the days the backfill targets in
   the daily assets, whatever the summary (no code per asset);
5. otherwise the `trailing_days` ending on the last complete day.

Why not daily-partitioned summaries over a trailing span (`TimeWindowPartitionMapping`): a backfill
of 30 days would then compute 30 summaries (30 click models), a 3-day backfill would read partial
spans, and every summary file would become one file per day; the run (or backfill) already says
which days it is about, so the summary reads those.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from poppy_pipeline.common.user_sample import in_user_sample
from poppy_pipeline.dagster_support.partitioned_io_manager import PartitionedUPathIOManager
from poppy_pipeline.dagster_support.partitions import daily_partitions

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"


class SpanConfig(dg.Config):
    start: str | None = Field(
        default=None, description="First day (YYYY-MM-DD); default: the days the run was launched for."
    )
    end: str | None = Field(
        default=None, description="Last day (YYYY-MM-DD); default: the days the run was launched for."
    )
    trailing_days: int = Field(
        default=30,
        description="Days read when the run names no span (one partition, or none): ending on its partition"
        " or yesterday.",
    )


@dataclass(frozen=True)
class Launch:
    """The daily partitions a run was launched for, and by what."""

    days: list[str]  # oldest first
    origin: str  # e.g. "the run's partition range", "backfill abcdefgh"
    is_span: bool  # a range or a backfill's days (the span itself); False: one partition (the span ends on it)


def launched_days(run: dg.DagsterRun, instance: dg.DagsterInstance) -> Launch | None:
    """What the run was launched for: its partition range, its backfill's daily partitions, or its
    partition; None for a run launched without partitions (a plain Materialize of a summary)."""
    tags = run.tags
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        keys = _keys_in_range(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        return Launch(keys, "the run's partition range", is_span=True)
    if PARTITION_TAG in tags:
        return Launch([tags[PARTITION_TAG]], "the run's partition", is_span=False)
    if BACKFILL_TAG in tags:
        keys = backfill_days(instance, tags[BACKFILL_TAG])
        if keys:
            return Launch(keys, f"backfill {tags[BACKFILL_TAG]}", is_span=True)
    return None


def backfill_days(instance: dg.DagsterInstance, backfill_id: str) -> list[str]:
    """The daily partitions a backfill targets in any asset, oldest first (none for a backfill of
    unpartitioned assets only, or one this instance does not know)."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        return []
    if not backfill.is_asset_backfill:  # a job's backfill: each of its runs names its partition
        names = backfill.partition_names or []
    else:
        # Dagster's own record of the backfill's target; backfills made by this Dagster version keep
        # it unserialized (the serialized form would need the asset graph).
        data = backfill.asset_backfill_data
        if data is None:
            return []
        names = [
            key for subset in data.target_subset.partitions_subsets_by_asset_key.values()
            for key in subset.get_partition_keys()
        ]  # fmt: skip
    return sorted(key for key in set(names) if daily_partitions.has_partition_key(key))


def span_days(context: dg.AssetExecutionContext, config: SpanConfig) -> list[str]:
    """The daily partition keys of the span, oldest first (see the module's docstring)."""
    launch = launched_days(context.run, context.instance)
    if launch is not None and launch.is_span and not (config.start or config.end):
        days, origin = launch.days, launch.origin
    else:
        end = config.end or (launch.days[-1] if launch else None) or daily_partitions.get_last_partition_key()
        if end is None:
            raise dg.Failure("No complete day yet in the daily partitions, so there is no span to read.")
        if config.trailing_days < 1:
            raise dg.Failure(f"trailing_days must be at least 1, got {config.trailing_days}")
        start = config.start or str(date.fromisoformat(end) - timedelta(days=config.trailing_days - 1))
        days = _keys_in_range(max(start, daily_partitions.get_first_partition_key() or start), end)
        origin = (
            "config"
            if config.start or config.end
            else f"the {config.trailing_days} days ending " + (f"on {launch.origin}" if launch else "yesterday")
        )
    context.log.info(f"span {days[0]}..{days[-1]} ({_days(len(days))}): {origin}")
    return days


def _keys_in_range(start: str, end: str) -> list[str]:
    if start > end:
        raise dg.Failure(f"Empty span {start}..{end}")
    return list(daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))


def run_partition_keys(context: dg.AssetExecutionContext) -> list[str] | None:
    """The daily partitions this run materializes (a range or one day), or None for an unpartitioned run."""
    tags = context.run.tags
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        span = dg.PartitionKeyRange(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        return list(daily_partitions.get_partition_keys_in_range(span))
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    return None


def span_frames(
    context: dg.AssetExecutionContext,
    store: PartitionedUPathIOManager,
    asset_key: str,
    days: list[str],
    attrs: dict | None = None,
    read: list[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """The span's rows of a daily asset, one day at a time in day order, so that only one day
    is in memory; fails when no day (or, once read, no row) is there.

    Once every day is read, `attrs` (when given) receives the `attrs` stored with every day (see
    the CSV IO manager): days stored with different ones (made with different settings) cannot
    be read as one span. `read` (when given) receives the days there were to read.
    """
    paths = {day: store.partition_path(asset_key, day) for day in days}
    found = [day for day in days if store.path_exists(paths[day])]
    if read is not None:
        read.extend(found)
    if not found:
        raise dg.Failure(
            f"{asset_key} has no materialized partition in {days[0]}..{days[-1]}; materialize it first "
            f"(e.g. make run START={days[0]} END={days[-1]})."
        )
    missing = [day for day in days if day not in found]
    if missing:
        context.log.warning(f"{asset_key}: {len(missing)} of {len(days)} days are not materialized: {missing[:10]}")
    rows, attrs_by_day = 0, {}
    for day in found:
        frame = store.load_path(paths[day])
        rows += len(frame)
        attrs_by_day[day] = frame.attrs
        yield frame
    context.log.info(f"read {asset_key} {days[0]}..{days[-1]}: {len(found)} days, {rows} rows")
    if rows == 0:
        raise dg.Failure(
            f"{asset_key} has no rows in {days[0]}..{days[-1]}, so there is nothing to summarise; the previous"
            " output is kept."
        )
    same = _same_attrs(asset_key, attrs_by_day)
    if attrs is not None:
        attrs.update(same)


def load_span(
    context: dg.AssetExecutionContext,
    store: PartitionedUPathIOManager,
    asset_key: str,
    days: list[str],
    user_share: float = 1.0,
) -> pd.DataFrame:
    """The span's rows of a daily asset at once, in day order (for assets that need every row),
    of the users in the `user_share` sample (`user_sample.in_user_sample`; all at 1), with the
    `attrs` every day was stored with."""
    attrs: dict = {}
    frames = [
        day[in_user_sample(day["User_ID"], user_share)] for day in span_frames(context, store, asset_key, days, attrs)
    ]
    # A day without rows reads back without column types; leaving it out keeps them.
    non_empty = [frame for frame in frames if len(frame)] or frames[:1]
    span = pd.concat(non_empty, ignore_index=True)
    span.attrs = attrs
    return span


def _same_attrs(asset_key: str, attrs_by_day: dict[str, dict]) -> dict:
    """The attributes every day was stored with; one sentence naming the groups when they differ."""
    days_by_attrs: dict[str, list[str]] = {}
    for day, attrs in attrs_by_day.items():
        days_by_attrs.setdefault(json.dumps(attrs, sort_keys=True), []).append(day)
    if len(days_by_attrs) > 1:
        groups = "; ".join(
            f"{text if text != '{}' else 'none recorded'} on {made[0]}..{made[-1]} ({_days(len(made))})"
            for text, made in days_by_attrs.items()
        )
        days = sorted(attrs_by_day)
        raise dg.Failure(
            f"{asset_key} was made with different settings in {days[0]}..{days[-1]} ({groups});"
            " materialize those days again with one setting before reading them together."
        )
    return dict(next(iter(attrs_by_day.values())))


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"
