"""MkDocs hook: a page's `<!-- benchmark: NAME -->` becomes the tables of benchmarks/results/NAME.json.

The figures on the benchmarks page are the ones a run wrote (`benchmarks/harness.py`), with the
machine, load and commit they were measured at; none is typed by hand. A benchmark that has not
been run and committed yet says so, with the command that produces it. A marker naming a
benchmark that no script writes is a warning, so `mkdocs build --strict` fails on it.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import RESULTS, load_result, render_markdown  # noqa: E402 (benchmarks/ is not a package)

MARKER = re.compile(r"<!--\s*benchmark:\s*([a-z_]+)\s*-->")
log = logging.getLogger("mkdocs.hooks.benchmark_tables")


def known_benchmarks() -> set[str]:
    """The result names the scripts write: `Benchmark("<name>", ...)` in benchmarks/*.py."""
    names = set()
    for script in (REPO / "benchmarks").glob("*.py"):
        names.update(re.findall(r'Benchmark\(\s*f?"([a-z_{}.]+)"', script.read_text()))
    # bench_cli.py names its result after the scenarios it ran: cli (both), cli_run or cli_day (--only).
    if (REPO / "benchmarks" / "bench_cli.py").exists():
        names.update({"cli", "cli_run", "cli_day"})
    return names


def rendered(name: str, page: str, results: Path = RESULTS) -> str:
    """The Markdown standing for `<!-- benchmark: name -->` on `page`."""
    if name not in known_benchmarks():
        log.warning(f"{page}: <!-- benchmark: {name} --> names no benchmark in benchmarks/*.py")
        return ""
    result = load_result(name, results)
    if result is None:
        return (
            f'!!! note "Not measured yet"\n    `benchmarks/results/{name}.json` is not committed yet: run the'
            " benchmark (see its script's docstring) on a quiet machine and commit the file it writes."
        )
    return render_markdown(result)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda match: rendered(match.group(1), page.file.src_uri), markdown)


def on_serve(server, config, builder):
    server.watch(str(RESULTS))
    return server
