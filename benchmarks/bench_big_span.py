"""A big span through `make run`: wall time, CPU, peak memory of the whole run and of each step.

    .venv/bin/python benchmarks/bench_big_span.py                      # 30 days × 1,000,000 interactions
    .venv/bin/python benchmarks/bench_big_span.py --events 100000 --share 0.01 --days 30

Runs the real command, `make run START=… END=… CONFIG=<settings>`, in a fresh Dagster instance
(`DAGSTER_HOME`) and outputs folder (`POPPY_DATA_DIR`), with the settings of
`config/big_span.yaml` (300,000 users at 1,000,000 interactions a day, `action_session_share`
0.01), the users and traffic scaled to `--events` a day and the behaviour branch's share set by
`--share`. While it runs, the resident memory (RSS) of the whole process tree is sampled from
/proc every `--interval` seconds; each step's time and the highest RSS sampled during it come from
the run's event log (step start to step success or failure). `make run` uses the in-process
executor, so the run is one process and its peak is the steps' peak.

Goal (issue 14): 30 days at 1,000,000 interactions a day (30M events) in ≤ 15 min with a peak
RSS ≤ 4 GB on this 2-core machine. The load average is printed: on a shared machine, wall times
grow with it, memory does not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import yaml
from harness import Benchmark

REPO = Path(__file__).resolve().parents[1]
SETTINGS = REPO / "config" / "big_span.yaml"
LAST_DAY = "2026-11-21"
GOAL_WALL_S = 15 * 60
GOAL_RSS_MB = 4096
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def run_settings(events: int, share: float) -> dict:
    """config/big_span.yaml with its users and traffic scaled to `events` a day and the given share."""
    config = yaml.safe_load(SETTINGS.read_text())
    simulation = config["resources"]["simulation"]["config"]
    scale = events / simulation["interactions_per_day"]
    simulation["num_users"] = max(100, round(simulation["num_users"] * scale))
    simulation["interactions_per_day"] = events
    simulation["action_session_share"] = share
    return config


def tree_rss_mb(root: int) -> float:
    """The summed RSS of `root` and every process descending from it (read from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = pages
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += rss.get(pid, 0)
        pending.extend(children.get(pid, []))
    return total * PAGE_MB


class MemorySampler(threading.Thread):
    """Samples the process tree's RSS until stopped: (time, MB) pairs."""

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.samples: list[tuple[float, float]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.time(), tree_rss_mb(self.root)))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def step_spans(home: Path) -> dict[str, tuple[float, float, bool]]:
    """(start, end, succeeded) of each step of the instance's latest run, from its event log."""
    code = """
import json, dagster as dg
instance = dg.DagsterInstance.get()
run = instance.get_runs(limit=1)[0]
spans = {}
ends = {dg.DagsterEventType.STEP_SUCCESS: True, dg.DagsterEventType.STEP_FAILURE: False}
for entry in instance.all_logs(run.run_id):
    event = entry.dagster_event
    if event is None or not entry.step_key:
        continue
    if event.event_type == dg.DagsterEventType.STEP_START:
        spans[entry.step_key] = [entry.timestamp, None, None]
    elif event.event_type in ends and entry.step_key in spans:
        spans[entry.step_key][1:] = [entry.timestamp, ends[event.event_type]]
print(json.dumps({"run": run.run_id, "status": run.status.value, "spans": spans}))
"""
    environment = {**os.environ, "DAGSTER_HOME": str(home)}
    output = subprocess.run([sys.executable, "-c", code], env=environment, check=True, capture_output=True, text=True)
    found = json.loads(output.stdout.strip().splitlines()[-1])
    print(f"run {found['run']}: {found['status']}")
    return {step: tuple(span) for step, span in found["spans"].items()}


