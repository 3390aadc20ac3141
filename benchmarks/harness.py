"""What every benchmark shares: the machine it ran on, its goals as data, its tables, its JSON.

    from harness import Benchmark

    with Benchmark("simulation", "Throughput of the interaction simulation, one core") as bench:
        bench.table("simulation", ["events", "events/s"], [["1,000,000", "4,065,705"]])
        bench.goal("in memory, 1,000,000 events", measured=4_065_705, bar=2_000_000, unit="events/s")

On leaving the block the benchmark records the machine's load again, prints its goals, writes
`benchmarks/results/<name>.json` (or into `$POPPY_BENCH_RESULTS`, e.g. for a smoke run at a tiny
size that must not replace the committed figures) and exits with status 1 when a goal was missed.
A benchmark that raises writes nothing, so the last good result stays. The documentation's
benchmarks page renders the same JSON with `render_markdown` when the site is built, so a figure
quoted there is always the one a run produced, with the machine, load and commit it ran at.

Only the standard library: the docs build imports this module without the project installed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

FORMAT = 1
BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
RESULTS_ENV = "POPPY_BENCH_RESULTS"
# The packages whose version moves the figures; a missing one is recorded as null.
KEY_PACKAGES = (
    "dagster",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "onnxruntime",
    "skl2onnx",
    "SQLAlchemy",
    "PyMySQL",
)
COMPARISONS = {">=": "≥", "<=": "≤"}


@dataclass(frozen=True)
class Goal:
    """One bar a benchmark names: `measured` against `bar` (`>=`: at least, `<=`: at most)."""

    name: str
    measured: float
    bar: float
    unit: str
    comparison: str = ">="
    note: str = ""
    met: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"goal {self.name!r}: comparison must be one of {sorted(COMPARISONS)}")
        met = self.measured >= self.bar if self.comparison == ">=" else self.measured <= self.bar
        object.__setattr__(self, "met", bool(met))  # NaN measures meet nothing


@dataclass(frozen=True)
class Table:
    """A table as the benchmark prints it: header cells and rows of already formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


def machine_facts() -> dict[str, Any]:
    """The facts that move a benchmark's figures, read now: CPUs, load, commit, versions, date."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "load_before": list(os.getloadavg()),
        "commit": _git("rev-parse", "HEAD"),
        "dirty": _dirty(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in KEY_PACKAGES},
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git(*arguments: str) -> str | None:
    try:
        done = subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _dirty() -> bool | None:
    """Whether the work tree differs from the commit, results of earlier runs not counted."""
    status = _git("status", "--porcelain", "--", ".", ":(exclude)benchmarks/results")
    return None if status is None else bool(status)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class Benchmark:
    """Collects one benchmark run's goals, tables and raw figures; writes them as JSON at the end."""

    def __init__(self, name: str, title: str, results: Path | None = None) -> None:
        self.name, self.title = name, title
        self.results = results or Path(os.environ.get(RESULTS_ENV) or RESULTS)
        self.machine = machine_facts()
        self.arguments = sys.argv[1:]
        self.goals: list[Goal] = []
        self.tables: list[Table] = []
        self.data: dict[str, Any] = {}
        self.notes: list[str] = []

    def goal(self, name: str, measured: float, bar: float, unit: str, comparison: str = ">=", note: str = "") -> Goal:
        """Record a goal; `comparison` is `>=` (at least `bar`) or `<=` (at most)."""
        goal = Goal(name, float(measured), float(bar), unit, comparison, note)
        self.goals.append(goal)
        return goal

    def table(self, title: str, columns: list[str], rows: list[list[Any]], note: str = "") -> Table:
        """Record a table and print it (Markdown); cells are kept as the text printed."""
        table = Table(title, list(columns), [[str(cell) for cell in row] for row in rows], note)
        self.tables.append(table)
        print("\n" + _table_markdown(table), flush=True)
        return table

    def note(self, text: str) -> None:
        """A sentence that belongs with the tables (what was measured, on what data); printed."""
        self.notes.append(text)
        print(f"\n{text}", flush=True)

    def record(self, **figures: Any) -> None:
        """Raw figures kept in the JSON's `data` (numbers, lists, dicts: anything JSON can hold)."""
        self.data.update(figures)

    def result(self) -> dict[str, Any]:
        machine = {**self.machine, "load_after": list(os.getloadavg())}
        return {
            "format": FORMAT,
            "benchmark": self.name,
            "title": self.title,
            "script": f"benchmarks/{Path(sys.argv[0]).name}",
            "arguments": self.arguments,
            "machine": machine,
            "goals": [asdict(goal) for goal in self.goals],
            "all_goals_met": all(goal.met for goal in self.goals),
            "notes": self.notes,
            "tables": [asdict(table) for table in self.tables],
            "data": self.data,
        }

    def write(self) -> Path:
        """Write the result atomically (a reader never sees half a file); its path."""
        self.results.mkdir(parents=True, exist_ok=True)
        path = self.results / f"{self.name}.json"
        text = json.dumps(_finite(self.result()), indent=2, allow_nan=False, default=_plain) + "\n"
        with tempfile.NamedTemporaryFile("w", dir=self.results, prefix=f".{self.name}.", delete=False) as handle:
            handle.write(text)
        os.replace(handle.name, path)
        return path

    def finish(self) -> int:
        """Print the goals, write the JSON; the exit status: 1 when a goal was missed, else 0."""
        if self.goals:
            print("\n" + goals_markdown([asdict(goal) for goal in self.goals]))
        path = self.write()
        missed = [goal.name for goal in self.goals if not goal.met]
        print(f"\nResults: {path}" + (f"; goals missed: {', '.join(missed)}" if missed else ""))
        return 1 if missed else 0

    def __enter__(self) -> Benchmark:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            status = self.finish()
            if status:
                sys.exit(status)


