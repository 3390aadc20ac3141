"""The documentation's hooks: benchmark tables rendered from results, and links outside the site checked."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
while not (REPO / "pyproject.toml").exists():
    REPO = REPO.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import Benchmark  # noqa: E402


def hook(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", REPO / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchmark_tables = hook("benchmark_tables")
repository_links = hook("repository_links")


def test_every_result_the_docs_name_is_written_by_a_benchmark() -> None:
    markers = set()
    for page in (REPO / "docs").rglob("*.md"):
        markers.update(benchmark_tables.MARKER.findall(page.read_text()))
    assert markers, "no page renders a benchmark"
    assert markers <= benchmark_tables.known_benchmarks()


def test_a_marker_becomes_the_committed_result(tmp_path: Path) -> None:
    bench = Benchmark("simulation", "The simulation", results=tmp_path)
    bench.table("rates", ["events", "events/s"], [["1,000", "4,065,705"]])
    bench.goal("in memory", 4_065_705, 2_000_000, "events/s")
    bench.finish()
    text = benchmark_tables.rendered("simulation", "benchmarks.md", tmp_path)
    assert "| 1,000 | 4,065,705 |" in text
    assert "| in memory | 4,065,705 events/s | ≥ 2,000,000 events/s | yes |" in text
    commit = json.loads((tmp_path / "simulation.json").read_text())["machine"]["commit"]
    assert f"commit {(commit or 'unknown')[:10]}" in text


def test_a_benchmark_not_run_yet_says_so(tmp_path: Path) -> None:
    text = benchmark_tables.rendered("simulation", "benchmarks.md", tmp_path)
    assert "Not measured yet" in text and "benchmarks/results/simulation.json" in text


def test_a_marker_naming_no_benchmark_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert benchmark_tables.rendered("no_such_bench", "benchmarks.md", tmp_path) == ""
    assert "names no benchmark" in caplog.text


def test_relative_links_outside_the_site_must_lead_somewhere(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Time zones\n\n```\n# not a heading\n```\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/page.md) [anchor](docs/page.md#time-zones) [web](https://example.org/x) [self](#top)\n"
        "[gone](docs/gone.md) [bad anchor](docs/page.md#not-a-heading)\n\n# Top\n"
        "```\n[in a fence](docs/fenced.md)\n```\n"
    )
    assert repository_links.broken_links(tmp_path / "README.md", tmp_path) == [
        "README.md: the link docs/gone.md names docs/gone.md, which does not exist",
        "README.md: the link docs/page.md#not-a-heading names #not-a-heading, which is no heading of docs/page.md",
    ]


def test_the_repository_s_own_markdown_has_no_broken_link() -> None:
    problems = [p for name in repository_links.CHECKED for p in repository_links.broken_links(REPO / name)]
    assert problems == []
