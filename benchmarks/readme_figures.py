"""The README's "Measured" table, rendered from the committed results (`benchmarks/results/*.json`).

    .venv/bin/python benchmarks/readme_figures.py           # exit 1 when README.md's table is stale
    .venv/bin/python benchmarks/readme_figures.py --write   # rewrite it from the results

The README holds the few figures a newcomer asks first (how long a run takes, how fast the service
answers, how close a fitted simulation gets); they sit between two markers and are never typed by
hand: a test (`poppy_pipeline_tests/system/test_benchmark_harness.py`) fails when they differ from
what this script renders, so a new result and the README change together. Every other figure is on
the documentation's benchmarks page, rendered the same way.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from harness import COMPARISONS, RESULTS, _quantity, load_result

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- measured:start -->", "<!-- measured:end -->"
# (result, a pattern its goal names must match, the row's label); a result not committed yet is a row saying so.
SHOWN = [
    ("cli", r"^`make run`, wall", "`make run`, the default 30 days"),
    ("plain_cli", r"plain CLI", "`dagster asset materialize` without `-c`, against `make run`"),
    ("preferences", r"category_preferences_(mf|nn)\): evidence", "Layers 3 and 4, 100,000 users, 10M events, slower"),
    ("preferences_quality", r"Spearman", "Layers 3 and 4: Spearman − the best baseline, worst model and world"),
    ("preferences_quality", r"NDCG@3", "Layers 3 and 4: NDCG@3 − the best baseline, worst model and world"),
    ("service", r"^cached p50, 20 clients", "the service's `cached` answer of 10,000 rows, p50 (20 clients)"),
    ("service", r"^cached p99, 20 clients", "the service's `cached` answer of 10,000 rows, p99 (20 clients)"),
    ("fit_ratings", r"100,000 events", "fitting a 100,000-event ratings log"),
    ("fit_fidelity", r"SDMetrics quality", "SDMetrics quality − the log's halves, worst log"),
]


def rows(results: Path = RESULTS) -> list[str]:
    lines = ["| what | measured | goal | met | load | date |", "|---|---:|---:|---|---:|---|"]
    for name, pattern, label in SHOWN:
        result = load_result(name, results)
        goals = [goal for goal in (result or {}).get("goals", []) if re.search(pattern, goal["name"])]
        if not goals:
            lines.append(f"| {label} | not measured yet (`benchmarks/results/{name}.json`) | | | | |")
            continue
        worst = min(goals, key=lambda goal: _slack(goal))
        machine = result["machine"]  # type: ignore[index]
        lines.append(
            f"| {label} | {_quantity(worst['measured'], worst['unit'])}"
            f" | {COMPARISONS[worst['comparison']]} {_quantity(worst['bar'], worst['unit'])}"
            f" | {'yes' if worst['met'] else '**no**'} | {machine['load_before'][0]:.1f}"
            f" | {machine['date'][:10]} |"
        )
    return lines


def _slack(goal: dict) -> float:
    """How far a goal is from its bar, in its favour (the worst of several is shown)."""
    gap = goal["measured"] - goal["bar"]
    return gap if goal["comparison"] == ">=" else -gap


def rendered_readme(text: str, results: Path = RESULTS) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} … {END} block")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + "\n" + "\n".join(rows(results)) + "\n" + END + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite README.md's table")
    args = parser.parse_args()
    text = README.read_text()
    new = rendered_readme(text)
    if args.write:
        README.write_text(new)
        return 0
    if new != text:
        print("README.md's measured table is stale: run `.venv/bin/python benchmarks/readme_figures.py --write`")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