def _finite(value: Any) -> Any:
    """The same structure with NaN and infinities as null (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """numpy scalars and paths in `data` as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {value!r} ({type(value).__name__})")


# --- rendering (the docs build and the scripts' own output) -----------------------------------


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def _table_markdown(table: Table | dict) -> str:
    table = table if isinstance(table, dict) else asdict(table)
    lines = [f"**{table['title']}**", ""] if table["title"] else []
    lines.append("| " + " | ".join(_escape(c) for c in table["columns"]) + " |")
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(table["columns"]))) + "|")
    lines.extend("| " + " | ".join(_escape(c) for c in row) + " |" for row in table["rows"])
    if table.get("note"):
        lines += ["", table["note"]]
    return "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _quantity(value: float, unit: str) -> str:
    return _number(value) + ("" if unit in ("", "×", "%") else " ") + unit


def goals_markdown(goals: list[dict]) -> str:
    lines = ["| goal | measured | bar | met |", "|---|---:|---:|---|"]
    for goal in goals:
        bar = f"{COMPARISONS[goal['comparison']]} {_quantity(goal['bar'], goal['unit'])}"
        note = f" ({goal['note']})" if goal.get("note") else ""
        lines.append(
            f"| {_escape(goal['name'])}{_escape(note)} | {_quantity(goal['measured'], goal['unit'])} | {bar}"
            f" | {'yes' if goal['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def machine_markdown(machine: dict, script: str, arguments: list[str]) -> str:
    load = "{:.1f} before, {:.1f} after".format(machine["load_before"][0], machine["load_after"][0])
    commit = (machine.get("commit") or "unknown")[:10] + (" (uncommitted changes)" if machine.get("dirty") else "")
    versions = ", ".join(f"{name} {version}" for name, version in machine["packages"].items() if version)
    command = " ".join(["python", script, *arguments])
    return (
        f"Run `{command}` on {machine['date']}: commit {commit}; {machine['cpu_count']} CPUs"
        f" ({machine.get('cpu_model') or 'unknown model'}), load average {load}; Python {machine['python']};"
        f" {versions}."
    )


def render_markdown(result: dict) -> str:
    """One benchmark's JSON as Markdown: its machine and load, its goals, its tables, its notes."""
    if result.get("format") != FORMAT:
        raise ValueError(f"{result.get('benchmark')}: results format {result.get('format')}, expected {FORMAT}")
    parts = [machine_markdown(result["machine"], result["script"], result["arguments"])]
    if result["goals"]:
        parts.append(goals_markdown(result["goals"]))
    parts.extend(_table_markdown(table) for table in result["tables"])
    parts.extend(result["notes"])
    return "\n\n".join(parts)


def load_result(name: str, folder: Path = RESULTS) -> dict | None:
    """`<folder>/<name>.json`, or None when that benchmark has not been run and committed yet."""
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
