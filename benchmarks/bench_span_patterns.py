"""Seed 000's pattern checks: the per-day accumulator against measuring the concatenated span.

    .venv/bin/python benchmarks/bench_span_patterns.py [--day-events 5e6] [--days 30 --per-day 2e5]
        [--streamed-days 30 --streamed-per-day 1e6]

Two spans, simulated first (not timed): one day of `--day-events` interactions (5 per user,
everyone signed up), and `--days` days of `--per-day`. "at once" is what `simulated_interactions`
did before issue 14: concatenate the days, then the eight measures of the pattern reference;
"by day" is `SpanPatterns.add_day` per day and `results`. Best of `--repeats` runs (the machine
is shared); the load average is printed beside the figures. `--streamed-days` then times the
accumulator alone on a span too big to hold (each day simulated, added and dropped) and prints
its state's size and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from harness import Benchmark

from poppy_pipeline.simulation.catalog import build_catalog
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.model import build_model
from poppy_pipeline.simulation.population import generate_users
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.span_patterns import SpanPatterns
from poppy_pipeline_tests.support import pattern_reference as reference

EVENTS_PER_USER = 5
EXPECTED_REPEATS = 0.4
FIRST_DAY = date(2026, 11, 1)


def simulated(events_per_day: int, days: int) -> tuple[SimulationSettings, list, pd.DataFrame, pd.DataFrame]:
    settings = SimulationSettings(
        num_users=max(100, events_per_day // EVENTS_PER_USER),
        interactions_per_day=events_per_day,
        signup_start="2020-01-01",
        signup_end="2020-01-02",
    )
    objects = build_catalog(settings, None).objects
    users = generate_users(settings)
    model = build_model(settings, objects, users)
    return settings, [simulate_day(model, FIRST_DAY + timedelta(days=d)) for d in range(days)], users, objects


def at_once(settings, days, users, objects) -> dict:
    span = pd.concat(days, ignore_index=True) if len(days) > 1 else days[0]
    return reference.measure_span(span, settings, users, objects, EXPECTED_REPEATS)


def by_day(settings, days, users, objects) -> dict:
    patterns = SpanPatterns(settings, users, objects)
    for day in days:
        patterns.add_day(day)
    return patterns.results(EXPECTED_REPEATS)


def best(function, repeats: int, *arguments) -> tuple[float, float, dict]:
    """The least wall and CPU seconds of `repeats` calls (CPU: steadier on a shared machine), and the results."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        results = function(*arguments)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day-events", type=float, default=5e6)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=float, default=2e5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--streamed-days", type=int, default=0, help="then the accumulator alone on N days")
    parser.add_argument("--streamed-per-day", type=float, default=1e6)
    options = parser.parse_args()
    spans = [(count, per_day) for count, per_day in ((1, options.day_events), (options.days, options.per_day))]
    spans = [(count, int(per_day)) for count, per_day in spans if count * per_day]
    with Benchmark("span_patterns", "Seed 000's pattern checks: day by day against the whole span at once") as bench:
        rows, figures = [], []
        for count, per_day in spans:
            settings, days, users, objects = simulated(per_day, count)
            events = sum(len(day) for day in days)
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            old_wall, old_cpu, expected = best(at_once, options.repeats, settings, days, users, objects)
            new_wall, new_cpu, got = best(by_day, options.repeats, settings, days, users, objects)
            same = all(repr(expected[name].__dict__) == repr(got[name].__dict__) for name in got)
            label = f"{count} day{'s' if count > 1 else ''} of {per_day:,}{'' if same else ' (RESULTS DIFFER)'}"
            rows.append(
                [
                    label,
                    f"{events:,}",
                    f"{old_wall:.2f}, {old_cpu:.2f}",
                    f"{new_wall:.2f}, {new_cpu:.2f}",
                    f"{events / new_cpu:,.0f}",
                    load,
                ]
            )
            figures.append(
                {
                    "days": count,
                    "per_day": per_day,
                    "events": events,
                    "same_results": same,
                    "at_once_wall_s": old_wall,
                    "at_once_cpu_s": old_cpu,
                    "by_day_wall_s": new_wall,
                    "by_day_cpu_s": new_cpu,
                }
            )
            del days
        if rows:
            columns = [
                "span",
                "events",
                "at once: wall, CPU (s)",
                "by day: wall, CPU (s)",
                "by day, events/CPU s",
                "load",
            ]
            bench.table(f"best of {options.repeats}", columns, rows)
        bench.record(spans=figures)
        if options.streamed_days:
            bench.record(streamed=streamed(bench, options.streamed_days, int(options.streamed_per_day)))


def streamed(bench: Benchmark, count: int, per_day: int) -> dict:
    """The accumulator alone on a span too big to hold: each day simulated, added, dropped."""
    settings, _, users, objects = simulated(per_day, 0)
    model = build_model(settings, objects, users)
    patterns, wall, cpu, events = SpanPatterns(settings, users, objects), 0.0, 0.0, 0
    for offset in range(count + 1):
        day = simulate_day(model, FIRST_DAY + timedelta(days=offset)) if offset < count else None
        started, started_cpu = time.perf_counter(), time.process_time()
        if day is None:
            patterns.results(EXPECTED_REPEATS)
        else:
            patterns.add_day(day)
            events += len(day)
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
    figures = {
        "days": count,
        "per_day": per_day,
        "events": events,
        "wall_s": wall,
        "cpu_s": cpu,
        "state_mb": patterns.state_nbytes() / 1e6,
        "distinct_keys": len(patterns.keys),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    bench.note(
        f"{count} days of {per_day:,} streamed ({events:,} events): add_day + results {wall:.1f} s wall,"
        f" {cpu:.1f} s CPU ({events / cpu:,.0f} events/CPU s); state {figures['state_mb']:.0f} MB"
        f" ({figures['distinct_keys']:,} distinct keys); peak RSS of the process {figures['peak_rss_mb']:.0f} MB;"
        f" load average {', '.join(f'{value:.1f}' for value in os.getloadavg())}"
    )
    return figures


if __name__ == "__main__":
    main()
