"""The benchmarks' shared harness: goals as data, the JSON it writes, the exit status, the Markdown."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
while not (REPO / "pyproject.toml").exists():
    REPO = REPO.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import Benchmark, Goal, load_result, machine_facts, render_markdown  # noqa: E402


@pytest.mark.parametrize(
    ("measured", "bar", "comparison", "met"),
    [
        (2.5e6, 2e6, ">=", True),
        (2e6, 2e6, ">=", True),
        (1.9e6, 2e6, ">=", False),
        (0.04, 0.05, "<=", True),
        (0.06, 0.05, "<=", False),
        (math.nan, 1.0, ">=", False),
        (math.nan, 1.0, "<=", False),
    ],
)
def test_a_goal_is_met_only_on_the_right_side_of_its_bar(measured, bar, comparison, met) -> None:
    assert Goal("g", measured, bar, "unit", comparison).met is met


def test_a_goal_with_another_comparison_is_refused() -> None:
    with pytest.raises(ValueError, match="comparison"):
        Goal("g", 1.0, 1.0, "s", "<")


def test_the_machine_facts_name_the_cpus_the_load_the_commit_and_the_versions() -> None:
    facts = machine_facts()
    assert facts["cpu_count"] >= 1
    assert len(facts["load_before"]) == 3
    assert facts["commit"] is None or len(facts["commit"]) == 40
    assert facts["packages"]["numpy"]  # installed with the project
    assert facts["packages"]["numpy"] == __import__("numpy").__version__


def test_the_result_is_written_as_json_with_its_goals_tables_and_data(tmp_path: Path) -> None:
    bench = Benchmark("example", "An example", results=tmp_path)
    bench.table("rates", ["size", "events/s"], [[1000, "2,000,000"]], note="one core")
    bench.goal("rate", 2e6, 1e6, "events/s")
    bench.goal("peak", math.nan, 4096, "MB", "<=")
    bench.record(sizes=[1000], raw={"seconds": math.inf})
    assert bench.finish() == 1  # the NaN peak meets nothing

    result = json.loads((tmp_path / "example.json").read_text())
    assert result["benchmark"] == "example"
    assert result["tables"] == [
        {"title": "rates", "columns": ["size", "events/s"], "rows": [["1000", "2,000,000"]], "note": "one core"}
    ]
    assert [(g["name"], g["met"]) for g in result["goals"]] == [("rate", True), ("peak", False)]
    assert result["goals"][1]["measured"] is None  # JSON has no NaN
    assert result["data"] == {"sizes": [1000], "raw": {"seconds": None}}
    assert result["all_goals_met"] is False
    assert set(result["machine"]) >= {"date", "cpu_count", "cpu_model", "load_before", "load_after", "commit"}
    assert load_result("example", tmp_path) == result
    assert load_result("absent", tmp_path) is None


def test_a_script_exits_1_when_a_goal_is_missed_and_0_when_all_are_met(tmp_path: Path) -> None:
    script = tmp_path / "bench_example.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(REPO / "benchmarks")!r})
            from harness import Benchmark
            with Benchmark("example", "An example") as bench:
                bench.goal("rate", float(sys.argv[1]), 10, "events/s")
            """
        )
    )
    environment = {"POPPY_BENCH_RESULTS": str(tmp_path / "results"), "PATH": "/usr/bin:/bin"}
    missed = subprocess.run([sys.executable, script, "5"], env=environment, capture_output=True, text=True)
    assert missed.returncode == 1, missed.stderr
    assert "goals missed: rate" in missed.stdout
    assert json.loads((tmp_path / "results" / "example.json").read_text())["arguments"] == ["5"]
    met = subprocess.run([sys.executable, script, "50"], env=environment, capture_output=True, text=True)
    assert met.returncode == 0, met.stderr


def test_a_benchmark_that_raises_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), Benchmark("broken", "Broken", results=tmp_path) as bench:
        bench.goal("rate", 1, 0, "events/s")
        raise RuntimeError("the measurement failed")
    assert not (tmp_path / "broken.json").exists()


def test_the_markdown_shows_the_machine_the_goals_and_the_tables(tmp_path: Path) -> None:
    bench = Benchmark("example", "An example", results=tmp_path)
    bench.table("rates", ["size", "p | q"], [["1,000", "2,000,000"]])
    bench.goal("rate", 2_000_000, 1_000_000, "events/s")
    bench.goal("ratio", 2.5, 2, "×", "<=")
    bench.finish()
    text = render_markdown(load_result("example", tmp_path))
    assert "load average" in text and "commit" in text
    assert "| rate | 2,000,000 events/s | ≥ 1,000,000 events/s | yes |" in text
    assert "| ratio | 2.5× | ≤ 2× | **no** |" in text
    assert "| size | p \\| q |" in text  # a pipe in a cell does not split the column
    assert "| 1,000 | 2,000,000 |" in text


def test_results_of_another_format_are_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        render_markdown({"format": 99, "benchmark": "old"})


def test_the_readmes_measured_table_is_the_committed_results() -> None:
    """README.md's figures are rendered from benchmarks/results/ (`readme_figures.py --write`), never typed."""
    from readme_figures import README, rendered_readme

    text = README.read_text()
    assert rendered_readme(text) == text, "run .venv/bin/python benchmarks/readme_figures.py --write"


def test_the_readmes_table_shows_the_worst_goal_of_a_result_and_says_what_is_missing(tmp_path: Path) -> None:
    from readme_figures import END, START, rows

    bench = Benchmark("service", "The service", results=tmp_path)
    bench.goal("cached p50, 20 clients (gzip)", 40, 100, "ms", "<=")
    bench.goal("cached p50, 20 clients (gzip), again", 140, 100, "ms", "<=")
    bench.write()
    table = "\n".join(rows(tmp_path))
    assert "| the service's `cached` answer of 10,000 rows, p50 (20 clients) | 140 ms | ≤ 100 ms | **no** |" in table
    assert "not measured yet (`benchmarks/results/cli.json`)" in table
    assert START.startswith("<!--") and END.startswith("<!--")