def run_big_span(events: int, share: float, days: int, interval: float, keep: Path | None) -> dict:
    folder = keep or Path(tempfile.mkdtemp(prefix="bench-big-span-"))
    home, outputs = folder / "dagster_home", folder / "outputs"
    home.mkdir(parents=True, exist_ok=True)
    config = folder / "big_span.yaml"
    config.write_text(yaml.safe_dump(run_settings(events, share), sort_keys=False))
    start = str(date.fromisoformat(LAST_DAY) - timedelta(days=days - 1))
    command = ["make", "--no-print-directory", "run", f"START={start}", f"END={LAST_DAY}", f"CONFIG={config}"]
    environment = {**os.environ, "DAGSTER_HOME": str(home), "POPPY_DATA_DIR": str(outputs)}
    print(" ".join(command), f"(DAGSTER_HOME={home}, POPPY_DATA_DIR={outputs})", flush=True)
    load_before, cpu_before = os.getloadavg(), _children_cpu()
    started = time.perf_counter()
    with open(folder / "make_run.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
        sampler = MemorySampler(process.pid, interval)
        sampler.start()
        returncode = process.wait()
        sampler.stop()
    wall = time.perf_counter() - started
    if returncode != 0:
        print(f"make run exited with {returncode}; its output: {folder / 'make_run.log'}")
    events_written = sum(_data_lines(path) for path in (outputs / "simulated_interactions").glob("*.csv"))
    return {
        "folder": folder,
        "returncode": returncode,
        "wall_s": wall,
        "cpu_s": _children_cpu() - cpu_before,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "load": (load_before[0], os.getloadavg()[0]),
        "samples": sampler.samples,
        "spans": step_spans(home),
        "events": events_written,
    }


def _data_lines(path: Path) -> int:
    """Rows of a CSV file (lines after the header), counted without parsing it."""
    with path.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))
    return max(0, lines - 1)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def step_rows(spans: dict, samples: list[tuple[float, float]]) -> list[tuple[str, float, float, float, str]]:
    """(step, seconds, RSS when it started, highest RSS sampled during it, outcome), in the order the
    steps started. The run is one process, so a step starts with what the steps before it left."""
    rows = []
    for step, (start, end, succeeded) in sorted(spans.items(), key=lambda item: item[1][0]):
        end = end or time.time()
        during = [mb for at, mb in samples if start <= at <= end]
        before = [mb for at, mb in samples if at <= start]
        outcome = "ok" if succeeded else ("FAILED" if succeeded is False else "unfinished")
        at_start = before[-1] if before else float("nan")
        rows.append((step, end - start, at_start, max(during, default=at_start), outcome))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="simulated interactions a day")
    parser.add_argument("--share", type=float, default=0.01, help="action_session_share (behaviour branch)")
    parser.add_argument("--days", type=int, default=30, help="days in the span, ending on " + LAST_DAY)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the instance, outputs and log in this folder (default: a temp folder, removed after success)",
    )
    args = parser.parse_args()
    with Benchmark("big_span", "A big span through `make run`: time and memory of the run and of each step") as bench:
        found = run_big_span(args.events, args.share, args.days, args.interval, args.keep)
        peak = max((mb for _, mb in found["samples"]), default=float("nan"))
        rows = [
            [f"`{step}`", f"{seconds:.1f}", f"{at_start:,.0f}", f"{mb:,.0f}", outcome]
            for step, seconds, at_start, mb, outcome in step_rows(found["spans"], found["samples"])
        ]
        outcome = "ok" if found["returncode"] == 0 else "FAILED"
        rows.append(["**the whole `make run`**", f"{found['wall_s']:.1f}", "", f"{peak:,.0f}", outcome])
        bench.table(
            f"{args.days} days × {args.events:,} interactions a day (action_session_share {args.share})",
            ["step", "time (s)", "RSS at its start (MB)", "peak RSS (MB)", "outcome"],
            rows,
            f"{found['events']:,} events written; load average {found['load'][0]:.1f} before,"
            f" {found['load'][1]:.1f} after. CPU {found['cpu_s']:.0f} s (user + system of every child); largest"
            f" single process {found['max_rss_mb']:,.0f} MB (ru_maxrss).",
        )
        bench.goal("`make run` exit status", found["returncode"], 0, "", "<=")
        bench.goal("wall time of the whole `make run`", found["wall_s"] / 60, GOAL_WALL_S / 60, "min", "<=")
        bench.goal("peak RSS of the process tree", peak, GOAL_RSS_MB, "MB", "<=")
        bench.record(
            events=found["events"],
            wall_s=found["wall_s"],
            cpu_s=found["cpu_s"],
            peak_rss_mb=peak,
            max_rss_mb=found["max_rss_mb"],
            steps={step: list(span) for step, span in found["spans"].items()},
            settings=run_settings(args.events, args.share),
        )
        print(f"\n{found['folder']}")
        if args.keep is None and found["returncode"] == 0:  # GBs of outputs at 30M events: not left in /tmp
            shutil.rmtree(found["folder"], ignore_errors=True)
            print(f"Removed {found['folder']} (keep the instance and outputs with --keep DIR).")


if __name__ == "__main__":
    main()
